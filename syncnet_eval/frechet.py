"""Fréchet distance between Gaussians fitted to two sets of feature vectors (FID, FVD).

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium" (NeurIPS), Sec. 5 "Experiments", "Performance Measure", Eq. (6): with
``(m, C)`` and ``(m_w, C_w)`` the means and covariances of two feature sets,

    d^2 = ||m - m_w||_2^2 + Tr(C + C_w - 2 (C C_w)^(1/2)).

The statistics are accumulated in float64 one batch at a time (:class:`FeatureStats`, Chan et
al.'s pairwise update, so a set never has to be held whole), the covariance unbiased (divided by
``n - 1``, as ``numpy.cov``, which pytorch-fid and torch-fidelity call).

The trace of the matrix square root is the delicate part. ``C C_w`` is not symmetric, and with
fewer feature vectors than dimensions (n <= d) both covariances are singular, so
``scipy.linalg.sqrtm(C @ C_w)`` (pytorch-fid, clean-fid) can return complex or non-finite
values (pytorch-fid then retries with 1e-6 added to both diagonals, and drops an imaginary
part below 1e-3), and ``sqrt(eigvals(C @ C_w))`` (torch-fidelity, torchmetrics) takes square
roots of rounding noise. We use the identity ``Tr (C C_w)^(1/2) = Tr (S C_w S)^(1/2)`` with
``S = C^(1/2)`` (``C C_w = S (S C_w)`` and ``S C_w S = (S C_w) S`` have the same eigenvalues):
``S`` from a symmetric eigendecomposition of ``C``, then the eigenvalues of the symmetric
positive semi-definite ``S C_w S``, restricted to the range of ``C`` (eigenvalues of ``C``
within rounding of zero are dropped: with n vectors its rank is at most n - 1, and the small
problem is much cheaper); eigenvalues that rounding pushed below zero (they are zero in exact
arithmetic) are clipped to zero. Everything stays real and symmetric, no offset is
added, and no imaginary part is thrown away. A result that rounding puts below zero (equal
sets) is returned as 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "FeatureStats",
    "frechet_distance",
    "frechet_from_stats",
    "sample_size_warning",
    "trace_sqrt_product",
]


class FeatureStats:
    """Streaming mean and covariance of feature vectors, in float64.

    Args:
        dim: feature dimension; taken from the first :meth:`add` when ``None``.

    Attributes:
        count: number of feature vectors added.
    """

    def __init__(self, dim: int | None = None) -> None:
        self.count = 0
        self._dim = dim
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None  # sum of outer products of deviations from the mean

    @property
    def dim(self) -> int | None:
        """Feature dimension (``None`` before the first vector when not given)."""
        return self._dim

    def add(self, x: np.ndarray) -> None:
        """Add (n, d) feature rows (any float dtype; accumulated in float64).

        Raises:
            ValueError: ``x`` is not 2-D, its width is not the dimension, or it is not finite.
        """
        rows = np.asarray(x, dtype=np.float64)
        if rows.ndim != 2:
            raise ValueError(f"features must be (n, d) rows, got shape {rows.shape}")
        if self._dim is not None and rows.shape[1] != self._dim:
            raise ValueError(f"features have {rows.shape[1]} columns, expected {self._dim}")
        if rows.shape[0] == 0:
            return
        if not np.isfinite(rows).all():
            raise ValueError("features hold NaN or infinity")
        mean = rows.mean(axis=0)
        centred = rows - mean
        self._combine(rows.shape[0], mean, centred.T @ centred)

    def _combine(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Chan, Golub and LeVeque's pairwise update of (count, mean, M2)."""
        if self._mean is None or self._m2 is None:
            self.count, self._dim = n, mean.shape[0]
            self._mean, self._m2 = mean.copy(), m2.copy()
            return
        total = self.count + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + np.outer(delta, delta) * (self.count * n / total)
        self.count = total

    def mean(self) -> np.ndarray:
        """(d,) float64 mean.

        Raises:
            ValueError: no vector was added.
        """
        if self._mean is None:
            raise ValueError("no feature vectors: the mean is undefined")
        mean: np.ndarray = self._mean.copy()
        return mean

    def cov(self) -> np.ndarray:
        """(d, d) float64 unbiased covariance (divided by ``count - 1``, as ``numpy.cov``).

        Raises:
            ValueError: fewer than two vectors were added.
        """
        if self._m2 is None or self.count < 2:
            raise ValueError(f"{self.count} feature vector(s): a covariance needs at least 2")
        cov: np.ndarray = self._m2 / (self.count - 1)
        return cov

    def merge(self, other: FeatureStats) -> FeatureStats:
        """The statistics of both sets together (a new object; neither operand changes).

        Raises:
            ValueError: the dimensions differ.
        """
        if self._dim is not None and other._dim is not None and self._dim != other._dim:
            raise ValueError(f"cannot merge {self._dim}-d and {other._dim}-d statistics")
        merged = FeatureStats(self._dim if self._dim is not None else other._dim)
        for part in (self, other):
            if part._mean is not None and part._m2 is not None:
                merged._combine(part.count, part._mean, part._m2)
        return merged

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"count": () int64, "mu": (d,), "sigma": (d, d)}`` for ``numpy.savez``.

        ``mu`` and ``sigma`` are the names pytorch-fid's ``.npz`` statistics use; ``sigma`` is
        the unbiased covariance (zeros for a single vector, whose spread is zero).

        Raises:
            ValueError: no vector was added.
        """
        if self._mean is None or self._m2 is None:
            raise ValueError("no feature vectors to save")
        sigma = self._m2 / (self.count - 1) if self.count > 1 else np.zeros_like(self._m2)
        return {"count": np.array(self.count, dtype=np.int64), "mu": self._mean, "sigma": sigma}

    @classmethod
    def from_arrays(cls, arrays: Any) -> FeatureStats:
        """Statistics saved by :meth:`to_arrays` (a dict, or an ``np.load`` of the ``.npz``).

        Raises:
            ValueError: a key is missing or the shapes do not fit.
        """
        missing = [k for k in ("count", "mu", "sigma") if k not in arrays]
        if missing:
            raise ValueError(f"feature statistics lack {', '.join(missing)}")
        count = int(np.asarray(arrays["count"]))
        mu = np.asarray(arrays["mu"], dtype=np.float64)
        sigma = np.asarray(arrays["sigma"], dtype=np.float64)
        if count < 1 or mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"feature statistics do not fit: count {count}, mu {mu.shape}, sigma {sigma.shape}"
            )
        stats = cls(mu.shape[0])
        stats._combine(count, mu, sigma * (count - 1))
        return stats


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr (sigma1 sigma2)^(1/2)`` for two symmetric positive semi-definite matrices.

    Computed as ``Tr (S sigma2 S)^(1/2)`` with ``S = sigma1^(1/2)``, both by symmetric
    eigendecompositions, restricted to ``sigma1``'s range (eigenvalues within rounding of zero
    dropped), eigenvalues below zero (rounding) clipped to zero; see the module docstring.
    """
    a = _symmetric(sigma1)
    b = _symmetric(sigma2)
    values, vectors = np.linalg.eigh(a)
    # Only sigma1's range counts: eigenvalues within rounding of zero are zero (a covariance of
    # n < d vectors has rank n - 1), and dropping them shrinks S C_w S from d x d to r x r
    # (with F = V_r diag(sqrt(w_r)), S C_w S and F^T C_w F have the same nonzero eigenvalues).
    keep = values > values.max(initial=0.0) * a.shape[0] * np.finfo(np.float64).eps
    factor = vectors[:, keep] * np.sqrt(values[keep])
    inner = _symmetric(factor.T @ b @ factor)
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0.0, None)).sum())


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    result: np.ndarray = (m + m.T) / 2
    return result


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel Eq. 6).

    Args:
        mu1, mu2: (d,) means.
        sigma1, sigma2: (d, d) covariances (symmetric positive semi-definite).

    Returns:
        ``||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr (sigma1 sigma2)^(1/2)``, >= 0
        (a rounding residue below zero is returned as 0).

    Raises:
        ValueError: the shapes do not agree or a value is not finite.
    """
    m1 = np.asarray(mu1, dtype=np.float64)
    m2 = np.asarray(mu2, dtype=np.float64)
    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m1.shape != (d,) or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"means and covariances do not fit: mu1 {m1.shape}, sigma1 {s1.shape}, "
            f"mu2 {m2.shape}, sigma2 {s2.shape}"
        )
    if not all(np.isfinite(a).all() for a in (m1, m2, s1, s2)):
        raise ValueError("means or covariances hold NaN or infinity")
    diff = m1 - m2
    value = (
        float(diff @ diff)
        + float(np.trace(s1))
        + float(np.trace(s2))
        - 2.0 * trace_sqrt_product(s1, s2)
    )
    return max(value, 0.0)


def frechet_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    """:func:`frechet_distance` of two sets' statistics.

    Raises:
        ValueError: a set has fewer than two vectors, or the dimensions differ.
    """
    return frechet_distance(a.mean(), a.cov(), b.mean(), b.cov())


def sample_size_warning(count: int, dim: int) -> str | None:
    """A one-line warning when ``count`` feature vectors are too few for a ``dim``-d FID.

    With ``count <= dim`` the covariance has rank at most ``count - 1`` and the distance is
    dominated by the estimation bias, which grows as the sample shrinks (Chong & Forsyth 2020,
    "Effectively Unbiased FID and Inception Score and where to find them", Sec. 3: FID is biased
    and the bias depends on the generator, so values from different ``count`` are not
    comparable). The published protocols use 10,000-50,000 images.

    Returns:
        The warning, or ``None`` when ``count >= dim``.
    """
    if count >= dim:
        return None
    return (
        f"Fréchet distance from {count} feature vectors, fewer than the {dim} dimensions: the "
        f"covariance is singular (rank <= {max(count - 1, 0)}) and the value is strongly biased "
        f"upwards; compare only values computed from the same number of vectors"
    )
