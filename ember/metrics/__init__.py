"""Quality metrics for generative models.

Flow: ``FeatureExtractor.load()`` (a cached Fashion-MNIST ``cnn`` classifier, trained once) →
``fid(real, fake, extractor)`` → its 128-d penultimate features of both sets → Gaussian
statistics → ``frechet_distance``; the same classifier's predictions give the class histogram
(mode coverage) of the generated set.
"""

from __future__ import annotations

from ember.metrics.fid import (
    FeatureExtractor,
    FIDResult,
    feature_statistics,
    fid,
    frechet_distance,
)

__all__ = ["FeatureExtractor", "FIDResult", "feature_statistics", "fid", "frechet_distance"]
