"""Fréchet distance in the feature space of ember's Fashion-MNIST classifier ("ember FID").

What the number is: fit a Gaussian (mean μ, covariance Σ) to the 128-d penultimate-layer
activations (after ReLU, eval mode) of the ``cnn`` model trained on Fashion-MNIST, once for
real and once for generated images, and report

    ‖μ_r − μ_g‖² + tr(Σ_r) + tr(Σ_g) − 2·tr((Σ_r Σ_g)^½).

The matrix square root is taken in the symmetric form tr((Σ_r^½ Σ_g Σ_r^½)^½), both roots by
eigendecomposition in float64 NumPy with tiny negative eigenvalues (round-off) clamped to 0.

What it is comparable with: only other ember-FID numbers computed with the SAME classifier
checkpoint (its test accuracy is reported with every score; a retrained classifier gives a
different feature space), the same real reference set and the same number of samples (FID is
biased upward for small sample counts). It is NOT Inception FID (2048-d pool features of an
ImageNet network on resized RGB images): numbers from papers that use Inception, or the
"MNIST classifier FID" of other codebases, are on a different scale and cannot be compared.
Lower is better; the real test set against the real training set gives the noise floor.

Alongside it, the classifier's predicted-class histogram of the generated images measures
mode coverage (a generator that collapses onto a few classes covers fewer than 10).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ember.autograd import no_grad
from ember.config import cache_root
from ember.creation import from_host
from ember.models.cnn import CNN
from ember.tensor import Tensor
from ember.train import checkpoint

__all__ = ["FeatureExtractor", "FIDResult", "feature_statistics", "frechet_distance", "fid"]

# the normalisation the classifier was trained with (ember.train.classifier)
MEAN, STD = 0.2860, 0.3530
CLASSIFIER_EPOCHS = 3


def default_path() -> Path:
    """``fid/cnn-fashion-mnist.safetensors`` in the cache folder (``cache_root()``:
    ``$EMBER_CACHE``, default ``~/.cache/ember``)."""
    return cache_root() / "fid" / "cnn-fashion-mnist.safetensors"


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix (negative round-off clamped)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != mu1.shape * 2:
        raise ValueError(
            f"frechet_distance: mismatched statistics: μ {mu1.shape}, {mu2.shape}; "
            f"Σ {s1.shape}, {s2.shape} vs μ (d,), Σ (d, d)"
        )
    r1 = _sqrt_psd(s1)
    cross = np.linalg.eigvalsh((r1 @ s2 @ r1 + (r1 @ s2 @ r1).T) / 2)
    tr_sqrt = np.sqrt(np.clip(cross, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt, 0.0))


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``features`` [N, d], float64."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"feature_statistics: expected [N >= 2, d] features, got {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


class FeatureExtractor:
    """The ``cnn`` classifier's 128-d penultimate activations and class predictions."""

    def __init__(self, model: CNN, accuracy: float | None = None, source: str = "") -> None:
        self.model = model.eval()
        self.accuracy = accuracy  # the classifier's Fashion-MNIST test accuracy
        self.source = source

    def __call__(self, images: Any, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features [N, 128] float64, predicted classes [N]) of images [N, 1, 28, 28] in [0, 1]."""
        arr = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
        if arr.ndim == 3:
            arr = arr[:, None]
        feats, preds = [], []
        m = self.model
        with no_grad():
            for i in range(0, len(arr), batch_size):
                x = from_host(((arr[i : i + batch_size] - MEAN) / STD).astype(np.float32))
                x = m.pool(m.conv2(m.conv1(x).relu()).relu()).flatten(1)
                h = m.fc1(x).relu()  # [B, 128]: the feature space
                feats.append(h.numpy().astype(np.float64))
                preds.append(m.fc2(h).argmax(1).numpy())
        return np.concatenate(feats), np.concatenate(preds)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        train_if_missing: bool = True,
        epochs: int = CLASSIFIER_EPOCHS,
        quiet: bool = True,
    ) -> FeatureExtractor:
        """The cached classifier; trained with ``ember train cnn`` machinery if it is missing."""
        path = Path(path) if path is not None else default_path()
        if not path.exists():
            if not train_if_missing:
                raise FileNotFoundError(
                    f"fid: no classifier at {path}\nhint: call FeatureExtractor.load() with "
                    "train_if_missing=True once (a few minutes) to train and cache it"
                )
            cls._train(path, epochs, quiet)
        ckpt = checkpoint.read(path)
        model = CNN()
        model.load_state_dict(ckpt["model"])
        return cls(model, ckpt["extra"]["accuracy"], str(path))

    @staticmethod
    def _train(path: Path, epochs: int, quiet: bool) -> None:
        from ember.train.session import train

        with tempfile.TemporaryDirectory() as tmp:
            summary = train("cnn", {"epochs": epochs}, out=tmp, quiet=quiet)
            model = CNN()
            model.load_state_dict(checkpoint.read(Path(tmp) / "checkpoint.safetensors")["model"])
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {"accuracy": summary["test_accuracy"], "epochs": epochs, "seed": 0}
        checkpoint.save(path, model, epoch=epochs, extra=extra)


@dataclass
class FIDResult:
    """An ember-FID score with everything needed to judge it (see the module docstring)."""

    fid: float
    n_real: int
    n_fake: int
    class_counts: list[int]  # the classifier's predicted-class histogram of the fake set
    classes_covered: int  # classes predicted for at least one fake image
    classifier_accuracy: float | None
    feature_space: str = "ember cnn (Fashion-MNIST) penultimate layer, 128-d; not Inception"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fid(real: Any, fake: Any, extractor: FeatureExtractor, num_classes: int = 10) -> FIDResult:
    """ember FID between image sets ``real`` and ``fake`` ([N, 1, 28, 28] in [0, 1])."""
    real_feats, _ = extractor(real)
    fake_feats, fake_pred = extractor(fake)
    score = frechet_distance(*feature_statistics(real_feats), *feature_statistics(fake_feats))
    counts = np.bincount(fake_pred, minlength=num_classes)
    return FIDResult(
        fid=score,
        n_real=len(real_feats),
        n_fake=len(fake_feats),
        class_counts=[int(c) for c in counts],
        classes_covered=int((counts > 0).sum()),
        classifier_accuracy=extractor.accuracy,
    )
