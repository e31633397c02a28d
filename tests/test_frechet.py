"""Fréchet distance and streaming feature statistics against independent computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from syncnet_eval.frechet import (
    FeatureStats,
    frechet_distance,
    frechet_from_stats,
    sample_size_warning,
    trace_sqrt_product,
)


def _gaussian(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A random mean and a random full-rank covariance."""
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


def _scipy_frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The definition written out with scipy's general matrix square root."""
    root = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(root).real)


@pytest.mark.parametrize("d", [1, 5, 64])
def test_frechet_distance_matches_scipy_sqrtm(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, s1 = _gaussian(rng, d)
    mu2, s2 = _gaussian(rng, d)
    expected = _scipy_frechet(mu1, s1, mu2, s2)
    assert expected > 0
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_commuting_covariances_has_a_closed_form() -> None:
    # Diagonal covariances: Tr (C1 C2)^(1/2) = sum sqrt(a_i b_i), so
    # d^2 = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    a, b = np.array([1.0, 4.0, 9.0, 0.0]), np.array([4.0, 4.0, 1.0, 2.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2 + 2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_a_set_against_itself_is_zero_even_when_the_covariance_is_singular() -> None:
    rng = np.random.default_rng(0)
    for n, d in ((500, 16), (10, 64)):  # full rank; rank 9 in 64 dimensions
        stats = FeatureStats()
        stats.add(rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d))
        value = frechet_from_stats(stats, stats)
        assert 0 <= value < 1e-9 * np.trace(stats.cov())


def test_singular_covariances_agree_with_the_eigenvalue_formula() -> None:
    # n < d (the FID-on-a-few-frames case): torch-fidelity's sum of sqrt(eigvals(C1 C2)),
    # written out here, against our symmetric route; the distance itself is well away from 0.
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 80)), rng.normal(loc=0.3, size=(9, 80)) * 2
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    expected = np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real.sum()
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-6)
    assert np.isfinite(frechet_distance(x.mean(0), s1, y.mean(0), s2))


def test_shapes_and_non_finite_values_are_refused() -> None:
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="do not fit"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, sigma, np.full(3, np.nan), sigma)


def test_streaming_stats_equal_the_one_shot_mean_and_covariance() -> None:
    rng = np.random.default_rng(2)
    rows = rng.normal(loc=1e3, scale=1e-2, size=(103, 7))  # a large mean: cancellation bait
    stats = FeatureStats()
    for start, stop in ((0, 1), (1, 40), (40, 40), (40, 103)):
        stats.add(rows[start:stop].astype(np.float32 if start == 1 else np.float64))
    one_shot = rows.copy()
    one_shot[1:40] = rows[1:40].astype(np.float32)
    assert stats.count == 103
    np.testing.assert_allclose(stats.mean(), one_shot.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov(), np.cov(one_shot, rowvar=False), rtol=1e-7)


def test_merge_and_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(50, 6))
    left, right = FeatureStats(6), FeatureStats(6)
    left.add(rows[:20])
    right.add(rows[20:])
    merged = left.merge(right)
    assert (left.count, right.count, merged.count) == (20, 30, 50)
    np.testing.assert_allclose(merged.mean(), rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.cov(), np.cov(rows, rowvar=False), rtol=1e-12)
    np.savez(tmp_path / "stats.npz", **merged.to_arrays())  # type: ignore[arg-type]
    with np.load(tmp_path / "stats.npz") as saved:
        back = FeatureStats.from_arrays(saved)
    assert back.count == 50
    np.testing.assert_allclose(back.cov(), merged.cov(), rtol=1e-12)
    assert frechet_from_stats(back, merged) < 1e-12
    with pytest.raises(ValueError, match="merge 6-d and 5-d"):
        merged.merge(FeatureStats(5))


def test_too_few_vectors_for_a_covariance() -> None:
    stats = FeatureStats()
    with pytest.raises(ValueError, match="undefined"):
        stats.mean()
    stats.add(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        stats.cov()
    with pytest.raises(ValueError, match="columns"):
        stats.add(np.ones((2, 4)))


def test_sample_size_warning_below_the_dimension() -> None:
    message = sample_size_warning(100, 2048)
    assert message is not None and "100 feature vectors" in message and "2048" in message
    assert "\n" not in message
    assert sample_size_warning(2048, 2048) is None
