"""The least-squares core at the LAPACK call: one Gram product, one Cholesky, diagnostics from it.

``min ||X W - Y||^2 + alpha ||W||^2`` is solved through the normal equations:

- the Gram matrix ``X^T X`` (or the dual ``X X^T`` when n < d) by one BLAS ``syrk``, which
  computes one triangle: half the flops of ``X.T @ X``;
- a *pivoted* Cholesky of it (LAPACK ``pstrf``, d^3/3 flops, negligible next to the n d^2 of
  the Gram product) gives the numerical rank, and LAPACK ``pocon`` on that factor estimates the
  condition number in O(d^2): the diagnostics come from the factorisation, not from an extra
  eigendecomposition;
- ridge (``alpha > 0``): a Cholesky of ``G + alpha I`` (well-posed for any data) and two
  triangular solves;
- ``alpha = 0``: the same pivoted factor solves the normal equations when the anchors are full
  rank and well-conditioned. Squaring the condition number costs ``cond(X)^2 * eps`` relative
  accuracy, so above :data:`NORMAL_EQUATIONS_MAX_COND` (and for rank-deficient or n <= d
  anchors, where the minimum-norm solution is wanted) it falls back to ``np.linalg.lstsq``
  (LAPACK ``gelsd``), which also gives the exact singular values for the diagnostics.

scipy's LAPACK wrappers are used because numpy exposes neither ``syrk``, ``pstrf`` nor ``pocon``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NORMAL_EQUATIONS_MAX_COND", "centred_gram", "least_squares"]

#: Estimated ``cond(X)`` above which ``alpha = 0`` leaves the normal equations for ``lstsq``:
#: there ``cond^2 * eps`` ~ 2e-8, the normal equations' relative error bound, and still ~1e-8 of
#: lstsq's own on the anchors' fit.
NORMAL_EQUATIONS_MAX_COND = 1e4
_EPS = np.finfo(np.float64).eps


def gram(X: np.ndarray, *, dual: bool = False) -> np.ndarray:
    """``X^T X`` (``dual``: ``X X^T``) from one ``syrk``, both triangles filled."""
    # X is C-contiguous, so X.T is a Fortran view: no copy reaches BLAS.
    # scipy.linalg is imported where it is used (here and below), not at module level: it
    # takes about 0.5 s, and `semalign plugins` imports this plugin to list its solvers
    from scipy.linalg import blas

    G = blas.dsyrk(1.0, X.T, trans=1 if dual else 0, lower=0)
    upper = np.triu_indices_from(G, 1)
    G.T[upper] = G[upper]
    return G


def centred_gram(X: np.ndarray, mean: np.ndarray) -> np.ndarray | None:
    """``(X - mean)^T (X - mean)`` as ``X^T X - n mean mean^T``, without the centred copy, when
    that is exact to round-off: the mean is negligible next to every column's spread (as after
    standard scaling, the translator's default). ``None`` otherwise (the caller centres)."""
    G = gram(X)
    n = X.shape[0]
    spread = np.sqrt(np.diag(G) / n)
    if not np.all(np.abs(mean) <= 1e-6 * np.maximum(spread, np.finfo(np.float64).tiny)):
        return None
    G -= n * np.outer(mean, mean)
    return G


def _factor(G: np.ndarray, rcond: float | None, scale: int) -> tuple[np.ndarray, np.ndarray, int,
                                                                     float]:
    """Pivoted Cholesky of ``G``: ``(factor, pivots, rank, estimated cond of X)``."""
    from scipy.linalg import lapack

    top = float(np.max(np.diag(G), initial=0.0))
    # rank cut-off on the pivots, which are squared singular values: rcond applies squared
    tol = (rcond ** 2 if rcond is not None else scale * _EPS) * top
    U, piv, rank, info = lapack.dpstrf(G, tol=tol, lower=0)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf failed (info={info})")
    d = G.shape[0]
    if rank < d or top == 0.0:
        return U, piv, int(rank), math.inf
    U = np.triu(U)
    anorm = float(np.abs(G).sum(axis=0).max())
    rc, info = lapack.dpocon(U, anorm)
    cond = math.sqrt(1.0 / rc) if info == 0 and rc > 0 else math.inf
    return U, piv, int(rank), cond


