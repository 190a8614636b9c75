"""Canonical correlation analysis as a solver: scikit-learn's ``CCA``, kept as an affine map.

CCA finds ``n_components`` pairs of directions, one in each space, whose projections of the
anchors are maximally correlated. The map regresses ``Y`` (least squares) on the source-side
canonical scores, so it is a rank-``n_components`` affine map ``Y ~ X W + b`` that keeps only the
directions the two spaces share, where ridge keeps every direction, shrunk.

scikit-learn fits the directions (NIPALS). Its own ``CCA.predict`` is not used: with CCA's
canonical deflation it scales the prediction by loadings of the *target* scores, so it is not the
least-squares prediction (it misses an exact low-rank map by a constant factor). The canonical
scores ``transform(X)`` are affine in ``X``; their rotation is read off ``transform`` (the score
of ``0`` and of each unit vector), and ``W``, ``b`` are stored as plain arrays: the fitted solver
saves without pickle and does not depend on scikit-learn's private attributes.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from semalign_core import InvalidInputError, Solver, TooFewAnchorsError

__all__ = ["CCASolver"]


#: Canonical pairs kept when ``n_components`` is not given (fewer when the data has fewer).
DEFAULT_COMPONENTS = 16


def _check_components(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidInputError(f"n_components must be a positive int, got {value!r}")
    return int(value)


class CCASolver(Solver):
    """Rank-``n_components`` affine map through canonical correlation analysis.

    Parameters
    ----------
    n_components : int, optional
        Canonical pairs kept; at most ``min(n_anchors, d_x, d_y)``. By default
        ``min(16, n_anchors, d_x, d_y)``: an explicit value above that limit is refused.
    max_iter : int, default 5000
        NIPALS iterations per component (:class:`sklearn.cross_decomposition.CCA`).
    tol : float, default 1e-6

    Attributes
    ----------
    coef_ : ndarray of shape (d_x, d_y)
    intercept_ : ndarray of shape (d_y,)
    n_iter_max_ : int
        The most NIPALS iterations any component needed.
    """

    name = "cca"

    def __init__(self, *, n_components: int | None = None, max_iter: int = 5000, tol: float = 1e-6
                 ) -> None:
        _check_components(n_components)
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) \
                or max_iter < 1:
            raise InvalidInputError(f"max_iter must be a positive int, got {max_iter!r}")
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
            raise InvalidInputError(f"tol must be a positive number, got {tol!r}")
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from sklearn.cross_decomposition import CCA
        from sklearn.exceptions import ConvergenceWarning

        requested = _check_components(self.n_components)
        limit = min(X.shape[0], X.shape[1], Y.shape[1])
        k = min(DEFAULT_COMPONENTS, limit) if requested is None else requested
        if k > limit:
            raise TooFewAnchorsError(
                f"CCA with n_components={k} needs at least {k} anchors and dimensions on both "
                f"sides; got {X.shape[0]} anchors, {X.shape[1]}-d source, {Y.shape[1]}-d "
                f"target. Lower n_components to at most {limit}")
        # scale=False: the Translator's per-side preprocessing decides the scaling
        model = CCA(n_components=k, scale=False, max_iter=int(self.max_iter), tol=self.tol)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            try:
                model.fit(X, Y)
            except ConvergenceWarning as exc:
                raise InvalidInputError(f"CCA did not converge in max_iter={self.max_iter} "
                                        f"iterations ({exc}); raise max_iter or lower "
                                        f"n_components") from exc
        d = X.shape[1]
        probe = np.asarray(model.transform(np.vstack([np.zeros((1, d)), np.eye(d)])),
                           dtype=np.float64).reshape(d + 1, k)
        rotation = probe[1:] - probe[0]  # scores(X) = X @ rotation + probe[0]
        x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
        scores = (X - x_mean) @ rotation
        B = np.linalg.lstsq(scores, Y - y_mean, rcond=None)[0]
        self.coef_ = rotation @ B
        self.intercept_ = y_mean - x_mean @ self.coef_
        self.n_iter_max_ = int(max(model.n_iter_)) if len(model.n_iter_) else 0

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_
