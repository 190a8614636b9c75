"""semalign-solvers: closed-form maps between latent spaces.

Registered solvers (``semalign_core.get_solver(name, **params)``):

``affine``       least squares with bias, ``Y ~ X W + b``; ridge ``alpha`` (bias not penalised)
``linear``       the same without bias
``orthogonal``   Procrustes ``R = U V^T`` from the SVD of ``X^T Y`` (optional global scale)
``lstsq-ortho``  the least-squares map projected onto the nearest orthogonal matrix
``cca``          canonical correlation analysis (scikit-learn's ``CCA``) as a rank-k affine map

See docs/solvers.md for the math and when to choose which.
"""

from __future__ import annotations

from semalign_core import hookimpl

from ._cca import CCASolver
from ._solvers import (
    DEFAULT_ALPHA,
    AffineSolver,
    IllConditionedWarning,
    LinearSolver,
    LstsqOrthoSolver,
    OrthogonalSolver,
)

__all__ = [
    "DEFAULT_ALPHA",
    "AffineSolver",
    "CCASolver",
    "IllConditionedWarning",
    "LinearSolver",
    "LstsqOrthoSolver",
    "OrthogonalSolver",
]


@hookimpl
def register_solvers(register):  # type: ignore[no-untyped-def]
    register("affine", AffineSolver, aliases=("ridge",),
             description=f"least squares with bias, Y ~ XW + b; ridge alpha "
                         f"(default {DEFAULT_ALPHA:g}, bias not penalised)")
    register("linear", LinearSolver, aliases=("lstsq",),
             description="least squares without bias, Y ~ XW; ridge alpha")
    register("orthogonal", OrthogonalSolver, aliases=("procrustes",),
             description="orthogonal Procrustes R = UV^T (zero-pads unequal dims; optional scale)")
    register("lstsq-ortho", LstsqOrthoSolver, aliases=("lstsq_ortho",),
             description="least-squares map projected onto the nearest orthogonal matrix")
    register("cca", CCASolver,
             description="canonical correlation analysis (scikit-learn CCA): rank-n_components "
                         "affine map through the shared canonical directions")
