"""The :class:`~semalign_core.Solver` contract, one named check per rule.

Every check fits copies of the solver, so the object passed in stays unfitted.
"""

from __future__ import annotations

import copy

import numpy as np

from ..align.solvers import Solver
from ..errors import (
    DimensionMismatchError,
    InvalidInputError,
    NotFittedError,
    SemalignError,
    TooFewAnchorsError,
)
from ._common import Check, CheckOptions, check_params, expect_error

__all__ = ["SOLVER_CHECKS"]


def _problem(options: CheckOptions) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded anchors with an exactly linear relation between the two sides."""
    rng = np.random.default_rng(options.seed)
    dx, dy = options.dims
    X = rng.normal(size=(options.n, dx)).astype(np.float32)
    return X, (X @ rng.normal(size=(dx, dy))).astype(np.float32)


def _fitted(solver: Solver, options: CheckOptions) -> tuple[Solver, np.ndarray, np.ndarray]:
    X, Y = _problem(options)
    return copy.deepcopy(solver).fit(X, Y), X, Y


def check_subclass(solver: Solver, options: CheckOptions) -> None:
    assert isinstance(solver, Solver), f"{type(solver).__name__} must subclass semalign_core.Solver"


def check_not_fitted(solver: Solver, options: CheckOptions) -> None:
    X, _ = _problem(options)
    expect_error(NotFittedError, lambda: copy.deepcopy(solver).transform(X),
                 f"{type(solver).__name__}.transform before fit")


def check_fit_returns_self(solver: Solver, options: CheckOptions) -> None:
    name = type(solver).__name__
    X, Y = _problem(options)
    X_before, Y_before = X.copy(), Y.copy()
    fresh = copy.deepcopy(solver)
    assert fresh.fit(X, Y) is fresh, f"{name}.fit must return self"
    np.testing.assert_array_equal(X, X_before, err_msg=f"{name}.fit must not modify X")
    np.testing.assert_array_equal(Y, Y_before, err_msg=f"{name}.fit must not modify Y")


def check_fitted_attributes(solver: Solver, options: CheckOptions) -> None:
    name = type(solver).__name__
    fitted, X, Y = _fitted(solver, options)
    assert (fitted.n_features_in_, fitted.n_features_out_, fitted.n_anchors_) == (
        X.shape[1], Y.shape[1], len(X)), f"{name}: n_features_in_/out_ and n_anchors_ are wrong"
    new_public = {k for k in vars(fitted) if not k.startswith("_")} - set(fitted.get_params())
    assert all(k.endswith("_") for k in new_public), \
        f"{name}: fitted attributes must end in '_', got {sorted(new_public)}"


def check_shape(solver: Solver, options: CheckOptions) -> None:
    fitted, X, Y = _fitted(solver, options)
    out = fitted.transform(X)
    assert out.shape == Y.shape, \
        f"{type(solver).__name__}.transform returned shape {out.shape}, expected {Y.shape}"


def check_dtype(solver: Solver, options: CheckOptions) -> None:
    fitted, X, _ = _fitted(solver, options)
    out = fitted.transform(X)
    assert out.dtype == np.float32, f"{type(solver).__name__}.transform must return float32, " \
                                    f"got {out.dtype}"
    assert np.isfinite(out).all(), f"{type(solver).__name__}.transform produced NaN or inf"


def check_deterministic(solver: Solver, options: CheckOptions) -> None:
    first, X, _ = _fitted(solver, options)
    second, _, _ = _fitted(solver, options)
    np.testing.assert_allclose(second.transform(X), first.transform(X), rtol=1e-6, atol=1e-6,
                               err_msg=f"{type(solver).__name__}.fit must be deterministic")


def check_save_load(solver: Solver, options: CheckOptions) -> None:
    fitted, X, _ = _fitted(solver, options)
    arrays, scalars = fitted.get_fitted_state()
    restored = copy.deepcopy(solver).set_fitted_state(copy.deepcopy(arrays), dict(scalars))
    np.testing.assert_array_equal(
        restored.transform(X), fitted.transform(X),
        err_msg=f"{type(solver).__name__}: the fitted state (what a saved Translator holds) "
                f"must round-trip")


def check_wrong_dimension(solver: Solver, options: CheckOptions) -> None:
    name = type(solver).__name__
    fitted, X, Y = _fitted(solver, options)
    expect_error(DimensionMismatchError, lambda: fitted.transform(X[:, :-1]),
                 f"{name}.transform with the wrong input dimension")
    expect_error(DimensionMismatchError, lambda: copy.deepcopy(solver).fit(X, Y[:-1]),
                 f"{name}.fit with unpaired X and Y")


def check_non_finite(solver: Solver, options: CheckOptions) -> None:
    name = type(solver).__name__
    fitted, X, Y = _fitted(solver, options)
    bad = X.copy()
    bad[0, 0] = np.inf
    expect_error(InvalidInputError, lambda: copy.deepcopy(solver).fit(bad, Y),
                 f"{name}.fit with inf")
    expect_error(InvalidInputError, lambda: fitted.transform(np.where(X > 0, np.nan, X)),
                 f"{name}.transform with NaN")


def check_bad_anchors(solver: Solver, options: CheckOptions) -> None:
    name = type(solver).__name__
    X, Y = _problem(options)
    expect_error(TooFewAnchorsError, lambda: copy.deepcopy(solver).fit(X[:1], Y[:1]),
                 f"{name}.fit with one anchor")
    expect_error(SemalignError, lambda: copy.deepcopy(solver).fit(X.astype(int), Y),
                 f"{name}.fit with integer input")


SOLVER_CHECKS = tuple(Check(name, function) for name, function in [
    ("subclass", check_subclass),
    ("params", check_params),
    ("not_fitted", check_not_fitted),
    ("fit_returns_self", check_fit_returns_self),
    ("fitted_attributes", check_fitted_attributes),
    ("shape", check_shape),
    ("dtype", check_dtype),
    ("deterministic", check_deterministic),
    ("save_load", check_save_load),
    ("wrong_dimension", check_wrong_dimension),
    ("non_finite", check_non_finite),
    ("bad_anchors", check_bad_anchors),
])
