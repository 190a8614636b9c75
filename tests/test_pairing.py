"""Issue 11, item 3: Translator.fit pairs two Embeddings by id, never silently by row."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LstsqSolver

from semalign_core import Embeddings, InvalidInputError, Translator, hookimpl


class _Plugin:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register("test-lstsq", LstsqSolver)


@pytest.fixture(autouse=True)
def _solver(semalign_register_plugin):
    semalign_register_plugin(_Plugin(), "test-pairing-solver")


def _pairs(n: int = 30):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    W = rng.normal(size=(5, 3))
    Y = (X @ W + 2.0).astype(np.float32)
    ids = [f"i{k}" for k in range(n)]
    return Embeddings(X, ids), Embeddings(Y, ids), X, Y


def _fit(src, tgt, **kw):
    return Translator("test-lstsq", source_norm="none",
                      target_norm="none").fit(src, tgt, **kw)


def test_a_reversed_target_is_paired_by_id():
    src, tgt, X, Y = _pairs()
    reversed_target = tgt.subset(list(reversed(tgt.ids)))
    translator = _fit(src, reversed_target)
    np.testing.assert_allclose(translator.transform(X), Y, atol=1e-4)  # the right map


def test_sets_sharing_no_id_are_refused():
    src, _, X, Y = _pairs()
    other = Embeddings(Y, [f"t{k}" for k in range(len(Y))])
    with pytest.raises(InvalidInputError, match="share no id"):
        _fit(src, other)
    assert _fit(src, other, pairing="rows").n_anchors_ == len(X)  # the caller says rows pair


def test_partial_overlap_is_refused_unless_intersection_is_asked_for():
    src, tgt, X, Y = _pairs()
    partial = tgt.subset(list(reversed(tgt.ids[5:])))
    with pytest.raises(InvalidInputError, match="share 25 of 30 source and 25 target ids"):
        _fit(src, partial)
    translator = _fit(src, partial, pairing="intersection")
    assert translator.n_anchors_ == 25
    np.testing.assert_allclose(translator.transform(X), Y, atol=1e-4)


def test_intersection_keeps_source_order_and_arrays_pair_by_row():
    from semalign_core.align.pairing import pair_by_id

    src, tgt, X, Y = _pairs(6)
    a, b = pair_by_id(src.subset(["i3", "i1", "i5"]), tgt.subset(["i5", "i0", "i1"]),
                      "intersection")
    assert a.ids == b.ids == ("i1", "i5")
    assert pair_by_id(X, Y)[0] is X
    with pytest.raises(InvalidInputError, match="pairing must be one of"):
        pair_by_id(src, tgt, "by-magic")
