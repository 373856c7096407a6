"""``add_embedding``'s files for TensorBoard's projector: the vectors and labels as TSV, an
optional sprite of label images, and an entry in the log directory's projector config."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from ember.io.png import encode_png
from ember.utils.tensorboard.images import tile

__all__ = ["write_embedding", "CONFIG_NAME"]

CONFIG_NAME = "projector_config.pbtxt"


def _metadata_lines(metadata: Sequence[Any], header: Sequence[str] | None) -> list[str]:
    """One label per line, or with ``header`` a header row and tab-separated columns."""
    if header is None:
        return [str(label) for label in metadata]
    rows = [header, *metadata]
    return ["\t".join(str(v) for v in row) for row in rows]


def write_embedding(
    log_dir: Path,
    subdir: str,
    tensor_name: str,
    mat: np.ndarray,
    metadata: Sequence[Any] | None,
    label_img: np.ndarray | None,
    metadata_header: Sequence[str] | None,
) -> None:
    """Write ``mat`` [N, D] (and its labels and [N, H, W, C] images) under ``log_dir/subdir``
    and register it in ``log_dir``'s projector config (replacing an entry of the same name)."""
    if mat.ndim != 2:
        raise ValueError(f"add_embedding: mat must be [N, D], got shape {mat.shape}")
    out = log_dir / subdir
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "tensors.tsv", mat, delimiter="\t", fmt="%.9g")
    config = ProjectorConfig()
    path = log_dir / CONFIG_NAME
    if path.exists():
        text_format.Parse(path.read_text(), config)
    kept = [e for e in config.embeddings if e.tensor_name != tensor_name]
    del config.embeddings[:]
    config.embeddings.extend(kept)
    entry = config.embeddings.add(tensor_name=tensor_name, tensor_path=f"{subdir}/tensors.tsv")
    if metadata is not None:
        if len(metadata) != len(mat):
            raise ValueError(f"add_embedding: {len(metadata)} labels for {len(mat)} vectors")
        lines = _metadata_lines(metadata, metadata_header)
        (out / "metadata.tsv").write_text("\n".join(lines) + "\n")
        entry.metadata_path = f"{subdir}/metadata.tsv"
    if label_img is not None:
        if len(label_img) != len(mat):
            raise ValueError(f"add_embedding: {len(label_img)} images for {len(mat)} vectors")
        (out / "sprite.png").write_bytes(encode_png(tile(label_img)))
        entry.sprite.image_path = f"{subdir}/sprite.png"
        entry.sprite.single_image_dim.extend(label_img.shape[2:0:-1])  # width, height
    path.write_text(text_format.MessageToString(config))
