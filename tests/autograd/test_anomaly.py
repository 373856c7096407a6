"""detect_anomaly: a nan gradient names the op and the forward line that created it."""

from __future__ import annotations

import pytest

import ember
from ember import autograd


def test_nan_gradient_names_op_and_forward_trace() -> None:
    x = ember.tensor([0.0, 2.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt() * 0  # d sqrt at 0 is inf; times 0 gives nan
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "Function 'SqrtBackward' returned nan values in its 0th output." in message
    assert "y = x.sqrt() * 0" in message and "test_anomaly.py" in message
    assert "ember/ops" not in message  # only the user's frames


def test_anomaly_off_by_default_and_restored() -> None:
    assert not autograd.anomaly.is_anomaly_enabled()
    x = ember.tensor([0.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()
    assert x.grad.isnan().all().item()
    with autograd.detect_anomaly():
        assert autograd.anomaly.is_anomaly_enabled()
    assert not autograd.anomaly.is_anomaly_enabled()


def test_forward_outside_anomaly_mode_still_reports_op() -> None:
    x = ember.tensor([0.0], requires_grad=True)
    y = x.sqrt() * 0
    with (
        autograd.detect_anomaly(),
        pytest.raises(RuntimeError, match="(?s)SqrtBackward.*not recorded"),
    ):
        y.sum().backward()


def test_set_detect_anomaly() -> None:
    autograd.set_detect_anomaly(True)
    try:
        assert autograd.anomaly.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not autograd.anomaly.is_anomaly_enabled()
