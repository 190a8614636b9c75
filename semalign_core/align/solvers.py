"""The :class:`Solver` base class: a map fitted on paired anchors, scikit-learn style."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..errors import DimensionMismatchError, NotFittedError, TooFewAnchorsError
from ..params import ParamsMixin
from ..plugins.registry import build_component
from ..validation import check_matrix, check_paired

__all__ = ["Solver", "get_solver"]

_SCALARS = (bool, int, float, str, type(None), np.integer, np.floating, np.bool_)


class Solver(ParamsMixin, ABC):
    """A map ``f: R^{d_x} -> R^{d_y}`` fitted on anchor pairs ``(X, Y)``.

    Conventions (scikit-learn): ``__init__`` stores keyword hyperparameters unchanged;
    :meth:`fit` validates, sets attributes ending in ``_`` and returns ``self``; :meth:`transform`
    refuses an unfitted solver. Inputs are float32 or float64; all arithmetic is float64.

    Subclasses implement :meth:`_fit` and :meth:`_transform` on validated float64 arrays and
    store fitted state only in attributes ending in ``_`` (arrays or JSON scalars), which is what
    :meth:`get_fitted_state` saves.

    Attributes
    ----------
    n_features_in_ : int
        Source dimension seen in ``fit``.
    n_features_out_ : int
        Target dimension seen in ``fit``.
    n_anchors_ : int
        Number of anchor pairs used.
    """

    name: ClassVar[str] = ""
    #: The fewest anchor pairs ``fit`` accepts.
    min_anchors: ClassVar[int] = 2

    def fit(self, X: Any, Y: Any) -> Solver:
        """Fit the map on anchors ``X`` (n, d_x) -> ``Y`` (n, d_y). Returns ``self``."""
        X = check_matrix(X, "X", dtype=np.float64)
        Y = check_matrix(Y, "Y", dtype=np.float64)
        check_paired(X, Y)
        if X.shape[0] < self.min_anchors:
            raise TooFewAnchorsError(f"{type(self).__name__} needs at least {self.min_anchors} "
                                     f"anchor pairs, got {X.shape[0]}")
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, key)  # refitting must not leave stale state behind
        self._fit(X, Y)
        self.n_features_in_ = int(X.shape[1])
        self.n_features_out_ = int(Y.shape[1])
        self.n_anchors_ = int(X.shape[0])
        return self

    def transform(self, X: Any, *, dtype: type = np.float32) -> np.ndarray:
        """Map ``X`` (m, d_x) to (m, d_y), returned as ``dtype`` (float32 by default)."""
        self._check_fitted()
        X = check_matrix(X, "X", dtype=np.float64, min_rows=0)
        if X.shape[1] != self.n_features_in_:
            raise DimensionMismatchError(
                f"{type(self).__name__} was fitted on {self.n_features_in_}-d inputs, got "
                f"{X.shape[1]}-d")
        return self._transform(X).astype(dtype, copy=False)

    def linear_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The fitted map as ``(W, b)`` with ``f(x) = x W + b`` (float64), or ``None``.

        Solvers whose map is affine return it, so that :class:`~semalign_core.Translator` can
        fold the map and the preprocessing around it into one float32 matrix product; the
        default ``None`` keeps the step-by-step float64 path (any non-linear solver).
        """
        return None

    def fit_transform(self, X: Any, Y: Any) -> np.ndarray:
        return self.fit(X, Y).transform(X)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_anchors_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call "
                                 f"fit(X, Y) on anchor pairs first")

    @abstractmethod
    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        """Fit on validated float64 anchors; set attributes ending in ``_``."""

    @abstractmethod
    def _transform(self, X: np.ndarray) -> np.ndarray:
        """Map validated float64 rows; return float64."""

    # -- persistence (used by Translator.save / load) ----------------------------------------
    def get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted attributes split into arrays and JSON scalars."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        scalars: dict[str, Any] = {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[key] = value
            elif isinstance(value, _SCALARS):
                scalars[key] = value.item() if isinstance(value, np.generic) else value
            else:
                raise TypeError(f"fitted attribute {key} of {type(self).__name__} is a "
                                f"{type(value).__name__}; store arrays or scalars only")
        return arrays, scalars

    def set_fitted_state(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> Solver:
        """Restore what :meth:`get_fitted_state` returned."""
        for key, value in {**scalars, **arrays}.items():
            if not key.endswith("_"):
                raise ValueError(f"not a fitted attribute: {key!r}")
            setattr(self, key, value)
        return self


def get_solver(name: str, **params: Any) -> Solver:
    """Build an unfitted solver registered as ``name``."""
    return build_component("solver", name, params, Solver)
