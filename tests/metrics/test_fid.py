"""ember FID: the Fréchet distance against SciPy's sqrtm, self-distance ≈ 0, growth with noise,
class coverage and the cached classifier."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from ember.metrics import FeatureExtractor, feature_statistics, fid, frechet_distance
from ember.models.cnn import CNN
from ember.train import checkpoint


def _reference(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 6)), rng.standard_normal((200, 6)) @ rng.random((6, 6)) + 0.3
    stats = (*feature_statistics(a), *feature_statistics(b))
    assert frechet_distance(*stats) == pytest.approx(_reference(*stats), rel=1e-8)
    np.testing.assert_allclose(stats[1], np.cov(a.T))


def test_identical_gaussians_and_a_pure_shift():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((50, 80))  # fewer samples than dims: a singular covariance
    mu, sigma = feature_statistics(f)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8 * np.trace(sigma)
    assert frechet_distance(mu, sigma, mu + 2.0, sigma) == pytest.approx(4.0 * 80, rel=1e-8)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    extractor = FeatureExtractor(CNN(), accuracy=None)  # untrained: any fixed feature map works
    rng = np.random.default_rng(2)
    real = rng.random((64, 1, 28, 28), dtype=np.float32)
    assert fid(real, real, extractor).fid < 1e-6
    scores = [
        fid(real, np.clip(real + s * rng.standard_normal(real.shape), 0, 1), extractor).fid
        for s in (0.05, 0.2, 0.5)
    ]
    assert 0 < scores[0] < scores[1] < scores[2]


def test_class_histogram_counts_every_sample():
    extractor = FeatureExtractor(CNN())
    imgs = np.random.default_rng(3).random((30, 28, 28), dtype=np.float32)  # [N, H, W] accepted
    feats, preds = extractor(imgs, batch_size=7)
    assert feats.shape == (30, 128) and preds.shape == (30,)
    assert (feats >= 0).all()  # after the ReLU
    result = fid(imgs, imgs, extractor)
    assert sum(result.class_counts) == 30 and len(result.class_counts) == 10
    assert result.classes_covered == len(set(preds.tolist()))
    assert "not Inception" in result.to_dict()["feature_space"]


def test_cached_classifier_is_loaded_with_its_accuracy(tmp_path, monkeypatch):
    path = tmp_path / "fid" / "cnn-fashion-mnist.safetensors"
    path.parent.mkdir()
    model = CNN()
    checkpoint.save(path, model, extra={"accuracy": 0.91})
    monkeypatch.setenv("EMBER_CACHE", str(tmp_path))
    ext = FeatureExtractor.load(train_if_missing=False)
    assert ext.accuracy == 0.91 and ext.source == str(path)
    x = np.random.default_rng(4).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(ext(x)[0], FeatureExtractor(model)(x)[0])


def test_errors():
    with pytest.raises(FileNotFoundError, match="no classifier at .*\nhint: call"):
        FeatureExtractor.load("/nonexistent/cnn.safetensors", train_if_missing=False)
    with pytest.raises(ValueError, match=r"mismatched statistics"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"expected \[N >= 2, d\] features, got \(1, 5\)"):
        feature_statistics(np.zeros((1, 5)))
