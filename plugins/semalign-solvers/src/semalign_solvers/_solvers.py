"""Closed-form solvers: affine and linear least squares (with ridge), Procrustes, projected lstsq.

All solvers receive validated float64 anchors from :meth:`semalign_core.Solver.fit` and store
their fitted state in attributes ending in ``_`` (arrays or JSON scalars) so that
:meth:`semalign_core.Translator.save` can persist them without pickle.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from semalign_core import InvalidInputError, Solver

from ._lapack import least_squares

__all__ = [
    "DEFAULT_ALPHA",
    "AffineSolver",
    "IllConditionedWarning",
    "LinearSolver",
    "LstsqOrthoSolver",
    "OrthogonalSolver",
]

#: Default ridge strength of ``affine`` and ``linear``, chosen by cross-validation on the shared
#: train split (benchmarks/bench_alpha.py; the numbers are in docs/solvers.md). It is in units of
#: the standard-scaled anchor Gram matrix (diagonal = n). 1000 gave the best held-out zero-shot
#: balanced accuracy for 50-320 anchors of 512-d image features and is within ~3% of the best
#: held-out MSE (3000); the smaller of the two shrinks less where pairs are cleaner than the
#: shared data's class-level pairs. Small, low-dimensional problems want a smaller alpha.
DEFAULT_ALPHA = 1000.0

#: A full-rank fit whose condition number exceeds this still warns: the solution is dominated by
#: round-off in the smallest singular directions (1 / sqrt(float64 eps) ~ 6.7e7).
_COND_WARN = 1e8


class IllConditionedWarning(UserWarning):
    """An unregularised fit is under-determined (n <= d, rank-deficient) or ill-conditioned.

    The solver still returns the minimum-norm least-squares solution; pass ``alpha > 0`` for a
    well-posed ridge fit, or use the ``orthogonal`` solver.
    """


# -- parameter checks (run in __init__ for an early error and again in fit, after set_params) ---
def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise InvalidInputError(f"alpha must be a non-negative number, got "
                                f"{type(alpha).__name__} {alpha!r}")
    value = float(alpha)
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"alpha must be a finite number >= 0, got {alpha!r}; use 0 for "
                                f"unregularised least squares")
    return value


def _check_rcond(rcond: Any) -> float | None:
    if rcond is None:
        return None
    if isinstance(rcond, bool) or not isinstance(rcond, numbers.Real):
        raise InvalidInputError(f"rcond must be None or a number in [0, 1), got {rcond!r}")
    value = float(rcond)
    if not (0.0 <= value < 1.0):
        raise InvalidInputError(f"rcond must be None or a number in [0, 1), got {rcond!r}")
    return value


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidInputError(f"{name} must be True or False, got {type(value).__name__} "
                                f"{value!r}")
    return bool(value)


# -- the shared least-squares core lives in _lapack ------------------------------------------------
def _least_squares(X: np.ndarray, Y: np.ndarray, alpha: float, rcond: float | None, *,
                   bias: bool = False) -> tuple[np.ndarray, np.ndarray, int, float]:
    """``(W, b, rank, cond)`` of ``min ||X W + b - Y||^2 + alpha ||W||^2`` (``b = 0`` unless
    ``bias``; the bias is never penalised); see :mod:`semalign_solvers._lapack`."""
    means = (X.mean(axis=0), Y.mean(axis=0)) if bias else None
    W, rank, cond = least_squares(X, Y, alpha, rcond, means=means)
    b = means[1] - means[0] @ W if means is not None else np.zeros(Y.shape[1])
    return W, b, rank, cond


def _warn_if_ill_posed(solver: Solver, n: int, d: int, rank: int, cond: float,
                       alpha: float) -> None:
    if alpha > 0:
        return  # ridge is well-posed for any n, d
    if n <= d or rank < d:
        warnings.warn(
            f"{type(solver).__name__}: {n} anchors for {d} source dimensions with alpha=0 "
            f"(rank {rank} < {d} or n <= d): the map interpolates the anchors; returning the "
            f"minimum-norm solution. Pass alpha > 0 (ridge) or use the 'orthogonal' solver for "
            f"a map that generalises.", IllConditionedWarning, stacklevel=4)
    elif cond > _COND_WARN:
        warnings.warn(
            f"{type(solver).__name__}: the anchor matrix has condition number {cond:.3g}; the "
            f"unregularised solution is dominated by round-off. Pass alpha > 0.",
            IllConditionedWarning, stacklevel=4)


def _padded_polar(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The orthogonal polar factor of ``M`` (dx x dy) zero-padded to square ``d = max(dx, dy)``,
    and the singular values of ``M``.

    Padding a zero block adds zero singular values only, so the SVD of ``M`` itself (with full
    ``U`` or ``V^T``) gives the padded one: ``R = [U_1 V^T, U_2]`` for dx > dy (``U = [U_1, U_2]``)
    and ``R = blockdiag(U, I) V^T`` for dx < dy. That is about half the work of the SVD of the
    padded d x d matrix, which this replaces.
    """
    dx, dy = M.shape
    U, s, Vt = np.linalg.svd(M, full_matrices=True)
    if dx >= dy:
        R = U.copy()
        R[:, :dy] = U[:, :dy] @ Vt
    else:
        R = Vt.copy()
        R[:dx] = U @ Vt[:dx]
    return R, s


