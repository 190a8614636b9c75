"""Tests of the closed-form solvers: known answers, properties, conformance, bad input."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import semalign_solvers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semalign_solvers import DEFAULT_ALPHA, IllConditionedWarning

from semalign_core import (
    DimensionMismatchError,
    InvalidInputError,
    NotFittedError,
    TooFewAnchorsError,
    Translator,
    get_solver,
    list_solvers,
)
from semalign_core.testing import check_solver

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

NAMES = ("affine", "linear", "orthogonal", "lstsq-ortho")
PROPS = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- registration and conformance -----------------------------------------------------------------
def test_all_solvers_registered_with_their_name():
    for name in NAMES:
        assert name in list_solvers()
        assert get_solver(name).name == name  # Translator.save/load relies on it


@pytest.mark.parametrize("name,params", [
    ("affine", {}), ("affine", {"alpha": 0.0}), ("affine", {"alpha": 3, "rcond": 1e-10}),
    ("linear", {}), ("linear", {"alpha": 0.0}),
    ("orthogonal", {}), ("orthogonal", {"scale": True}),
    ("lstsq-ortho", {}), ("lstsq-ortho", {"alpha": 1.0}),
])
def test_conformance(name, params):
    check_solver(get_solver(name, **params))
    check_solver(get_solver(name, **params), dims=(4, 7), n=30, seed=3)  # d_x < d_y too


# -- known answers --------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [False, True])
def test_orthogonal_recovers_rotation(scale):
    rng = np.random.default_rng(0)
    Q = rotation(16, rng)
    X = rng.normal(size=(200, 16))
    Y = 2.5 * X @ Q if scale else X @ Q
    solver = get_solver("orthogonal", scale=scale).fit(X, Y)
    assert rel_err(solver.rotation_, Q) < 1e-5
    assert solver.scale_ == pytest.approx(2.5 if scale else 1.0, rel=1e-9)
    X_new = rng.normal(size=(50, 16))
    expected = (2.5 if scale else 1.0) * X_new @ Q
    assert rel_err(solver.transform(X_new, dtype=np.float64), expected) < 1e-5


def test_orthogonal_pads_a_smaller_source():
    # d_x < d_y: X lives in the first d_x coordinates of a 16-d space that is then rotated.
    rng = np.random.default_rng(1)
    Q = rotation(16, rng)
    X = rng.normal(size=(100, 10))
    solver = get_solver("orthogonal").fit(X, X @ Q[:10])
    X_new = rng.normal(size=(40, 10))
    assert rel_err(solver.transform(X_new, dtype=np.float64), X_new @ Q[:10]) < 1e-5
    assert solver.rotation_.shape == (16, 16)


def test_orthogonal_truncates_a_larger_source():
    # d_x > d_y: Y is the first d_y coordinates of a rotated X. Exact recovery needs isotropic
    # anchors (X^T X = c I): otherwise the best orthogonal map onto the padded target is not the
    # truncated rotation. Isotropic anchors: a scaled orthonormal basis.
    rng = np.random.default_rng(2)
    Q = rotation(16, rng)
    X = np.linalg.qr(rng.normal(size=(100, 16)))[0] * 10.0
    solver = get_solver("orthogonal").fit(X, X @ Q[:, :9])
    X_new = rng.normal(size=(40, 16))
    assert rel_err(solver.transform(X_new, dtype=np.float64), X_new @ Q[:, :9]) < 1e-5


def test_lstsq_ortho_recovers_rotation_with_padding():
    rng = np.random.default_rng(3)
    Q = rotation(12, rng)
    X = rng.normal(size=(80, 12))
    assert rel_err(get_solver("lstsq-ortho").fit(X, X @ Q).rotation_, Q) < 1e-5
    X8 = rng.normal(size=(80, 8))
    solver = get_solver("lstsq-ortho").fit(X8, X8 @ Q[:8])
    assert rel_err(solver.transform(X8, dtype=np.float64), X8 @ Q[:8]) < 1e-5


def test_affine_recovers_affine_map():
    rng = np.random.default_rng(4)
    W, b = rng.normal(size=(12, 7)), rng.normal(size=7) * 5
    X = rng.normal(size=(200, 12)) + 3.0
    solver = get_solver("affine", alpha=0).fit(X, X @ W + b)
    assert rel_err(solver.coef_, W) < 1e-5
    assert rel_err(solver.intercept_, b) < 1e-5
    assert solver.rank_ == 12 and np.isfinite(solver.condition_number_)


def test_linear_recovers_bias_free_map_and_fits_no_bias():
    rng = np.random.default_rng(5)
    W = rng.normal(size=(9, 5))
    X = rng.normal(size=(100, 9))
    solver = get_solver("linear", alpha=0).fit(X, X @ W)
    assert rel_err(solver.coef_, W) < 1e-5
    np.testing.assert_array_equal(solver.intercept_, 0.0)
    # With a bias in the data, linear cannot fit it but affine can.
    Y = X @ W + 10.0
    assert rel_err(get_solver("linear", alpha=0).fit(X, Y).transform(X, dtype=np.float64),
                   Y) > 0.1
    assert rel_err(get_solver("affine", alpha=0).fit(X, Y).transform(X, dtype=np.float64),
                   Y) < 1e-5


@pytest.mark.parametrize("n", [300, 20])  # primal (n >= d) and dual (n < d) ridge paths
@pytest.mark.parametrize("alpha", [0.5, 30.0])
def test_ridge_matches_scikit_learn(n, alpha):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(n, 40)) + 1.0, rng.normal(size=(n, 6))
    ours = get_solver("affine", alpha=alpha).fit(X, Y)
    ref = Ridge(alpha=alpha, fit_intercept=True, solver="svd").fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_.T, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-10)
    ref0 = Ridge(alpha=alpha, fit_intercept=False, solver="svd").fit(X, Y)
    np.testing.assert_allclose(get_solver("linear", alpha=alpha).fit(X, Y).coef_,
                               ref0.coef_.T, rtol=1e-7, atol=1e-10)


def test_bias_is_not_penalised():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(50, 5)), rng.normal(size=(50, 3)) + 100.0
    solver = get_solver("affine", alpha=1e12).fit(X, Y)
    # An overwhelming ridge kills W, never b: the prediction collapses to the target mean.
    np.testing.assert_allclose(solver.intercept_, Y.mean(axis=0), rtol=1e-6)
    assert np.abs(solver.coef_).max() < 1e-8


def test_rank_and_condition_number_match_numpy():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 8)) @ np.diag([1, 2, 3, 4, 5, 6, 7, 50.0])
    Y = rng.normal(size=(60, 2))
    Xc = X - X.mean(axis=0)
    d = X.shape[1]
    for alpha in (0.0, 1.0):
        # the Cholesky routes: cond is LAPACK's 1-norm estimate from the factor, which lies
        # within a factor sqrt(d) of the 2-norm value (and estimates from below by <= 3x)
        s = get_solver("affine", alpha=alpha).fit(X, Y)
        assert s.rank_ == np.linalg.matrix_rank(Xc)
        exact = np.linalg.cond(Xc)
        assert exact / (3 * np.sqrt(d)) <= s.condition_number_ <= exact * np.sqrt(d)
    # the lstsq route (an explicit rcond) reports the exact singular-value ratio
    s = get_solver("affine", alpha=0, rcond=1e-12).fit(X, Y)
    assert s.condition_number_ == pytest.approx(np.linalg.cond(Xc), rel=1e-9)
    assert get_solver("linear", alpha=0, rcond=1e-12).fit(X, Y).condition_number_ == \
        pytest.approx(np.linalg.cond(X), rel=1e-9)


@pytest.mark.parametrize("name", ["affine", "linear"])
@pytest.mark.parametrize("offset", [0.0, 1e-12, 5.0])  # standardised, nearly, and not centred
def test_normal_equations_agree_with_lstsq(name, offset):
    rng = np.random.default_rng(15)
    X = rng.normal(size=(400, 12))
    X = (X - X.mean(axis=0)) / X.std(axis=0) + offset
    Y = X @ rng.normal(size=(12, 5)) + 0.1 * rng.normal(size=(400, 5)) + 3.0
    fast = get_solver(name, alpha=0).fit(X, Y)  # Cholesky on the normal equations
    ref = get_solver(name, alpha=0, rcond=1e-15).fit(X, Y)  # lstsq (gelsd)
    np.testing.assert_allclose(fast.coef_, ref.coef_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fast.intercept_, ref.intercept_, rtol=1e-9, atol=1e-11)
    assert fast.rank_ == ref.rank_ == 12


def test_ill_conditioned_normal_equations_fall_back_to_lstsq():
    from semalign_solvers._lapack import NORMAL_EQUATIONS_MAX_COND

    rng = np.random.default_rng(16)
    X = rng.normal(size=(300, 6)) @ np.diag([1, 1, 1, 1, 1, 1e-6])  # cond ~1e6
    Y = X @ rng.normal(size=(6, 3))
    s = get_solver("linear", alpha=0).fit(X, Y)
    assert s.condition_number_ == pytest.approx(np.linalg.cond(X), rel=1e-9)  # lstsq: exact
    assert s.condition_number_ > NORMAL_EQUATIONS_MAX_COND
    np.testing.assert_allclose(s.transform(X, dtype=np.float64), Y, atol=1e-8)


# -- n < d handled deliberately -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["affine", "linear"])
def test_underdetermined_fit_warns_and_returns_minimum_norm(name):
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(10, 30)), rng.normal(size=(10, 4))
    with pytest.warns(IllConditionedWarning, match="minimum-norm"):
        solver = get_solver(name, alpha=0).fit(X, Y)
    Xc, Yc = (X - X.mean(0), Y - Y.mean(0)) if name == "affine" else (X, Y)
    np.testing.assert_allclose(solver.coef_, np.linalg.pinv(Xc) @ Yc, atol=1e-10)
    assert solver.rank_ == (9 if name == "affine" else 10)  # centring removes one direction
    if name == "affine":
        assert solver.condition_number_ == np.inf
    # It interpolates the anchors, which is exactly why it is flagged.
    np.testing.assert_allclose(solver.transform(X, dtype=np.float64), Y, atol=1e-8)


def test_rank_deficient_overdetermined_fit_warns():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(100, 5))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # collinear column: rank 5 of 6
    with pytest.warns(IllConditionedWarning):
        solver = get_solver("linear", alpha=0).fit(X, rng.normal(size=(100, 2)))
    assert solver.rank_ == 5


def test_square_interpolation_warns_for_linear():
    rng = np.random.default_rng(11)
    with pytest.warns(IllConditionedWarning):
        get_solver("linear", alpha=0).fit(rng.normal(size=(6, 6)), rng.normal(size=(6, 2)))


@pytest.mark.parametrize("name,params", [("affine", {}), ("affine", {"alpha": 1e-3}),
                                         ("linear", {}), ("orthogonal", {}),
                                         ("lstsq-ortho", {"alpha": 1.0})])
def test_well_posed_fits_do_not_warn(name, params):
    rng = np.random.default_rng(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_solver(name, **params).fit(rng.normal(size=(10, 30)), rng.normal(size=(10, 4)))


def test_default_alpha_is_positive_and_documented():
    assert get_solver("affine").alpha == DEFAULT_ALPHA > 0
    assert get_solver("linear").alpha == DEFAULT_ALPHA
    doc = Path(__file__).resolve().parents[3] / "docs" / "solvers.md"
    if doc.is_file():  # the rationale lives next to the math
        assert f"{DEFAULT_ALPHA:g}" in doc.read_text()


@pytest.mark.parametrize("name", ["orthogonal", "lstsq-ortho"])
@pytest.mark.parametrize("dims", [(7, 7), (5, 9), (9, 5)])
def test_orthogonal_solvers_produce_orthogonal_matrices(name, dims):
    rng = np.random.default_rng(13)
    solver = get_solver(name).fit(rng.normal(size=(30, dims[0])), rng.normal(size=(30, dims[1])))
    R = solver.rotation_
    np.testing.assert_allclose(R.T @ R, np.eye(max(dims)), atol=1e-10)


# -- properties ----------------------------------------------------------------------------------
@st.composite
def problems(draw, square: bool = False):
    seed = draw(st.integers(0, 2**32 - 1))
    dx = draw(st.integers(1, 8))
    dy = dx if square else draw(st.integers(1, 8))
    n = draw(st.integers(max(2, dx + 2), 40))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dx))
    Y = X @ rng.normal(size=(dx, dy)) + rng.normal(size=(n, dy))
    return X, Y, rng


@PROPS
@given(problem=problems(), name=st.sampled_from(NAMES), data=st.data())
def test_fit_is_invariant_to_anchor_order(problem, name, data):
    X, Y, rng = problem
    perm = data.draw(st.permutations(range(len(X))))
    a = get_solver(name).fit(X, Y)
    b = get_solver(name).fit(X[perm], Y[perm])
    X_new = rng.normal(size=(5, X.shape[1]))
    np.testing.assert_allclose(b.transform(X_new, dtype=np.float64),
                               a.transform(X_new, dtype=np.float64), rtol=1e-7, atol=1e-9)


@PROPS
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(8, 16), noise=st.floats(0.1, 1.0),
       name=st.sampled_from(NAMES))
def test_anchors_translate_better_than_held_out_points(seed, d, noise, name):
    # Noisy data from a map every solver can represent (a rotation). A fitted map partly fits the
    # anchors' noise, so the anchors' residual is below the noise level and held-out residuals
    # are above it. Expected gap for the most constrained solver (Procrustes, d(d-1)/2
    # parameters for 1.5*d*d numbers) is ~0.6 noise^2 against a ~0.15 noise^2 standard error.
    rng = np.random.default_rng(seed)
    Q = rotation(d, rng)
    n = (3 * d) // 2
    X, X_out = rng.normal(size=(n, d)), rng.normal(size=(4000, d))
    Y = X @ Q + noise * rng.normal(size=(n, d))
    Y_out = X_out @ Q + noise * rng.normal(size=(4000, d))
    params = {"alpha": 0.0} if name in ("affine", "linear") else {}
    solver = get_solver(name, **params).fit(X, Y)
    anchor_mse = np.mean((solver.transform(X, dtype=np.float64) - Y) ** 2)
    held_out_mse = np.mean((solver.transform(X_out, dtype=np.float64) - Y_out) ** 2)
    assert anchor_mse < held_out_mse


@PROPS
@given(problem=problems(), name=st.sampled_from(NAMES),
       pre=st.sampled_from(["standard", "center", "none", "center+l2", "l2"]))
def test_translator_save_load_gives_identical_outputs(problem, name, pre):
    X, Y, rng = problem
    t = Translator(name, source_norm=pre, target_norm=pre).fit(X, Y)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = Translator.load(t.save(Path(tmp) / "t.safetensors"))
    X_new = rng.normal(size=(7, X.shape[1]))
    np.testing.assert_array_equal(loaded.transform(X_new), t.transform(X_new))
    np.testing.assert_array_equal(loaded.transform(X_new, space="normalized"),
                                  t.transform(X_new, space="normalized"))
    assert loaded.solver_.get_params() == t.solver_.get_params()


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["affine", "linear", "lstsq-ortho"])
@pytest.mark.parametrize("alpha", [-1.0, -1e-12, float("nan"), float("inf"), "1", True, None])
def test_bad_alpha_is_refused(name, alpha):
    with pytest.raises(InvalidInputError, match="alpha"):
        get_solver(name, alpha=alpha)
    solver = get_solver(name)
    solver.set_params(alpha=alpha)  # set_params stores; fit validates
    with pytest.raises(InvalidInputError, match="alpha"):
        solver.fit(np.ones((5, 2)) + np.eye(5, 2), np.ones((5, 2)))


@pytest.mark.parametrize("rcond", [-0.1, 1.0, 2, "x", False])
def test_bad_rcond_is_refused(rcond):
    with pytest.raises(InvalidInputError, match="rcond"):
        get_solver("affine", rcond=rcond)


@pytest.mark.parametrize("scale", [1, "yes", None])
def test_bad_scale_is_refused(scale):
    with pytest.raises(InvalidInputError, match="scale"):
        get_solver("orthogonal", scale=scale)


def test_unknown_parameter_is_refused():
    with pytest.raises(InvalidInputError, match="lam"):
        get_solver("affine", lam=1.0)
    with pytest.raises(InvalidInputError, match="no parameter"):
        get_solver("orthogonal").set_params(alpha=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_bad_fit_and_transform_inputs(name):
    rng = np.random.default_rng(14)
    X, Y = rng.normal(size=(20, 4)).astype(np.float32), rng.normal(size=(20, 3))
    solver = get_solver(name)
    with pytest.raises(NotFittedError):
        solver.transform(X)
    with pytest.raises(TooFewAnchorsError):
        solver.fit(X[:1], Y[:1])
    with pytest.raises(DimensionMismatchError):
        solver.fit(X, Y[:-1])
    for bad in (np.where(X > 1, np.nan, X), np.where(X > 1, -np.inf, X)):
        with pytest.raises(InvalidInputError, match="NaN or inf"):
            solver.fit(bad, Y)
    with pytest.raises(InvalidInputError, match="floating-point"):
        solver.fit(X.astype(np.int64), Y)
    with pytest.raises(InvalidInputError, match="2-D"):
        solver.fit(X[:, 0], Y)
    solver.fit(X, Y)
    with pytest.raises(DimensionMismatchError):
        solver.transform(X[:, :3])
    with pytest.raises(InvalidInputError):
        solver.transform(np.full((2, 4), np.nan))


def test_package_exports():
    assert set(semalign_solvers.__all__) >= {"AffineSolver", "IllConditionedWarning"}
    assert issubclass(IllConditionedWarning, UserWarning)


@pytest.mark.parametrize("dims", [(7, 7), (5, 9), (9, 5)])
def test_padded_polar_equals_the_polar_factor_of_the_padded_matrix(dims):
    from semalign_solvers._solvers import _padded_polar

    rng = np.random.default_rng(17)
    M = rng.normal(size=dims)
    d = max(dims)
    P = np.zeros((d, d))
    P[:dims[0], :dims[1]] = M
    U, s_ref, Vt = np.linalg.svd(P)
    R, s = _padded_polar(M)
    np.testing.assert_allclose(R.T @ R, np.eye(d), atol=1e-12)
    # the block the solvers use is unique (the rest completes it to an orthogonal matrix)
    np.testing.assert_allclose(R[:dims[0], :dims[1]], (U @ Vt)[:dims[0], :dims[1]], atol=1e-12)
    np.testing.assert_allclose(s, s_ref[:min(dims)], rtol=1e-12)
