"""What a plugin's own test suite looks like: conformance checks plus behaviour tests."""

from __future__ import annotations

import numpy as np
import pytest
from semalign_example import HashEncoder, ShiftSolver, SpreadSelector

from semalign_core import (
    DimensionMismatchError,
    get_anchor_selector,
    get_solver,
    list_anchor_selectors,
    list_encoders,
    list_solvers,
    plugin_infos,
)
from semalign_core.testing import parametrize_with_checks


def test_plugin_is_discovered_through_its_entry_point():
    info = next(i for i in plugin_infos() if i.name == "semalign-example")
    assert info.status == "loaded"
    assert "example-hash-text" in list_encoders(modality="text")
    assert "example-hash-text" not in list_encoders(modality="image")
    assert "example-hash" in list_encoders(aliases=True)  # the name before the naming rule
    assert "example-spread" in list_anchor_selectors()
    assert "example-shift" in list_solvers()


# One pytest case per rule of each base class's contract, named <class>-<rule> (the idea of
# scikit-learn's parametrize_with_checks): a broken plugin sees every failing rule at once, and
# `pytest -k shape` runs one rule. ShiftSolver needs equal dimensions, hence dims=(4, 4).
@parametrize_with_checks([HashEncoder(), SpreadSelector(seed=0), ShiftSolver()], dims=(4, 4))
def test_conformance(obj, check):
    check(obj)


def test_solver_recovers_a_translation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    solver = get_solver("example-shift").fit(X, X + np.array([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(solver.shift_, [1.0, -2.0, 0.5])
    with pytest.raises(DimensionMismatchError):
        get_solver("example-shift").fit(X, X[:, :2])


def test_selector_spans_the_pool():
    X = np.arange(10, dtype=np.float64)[:, None] * [1.0, 0.0]
    chosen = get_anchor_selector("example-spread").select(X, 3)
    assert sorted(X[chosen, 0].tolist()) == [0.0, 4.0, 9.0] or \
        sorted(X[chosen, 0].tolist()) == [0.0, 5.0, 9.0]


def test_isolated_fixture_hides_installed_plugins(semalign_isolated_plugins):
    assert "example-shift" not in list_solvers()