# -- solvers ---------------------------------------------------------------------------------------
class AffineSolver(Solver):
    """Least squares with a bias: ``Y ~ X W + b``, optionally ridge-regularised.

    The bias is never penalised: both sides are centred on the anchor means, ``W`` solves the
    (ridge) problem on the centred data, and ``b = mean(Y) - mean(X) W``.

    Parameters
    ----------
    alpha : float, default DEFAULT_ALPHA
        Ridge strength ``>= 0`` on ``||W||_F^2``. ``0`` gives ordinary least squares (minimum-norm
        with an :class:`IllConditionedWarning` when n <= d or the anchors are rank-deficient).
    rcond : float or None
        Relative cut-off below which singular values count as zero (rank, minimum-norm solve).
        ``None``: ``max(n, d) * eps`` (as ``np.linalg.matrix_rank``).

    Attributes
    ----------
    coef_ : ndarray of shape (d_x, d_y)
    intercept_ : ndarray of shape (d_y,)
    rank_ : int
        Numerical rank of the centred anchor matrix.
    condition_number_ : float
        Ratio of its largest to smallest singular value (``inf`` when rank-deficient).
    """

    name = "affine"
    _fit_bias = True

    def __init__(self, *, alpha: float = DEFAULT_ALPHA, rcond: float | None = None) -> None:
        _check_alpha(alpha)
        _check_rcond(rcond)
        self.alpha = alpha
        self.rcond = rcond

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        alpha = _check_alpha(self.alpha)
        rcond = _check_rcond(self.rcond)
        W, b, rank, cond = _least_squares(X, Y, alpha, rcond, bias=self._fit_bias)
        _warn_if_ill_posed(self, X.shape[0], X.shape[1], rank, cond, alpha)
        self.coef_ = W
        self.intercept_ = b
        self.rank_ = rank
        self.condition_number_ = cond

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return self.coef_, self.intercept_


class LinearSolver(AffineSolver):
    """Least squares without a bias: ``Y ~ X W`` (ridge optional).

    Use it when both spaces are already centred (e.g. ``standard`` or ``center`` preprocessing
    on both sides, the translator's default), where a bias would only add noise. Parameters and
    attributes are those of :class:`AffineSolver`; ``intercept_`` is all zeros.
    """

    name = "linear"
    _fit_bias = False


class OrthogonalSolver(Solver):
    """Orthogonal Procrustes: ``R = U V^T`` from the SVD ``X^T Y = U S V^T``.

    ``R`` minimises ``||X R - Y||_F`` over orthogonal matrices: the map may rotate and reflect
    but never stretch, so it cannot overfit the anchors even when n < d. When ``d_x != d_y`` the
    smaller side is zero-padded to ``d = max(d_x, d_y)`` and the output truncated to ``d_y``.

    Parameters
    ----------
    scale : bool, default False
        Also fit one global factor ``s = trace(S) / ||X||_F^2`` (the optimal isotropic scale).

    Attributes
    ----------
    rotation_ : ndarray of shape (d, d)
        The orthogonal matrix on the padded spaces.
    scale_ : float
        The global factor (1.0 unless ``scale=True``).
    """

    name = "orthogonal"

    def __init__(self, *, scale: bool = False) -> None:
        _check_bool(scale, "scale")
        self.scale = scale

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        use_scale = _check_bool(self.scale, "scale")
        # X^T Y padded is the same as padding X and Y first: zero columns give zero rows/columns.
        R, s = _padded_polar(X.T @ Y)
        self.rotation_ = R
        norm2 = float(np.einsum("ij,ij->", X, X))
        self.scale_ = float(s.sum() / norm2) if use_scale and norm2 > 0 else 1.0

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self.scale_ * (X @ self.rotation_[:X.shape[1], :self.n_features_out_])

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        W = self.scale_ * self.rotation_[:self.n_features_in_, :self.n_features_out_]
        return W, np.zeros(self.n_features_out_)


class LstsqOrthoSolver(Solver):
    """The least-squares map, projected onto the nearest orthogonal matrix.

    Fits ``W`` by (ridge) least squares without a bias, zero-pads it to square ``d x d``
    (``d = max(d_x, d_y)``) and replaces it by its polar factor ``U V^T`` (the orthogonal matrix
    closest to ``W`` in Frobenius norm). Unlike Procrustes, the rotation is chosen to agree with the
    unconstrained regression rather than to maximise ``trace(R^T X^T Y)`` directly.

    Parameters
    ----------
    alpha : float, default 0.0
        Ridge strength of the least-squares step.
    rcond : float or None
        As for :class:`AffineSolver`.

    Attributes
    ----------
    rotation_ : ndarray of shape (d, d)
    rank_ : int
    condition_number_ : float
    """

    name = "lstsq-ortho"

    def __init__(self, *, alpha: float = 0.0, rcond: float | None = None) -> None:
        _check_alpha(alpha)
        _check_rcond(rcond)
        self.alpha = alpha
        self.rcond = rcond

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        alpha = _check_alpha(self.alpha)
        W, _, rank, cond = _least_squares(X, Y, alpha, _check_rcond(self.rcond))
        _warn_if_ill_posed(self, X.shape[0], X.shape[1], rank, cond, alpha)
        self.rotation_, _ = _padded_polar(W)
        self.rank_ = rank
        self.condition_number_ = cond

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.rotation_[:X.shape[1], :self.n_features_out_]

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return (self.rotation_[:self.n_features_in_, :self.n_features_out_],
                np.zeros(self.n_features_out_))
