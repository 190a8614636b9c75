"""How similar two representations of the same items are: SVCCA next to linear CKA.

Both compare paired representations (row ``i`` of each describes item ``i``) and may have
different dimensions, so they score a translation (translated vs. true target vectors) or two
encoders directly (before any alignment).

``linear_cka`` (Kornblith et al., 2019; :func:`semalign_core.evaluation.metrics.linear_cka`)
    invariant to orthogonal maps and isotropic scaling, not to general linear maps
``svcca`` (Raghu et al., 2017)
    each side is reduced to the top singular directions that keep ``keep`` of its variance, then
    the mean canonical correlation between the reduced sides; invariant to any invertible linear
    map of the kept directions

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 5))
>>> round(svcca(X, X @ rng.normal(size=(5, 5))), 6)   # any invertible linear map: 1
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..validation import check_matrix, check_paired
from .metrics import linear_cka

__all__ = ["canonical_correlations", "representation_similarity", "svcca"]


def _reduce(A: np.ndarray, keep: float | int, name: str) -> np.ndarray:
    """Centred ``A`` projected on the singular directions that keep ``keep`` of the variance
    (a fraction in (0, 1]) or on the top ``keep`` directions (an int)."""
    A = A - A.mean(axis=0)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    rank = int((s > tol).sum())
    if rank == 0:
        raise InvalidInputError(f"{name} is constant (zero variance after centring); SVCCA is "
                                f"undefined")
    if isinstance(keep, int | np.integer) and not isinstance(keep, bool):
        if keep < 1:
            raise InvalidInputError(f"keep must be >= 1 directions, got {keep}")
        k = min(int(keep), rank)
    else:
        energy = np.cumsum(s[:rank] ** 2) / np.sum(s[:rank] ** 2)
        k = int(np.searchsorted(energy, float(keep) - 1e-12) + 1)
    return U[:, :k] * s[:k]


def canonical_correlations(X: Any, Y: Any) -> np.ndarray:
    """All canonical correlations between paired ``X`` and ``Y``, largest first.

    Notes
    -----
    Hand-written (the cosines of the principal angles between the centred column spaces, from
    orthonormal bases of each, by SVD so that rank-deficient inputs keep only their real
    directions) because :class:`sklearn.cross_decomposition.CCA`
    estimates components one by one iteratively and reports no correlations.

    Raises
    ------
    InvalidInputError
        ``d_x + d_y >= n``: with that few items some correlations are 1 whatever the data.
    """
    A = check_matrix(X, "X", dtype=np.float64, min_rows=2)
    B = check_matrix(Y, "Y", dtype=np.float64, min_rows=2)
    check_paired(A, B, ("X", "Y"))
    n = A.shape[0]
    Qa, Qb = _basis(A, "X"), _basis(B, "Y")
    if Qa.shape[1] + Qb.shape[1] >= n:
        raise InvalidInputError(f"canonical correlations of rank-{Qa.shape[1]} and "
                                f"rank-{Qb.shape[1]} data need more than "
                                f"{Qa.shape[1] + Qb.shape[1]} items, got {n} (below that some "
                                f"correlations are 1 by construction); reduce the dimensions "
                                f"first (svcca's keep=) or use more items")
    return np.clip(np.linalg.svd(Qa.T @ Qb, compute_uv=False), 0.0, 1.0)


def _basis(A: np.ndarray, name: str) -> np.ndarray:
    """An orthonormal basis of the centred column space of ``A`` (numerical rank only)."""
    A = A - A.mean(axis=0)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    rank = int((s > tol).sum())
    if rank == 0:
        raise InvalidInputError(f"{name} is constant (zero variance after centring)")
    return U[:, :rank]


def svcca(X: Any, Y: Any, *, keep: float | int = 0.99) -> float:
    """SVCCA similarity: the mean canonical correlation of the SVD-reduced representations.

    Parameters
    ----------
    X : array-like (n, d_x)
    Y : array-like (n, d_y)
    keep : float or int
        A fraction of variance in (0, 1] kept per side (Raghu et al. use 0.99), or a number of
        singular directions.

    Returns
    -------
    float
        In [0, 1].
    """
    if not isinstance(keep, int | np.integer) and not 0 < float(keep) <= 1:
        raise InvalidInputError(f"keep must be a variance fraction in (0, 1] or a number of "
                                f"directions, got {keep!r}")
    A = check_matrix(X, "X", dtype=np.float64, min_rows=2)
    B = check_matrix(Y, "Y", dtype=np.float64, min_rows=2)
    check_paired(A, B, ("X", "Y"))
    rho = canonical_correlations(_reduce(A, keep, "X"), _reduce(B, keep, "Y"))
    return float(rho.mean())


def representation_similarity(X: Any, Y: Any, *, keep: float | int = 0.99) -> dict[str, float]:
    """Linear CKA and SVCCA of two paired representations: ``{"cka": ..., "svcca": ...}``."""
    return {"cka": linear_cka(X, Y), "svcca": svcca(X, Y, keep=keep)}
