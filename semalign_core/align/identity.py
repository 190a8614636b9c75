"""Components that ship with the core, registered through the same hooks as any plugin.

Only what needs nothing beyond NumPy lives here; real solvers and selectors are plugins
(``semalign-solvers``, ``semalign-anchors``).
"""

from __future__ import annotations

import numpy as np

from ..errors import DimensionMismatchError
from ..plugins.hookspecs import hookimpl
from .solvers import Solver

__all__ = ["IdentitySolver"]


class IdentitySolver(Solver):
    """The "no alignment" baseline: ``f(x) = x``.

    Useful as the control in an experiment: a translator with the identity solver measures how
    far two same-dimensional spaces are aligned *without* any fitted map (only the per-side
    preprocessing). Requires ``d_x == d_y``.
    """

    name = "identity"

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        if X.shape[1] != Y.shape[1]:
            raise DimensionMismatchError(
                f"the identity solver needs equal dimensions, got {X.shape[1]} and "
                f"{Y.shape[1]}; use a fitted solver such as 'affine' or 'orthogonal'")

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X.copy()

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return np.eye(self.n_features_in_), np.zeros(self.n_features_out_)


@hookimpl
def register_solvers(register):  # type: ignore[no-untyped-def]
    register("identity", IdentitySolver, aliases=("none",),
             description="f(x) = x; the no-alignment baseline")
