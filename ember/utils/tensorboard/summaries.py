"""``Summary`` protobufs for one value each: scalars, histograms, images and text."""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata

from ember.io.png import encode_png

__all__ = ["scalar", "histogram", "image", "text"]

Summary = summary_pb2.Summary


def scalar(tag: str, value: float, new_style: bool = False, double: bool = False) -> Summary:
    """A scalar; ``new_style`` stores it as a tensor with the scalars plugin's metadata (in
    float64 when ``double``), the older form as ``simple_value``."""
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_DOUBLE if double else types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
    )
    (tensor.double_val if double else tensor.float_val).append(value)
    meta = scalar_metadata.create_summary_metadata(display_name="", description="")
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])


def _tensorflow_edges() -> np.ndarray:
    """TensorFlow's default bucket edges: ±1e-12 growing by 10% up to ±1e20, and 0."""
    positive = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))) + 1)
    return np.concatenate([-positive[::-1], [0.0], positive])


def histogram(
    tag: str, values: np.ndarray, bins: str | int = "tensorflow", max_bins: int | None = None
) -> Summary:
    """A histogram of ``values``: ``bins`` is "tensorflow" (exponential buckets), a count or
    any of NumPy's bin rules ("auto", "fd" …); ``max_bins`` merges neighbouring buckets."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"add_histogram {tag!r}: values must be non-empty and finite")
    edges = _tensorflow_edges() if bins == "tensorflow" else bins
    counts, edges = np.histogram(x, bins=edges)
    if bins == "tensorflow":  # keep the buckets from the first to the last non-empty one
        used = np.flatnonzero(counts)
        counts, edges = counts[used[0] : used[-1] + 1], edges[used[0] : used[-1] + 2]
    limits = edges[1:]
    if max_bins is not None and len(counts) > max_bins:
        group = -(-len(counts) // max_bins)
        starts = np.arange(0, len(counts), group)
        counts = np.add.reduceat(counts, starts)
        limits = limits[np.minimum(starts + group, len(limits)) - 1]
    proto = summary_pb2.HistogramProto(
        min=float(x.min()),
        max=float(x.max()),
        num=float(x.size),
        sum=float(x.sum()),
        sum_squares=float(x @ x),
        bucket_limit=limits.tolist(),
        bucket=counts.astype(np.float64).tolist(),
    )
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def image(tag: str, hwc: np.ndarray) -> Summary:
    """One uint8 image [H, W, C] as a PNG."""
    h, w, c = hwc.shape
    proto = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(hwc))
    return Summary(value=[Summary.Value(tag=tag, image=proto)])


def text(tag: str, string: str) -> Summary:
    """A text (TensorBoard renders it as Markdown)."""
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        string_val=[string.encode()],
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
        ),
    )
    meta = text_metadata.create_summary_metadata(display_name="", description="")
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])
