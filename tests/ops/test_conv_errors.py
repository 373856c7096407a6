"""Conv/pool family: user mistakes raise clear errors naming the op, the values and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.ops import conv as F
from ember.ops import max_pool


def _t(*shape: int, dtype: str = "float32") -> ember.Tensor:
    return ember.tensor(np.ones(shape, dtype=dtype))


def test_wrong_input_ndim() -> None:
    with pytest.raises(
        ValueError,
        match=r"conv2d: expected 3-D \(unbatched\) or 4-D \(batched\) "
        r"input, got 5-D input of shape \(1, 1, 1, 4, 4\)",
    ):
        F.conv2d(_t(1, 1, 1, 4, 4), _t(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"max_pool1d: expected 2-D \(unbatched\) or 3-D"):
        max_pool.max_pool1d(_t(4), 2)


def test_wrong_weight_ndim() -> None:
    with pytest.raises(ValueError, match=r"conv1d: expected weight to be 3-D .* got \(2, 3\)"):
        F.conv1d(_t(1, 3, 8), _t(2, 3))


def test_channel_mismatch_names_in_channels_groups_and_shapes() -> None:
    with pytest.raises(
        ValueError,
        match=r"conv2d: input of shape \(2, 3, 8, 8\) has 3 channels but weight of shape "
        r"\(4, 2, 3, 3\) with groups=1 expects in_channels = 2: 3 vs 2",
    ):
        F.conv2d(_t(2, 3, 8, 8), _t(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"groups=2 expects in_channels = 4: 3 vs 4"):
        F.conv2d(_t(2, 3, 8, 8), _t(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: .* has 3 channels .* 2: 3 vs 2"):
        F.conv_transpose2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3))


def test_groups_must_divide_channels() -> None:
    with pytest.raises(
        ValueError,
        match=r"conv2d: out_channels must be divisible by groups: "
        r"5 vs groups=2",
    ):
        F.conv2d(_t(1, 4, 6, 6), _t(5, 2, 3, 3), groups=2)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose1d: in_channels must be divisible by "
        r"groups: 3 vs groups=2",
    ):
        F.conv_transpose1d(_t(1, 3, 5), _t(3, 2, 3), groups=2)


def test_kernel_larger_than_padded_input() -> None:
    with pytest.raises(
        ValueError,
        match=r"conv2d: kernel size \(with dilation\) is larger than "
        r"the padded input size: \(5, 5\) vs \(4, 4\)",
    ):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"\(5, 5\) vs \(4, 4\)"):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), dilation=2)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel size .* larger than the padded"):
        max_pool.max_pool2d(_t(1, 1, 2, 2), 3)


def test_bad_padding() -> None:
    with pytest.raises(
        ValueError,
        match=r"conv2d: invalid padding string 'full': expected "
        r"'valid' or 'same'",
    ):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), padding="full")
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), padding="same", stride=2)
    with pytest.raises(
        ValueError,
        match=r"expected padding to be a single integer or a list "
        r"of 2 values, got \(1, 2, 3\)",
    ):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), padding=(1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"max_pool2d: pad should be at most half of kernel "
        r"size: padding=\(2, 2\) vs kernel_size=\(3, 3\)",
    ):
        max_pool.max_pool2d(_t(1, 1, 6, 6), 3, padding=2)


def test_dtype_and_bias_mismatch() -> None:
    with pytest.raises(
        TypeError,
        match=r"conv2d: input and weight must have the same dtype: "
        r"float64 vs float32",
    ):
        F.conv2d(_t(1, 1, 4, 4, dtype="float64"), _t(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected bias of shape \(2,\)"):
        F.conv2d(_t(1, 1, 4, 4), _t(2, 1, 3, 3), _t(3))
    with pytest.raises(TypeError, match=r"conv2d: expected a floating point input, got int64"):
        F.conv2d(ember.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), _t(1, 1, 3, 3))


def test_transposed_output_padding_must_be_small() -> None:
    with pytest.raises(
        ValueError,
        match=r"output padding must be smaller than either stride or "
        r"dilation: output_padding=\(1, 1\) vs stride=\(1, 1\)",
    ):
        F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), output_padding=1)


def test_fold_shape_mismatch() -> None:
    with pytest.raises(
        ValueError,
        match=r"fold: input of shape \(1, 8, 5\) does not match "
        r"kernel_size \(2, 2\) and output_size \(4, 4\)",
    ):
        F.fold(_t(1, 8, 5), (4, 4), 2)
