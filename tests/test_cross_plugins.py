"""Every registered solver and anchor selector, whichever plugin provides it: conformance, and
every solver with every selector end to end (select -> fit -> translate held-out items)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from semalign_core import (
    DimensionMismatchError,
    Translator,
    get_anchor_selector,
    get_solver,
    list_anchor_selectors,
    list_solvers,
)
from semalign_core.testing import check_anchor_selector, check_solver

# Runs in the torch env, where every plugin is installed; the core env has none.
pytest.importorskip("semalign_solvers")
pytest.importorskip("semalign_anchors")

SOLVERS = list_solvers()
SELECTORS = list_anchor_selectors()


def _accepts_unequal_dims(name: str) -> bool:
    """Some solvers (identity, shifts) only map a space onto one of the same dimension."""
    rng = np.random.default_rng(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            get_solver(name).fit(rng.normal(size=(20, 6)), rng.normal(size=(20, 4)))
    except DimensionMismatchError:
        return False
    return True


def test_the_reference_components_are_registered():
    # The solver and anchor plugins are installed in every environment that runs these tests.
    assert {"affine", "linear", "orthogonal", "lstsq-ortho"} <= set(SOLVERS)
    assert {"random", "kmeans", "stratified", "fps"} <= set(SELECTORS)


@pytest.mark.parametrize("name", SOLVERS)
def test_solver_conformance(name):
    check_solver(get_solver(name), dims=(6, 6))
    if _accepts_unequal_dims(name):
        check_solver(get_solver(name), dims=(6, 4))
        check_solver(get_solver(name), dims=(3, 5), seed=1)


@pytest.mark.parametrize("name", SELECTORS)
def test_selector_conformance(name):
    check_anchor_selector(get_anchor_selector(name))


def _paired_spaces(seed: int = 0):
    """Two spaces related by a noisy rotation (same dim, so every solver applies), with an
    offset and per-dimension scales the preprocessing has to handle, and two classes."""
    rng = np.random.default_rng(seed)
    d, n = 12, 400
    labels = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, d)) + 1.5 * labels[:, None]
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = (X @ Q) * rng.uniform(0.5, 2.0, size=d) + 4.0 + 0.05 * rng.normal(size=(n, d))
    return X.astype(np.float32), Y.astype(np.float32), labels


@pytest.mark.parametrize("selector", SELECTORS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_with_every_selector(solver, selector):
    X, Y, labels = _paired_spaces()
    pool, held_out = np.arange(300), np.arange(300, 400)
    idx = get_anchor_selector(selector, seed=0).select(X[pool], 60, labels=labels[pool])
    anchors = pool[idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unregularised fit may warn; that is tested elsewhere
        t = Translator(solver).fit(X[anchors], Y[anchors])
    pred = t.transform(X[held_out])
    assert pred.shape == (100, 12) and pred.dtype == np.float32 and np.isfinite(pred).all()
    # Sane: better than predicting the anchors' target mean (the no-information baseline). The
    # default ridge of affine/linear is tuned for hundreds of dimensions and noisy pairs and
    # shrinks this small clean problem hard, so they must also be accurate with a small alpha.
    # Identity-style controls only need finite output.
    err = np.mean((pred - Y[held_out]) ** 2)
    baseline = np.mean((Y[anchors].mean(axis=0) - Y[held_out]) ** 2)
    if solver in ("affine", "linear", "orthogonal", "lstsq-ortho"):
        assert err < baseline, (solver, selector, err, baseline)
    if solver == "orthogonal":  # no shrinkage: the best orthogonal map is close to the truth
        assert err < 0.1 * baseline, (solver, selector, err, baseline)
    if solver in ("affine", "linear"):
        light = Translator(solver, solver_params={"alpha": 1.0}).fit(X[anchors], Y[anchors])
        assert np.mean((light.transform(X[held_out]) - Y[held_out]) ** 2) < 0.1 * baseline
    # And repeatable end to end.
    again = Translator(solver).fit(
        X[pool[get_anchor_selector(selector, seed=0).select(X[pool], 60, labels=labels[pool])]],
        Y[anchors])
    np.testing.assert_array_equal(again.transform(X[held_out]), pred)
