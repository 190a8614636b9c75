"""The CCA solver: scikit-learn's CCA as a stored affine map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semalign_solvers import CCASolver

from semalign_core import InvalidInputError, TooFewAnchorsError, Translator, get_solver
from semalign_core.testing import check_solver


def test_registered_and_conformant():
    assert get_solver("cca", n_components=3).name == "cca"
    check_solver(get_solver("cca", n_components=3))
    check_solver(get_solver("cca", n_components=3), dims=(4, 7), n=30, seed=3)


def test_map_is_least_squares_on_scikit_learns_canonical_scores():
    from sklearn.cross_decomposition import CCA
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(80, 9)), rng.normal(size=(80, 5))
    Y[:, :3] += X[:, :3] @ rng.normal(size=(3, 3))
    ours = CCASolver(n_components=3).fit(X, Y)
    cca = CCA(n_components=3, scale=False).fit(X, Y)
    reg = LinearRegression().fit(cca.transform(X), Y)
    new = rng.normal(size=(20, 9))
    assert np.allclose(ours.transform(new, dtype=np.float64), reg.predict(cca.transform(new)),
                       atol=1e-8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rank=st.integers(1, 3))
def test_recovers_a_low_rank_affine_map(seed, rank):
    # Y depends on X only through `rank` directions: CCA with that many components is exact
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 6))
    W = rng.normal(size=(6, rank)) @ rng.normal(size=(rank, 4))
    b = rng.normal(size=4)
    solver = CCASolver(n_components=rank, max_iter=5000, tol=1e-12).fit(X, X @ W + b)
    assert np.allclose(solver.coef_, W, atol=1e-5) and np.allclose(solver.intercept_, b,
                                                                   atol=1e-5)


def test_keeps_only_shared_directions():
    # the target has one direction the source explains and three of noise: the rank-1 CCA map
    # generalises better than unregularised least squares on few anchors
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 20))
    Y = np.column_stack([X[:, 0], rng.normal(size=(400, 3))])
    cca = CCASolver(n_components=1).fit(X[:30], Y[:30])
    lsq = get_solver("affine", alpha=0.0).fit(X[:30], Y[:30])
    err = {name: float(((s.transform(X[30:]) - Y[30:]) ** 2).mean())
           for name, s in (("cca", cca), ("lsq", lsq))}
    assert err["cca"] < err["lsq"]


def test_bad_parameters_and_too_few_anchors():
    for bad in ({"n_components": 0}, {"n_components": 2.5}, {"max_iter": 0}, {"tol": -1.0}):
        with pytest.raises(InvalidInputError):
            CCASolver(**bad)
    with pytest.raises(TooFewAnchorsError, match="Lower n_components to at most 3"):
        CCASolver(n_components=5).fit(np.random.default_rng(0).normal(size=(10, 3)),
                                      np.random.default_rng(1).normal(size=(10, 4)))


def test_translator_save_load(tmp_path):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(50, 6)), rng.normal(size=(50, 4))
    t = Translator("cca", solver_params={"n_components": 2}).fit(X, Y)
    loaded = Translator.load(t.save(tmp_path / "cca.safetensors"))
    assert np.array_equal(loaded.transform(X), t.transform(X))