def _pivoted_solve(U: np.ndarray, piv: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``G W = B`` from ``P^T G P = U^T U`` (LAPACK pivots are 1-based)."""
    from scipy.linalg import lapack

    p = piv - 1
    Z, _ = lapack.dpotrs(U, B[p], lower=0)
    W = np.empty_like(Z)
    W[p] = Z
    return W


def _lstsq(X: np.ndarray, Y: np.ndarray, rcond: float | None) -> tuple[np.ndarray, int, float]:
    n, d = X.shape
    cut = rcond if rcond is not None else max(n, d) * _EPS
    W, _, _, s = np.linalg.lstsq(X, Y, rcond=cut)
    rank = int((s > cut * (s[0] if s.size else 0.0)).sum())
    # Rank-deficient means singular (inf), consistent with the rank: a value like 1e16 would
    # only report round-off in a direction that is numerically zero.
    cond = float(s[0] / s[min(n, d) - 1]) if rank == min(n, d) else math.inf
    return W, rank, cond


def least_squares(X: np.ndarray, Y: np.ndarray, alpha: float, rcond: float | None, *,
                  means: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, int, float]:
    """Solve ``min ||Xc W - Yc||^2 + alpha ||W||^2``; return ``(W, rank, cond)``.

    ``means=(x_mean, y_mean)`` centres both sides first (``Xc = X - x_mean``), through a
    rank-one correction of the Gram matrix where that is exact (:func:`centred_gram`), else by
    copying; ``None`` solves on ``X`` and ``Y`` as given. ``cond`` is exact on the ``lstsq``
    route and a LAPACK 1-norm estimate (within a factor ~sqrt(d) of the 2-norm value) on the
    Cholesky routes.
    """
    from scipy.linalg import lapack

    n, d = X.shape
    Xc, Yc = (X, Y) if means is None else (None, None)

    def centred() -> tuple[np.ndarray, np.ndarray]:
        nonlocal Xc, Yc
        if Xc is None:
            assert means is not None
            Xc, Yc = X - means[0], Y - means[1]
        return Xc, Yc

    if alpha == 0.0 and (rcond is not None or n <= d):
        return _lstsq(*centred(), rcond)  # the minimum-norm solution, exact rank semantics
    G = centred_gram(X, means[0]) if means is not None and n >= d else None
    if G is not None:
        XtY = X.T @ Y - n * np.outer(means[0], means[1])
    else:
        A, B = centred()
        G = gram(A, dual=n < d)
        XtY = A.T @ B if n >= d else None
    U, piv, rank, cond = _factor(G, rcond, max(n, d))
    if alpha == 0.0:
        if rank < d or cond > NORMAL_EQUATIONS_MAX_COND:
            return _lstsq(*centred(), rcond)
        return _pivoted_solve(U, piv, XtY), rank, cond
    G.flat[::G.shape[0] + 1] += alpha  # G is ours: ridge in place
    C, info = lapack.dpotrf(G, lower=0, overwrite_a=1, clean=0)
    if info != 0:  # cannot happen for alpha > 0 short of overflow; stay exact anyway
        return _ridge_lstsq(*centred(), alpha), rank, cond
    if XtY is None:  # the dual: W = Xc^T (Xc Xc^T + alpha I)^-1 Yc
        A, B = centred()
        return A.T @ lapack.dpotrs(C, B, lower=0)[0], rank, cond
    return lapack.dpotrs(C, XtY, lower=0)[0], rank, cond


def _ridge_lstsq(X: np.ndarray, Y: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge as an augmented least-squares problem (the fallback of a failed Cholesky)."""
    d = X.shape[1]
    A = np.vstack([X, math.sqrt(alpha) * np.eye(d)])
    return np.linalg.lstsq(A, np.vstack([Y, np.zeros((d, Y.shape[1]))]), rcond=None)[0]
