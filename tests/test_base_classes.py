"""Encoder, AnchorSelector and Solver base classes, through the conformance checks."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FirstNSelector, HashTextEncoder

from semalign_core import (
    Embeddings,
    InvalidInputError,
    NotFittedError,
    PluginError,
    TooFewAnchorsError,
)
from semalign_core.align.identity import IdentitySolver
from semalign_core.testing import check_anchor_selector, check_encoder, check_solver

TEXTS = ["a normal chest", "right lower lobe pneumonia", "no acute disease", "effusion"]


def test_encoder_conformance():
    check_encoder(HashTextEncoder(), TEXTS)


def test_encoder_loads_once_on_first_use():
    encoder = HashTextEncoder()
    assert not encoder.is_loaded and encoder.loads == 0
    encoder.encode(TEXTS, progress=False)
    encoder.encode(TEXTS, progress=False)
    assert encoder.is_loaded and encoder.loads == 1


def test_encoder_ids_and_batches():
    emb = HashTextEncoder().encode(TEXTS, ids=["w", "x", "y", "z"], batch_size=3, progress=False)
    assert isinstance(emb, Embeddings) and emb.ids == ("w", "x", "y", "z")
    assert HashTextEncoder().encode(TEXTS, progress=False).ids == ("0", "1", "2", "3")


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "8"])
def test_encoder_rejects_bad_batch_size(batch_size):
    with pytest.raises(InvalidInputError, match="batch_size"):
        HashTextEncoder().encode(TEXTS, batch_size=batch_size)


def test_encoder_rejects_wrong_id_count():
    with pytest.raises(InvalidInputError, match="2 ids for 4 items"):
        HashTextEncoder().encode(TEXTS, ids=["a", "b"])


def test_encoder_returning_a_wrong_shape_is_a_plugin_error():
    class Broken(HashTextEncoder):
        def encode_batch(self, items):
            return np.zeros((len(items), self.dim + 1), np.float32)

    with pytest.raises(PluginError, match="returned shape"):
        Broken().encode(TEXTS, progress=False)


def test_encoder_conformance_catches_batch_dependence():
    class BatchDependent(HashTextEncoder):
        def encode_batch(self, items):
            return super().encode_batch(items) + len(items)

    with pytest.raises(AssertionError, match="batch size"):
        check_encoder(BatchDependent(), TEXTS)


def test_selector_conformance():
    check_anchor_selector(FirstNSelector(seed=1))


def test_selector_contract_violation_is_reported():
    class Repeats(FirstNSelector):
        def _select(self, X, n, labels, rng):
            return np.zeros(n, dtype=np.int64)

    with pytest.raises(PluginError, match="distinct indices"):
        Repeats().select(np.eye(4), 3)


def test_selector_errors():
    selector = FirstNSelector()
    with pytest.raises(TooFewAnchorsError, match="pool of 4"):
        selector.select(np.eye(4), 5)
    with pytest.raises(TooFewAnchorsError, match="at least 2"):
        selector.select(np.eye(4), 1)
    with pytest.raises(InvalidInputError, match="must be an int"):
        selector.select(np.eye(4), 2.0)
    with pytest.raises(InvalidInputError, match="labels"):
        selector.select(np.eye(4), 2, labels=[0, 1])


def test_solver_conformance():
    check_solver(IdentitySolver(), dims=(5, 5))


def test_solver_conformance_catches_stored_state_outside_underscored_attributes():
    class Sloppy(IdentitySolver):
        def _fit(self, X, Y):
            self.weights = np.eye(X.shape[1])

    with pytest.raises(AssertionError, match="end in '_'"):
        check_solver(Sloppy(), dims=(5, 5))


def test_solver_unfitted_and_refit():
    solver = IdentitySolver()
    with pytest.raises(NotFittedError, match="fit"):
        solver.transform(np.eye(3))
    solver.fit(np.eye(3), np.eye(3))
    assert solver.n_anchors_ == 3
    solver.fit(np.ones((4, 2)), np.ones((4, 2)))
    assert solver.n_anchors_ == 4 and solver.n_features_in_ == 2


def test_params_round_trip():
    selector = FirstNSelector(seed=5)
    assert selector.get_params() == {"seed": 5}
    assert selector.set_params(seed=7).seed == 7
    assert repr(selector) == "FirstNSelector(seed=7)"
    with pytest.raises(InvalidInputError, match="no parameter 'alpha'"):
        selector.set_params(alpha=1)
