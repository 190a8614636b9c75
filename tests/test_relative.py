"""Relative representations: known answers, invariances, zero-shot and stitching, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semalign_core import (
    CorruptFileError,
    Embeddings,
    InvalidInputError,
    NotFittedError,
    RelativeTranslator,
    StitchedClassifier,
    TooFewAnchorsError,
    ZeroShotClassifier,
)


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    return np.linalg.qr(rng.normal(size=(d, d)))[0]


def test_relative_representation_is_the_cosine_to_each_anchor():
    A = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    t = RelativeTranslator(source_norm="none", target_norm="none").fit(A, A)
    x = np.array([[3.0, 0.0], [1.0, -1.0]])
    expected = [[1.0, 0.0, 1 / np.sqrt(2)], [1 / np.sqrt(2), -1 / np.sqrt(2), 0.0]]
    assert np.allclose(t.transform(x, space="normalized"), expected, atol=1e-6)
    assert np.allclose(t.transform_target(x), expected, atol=1e-6)
    assert t.output_dim == 3 and t.transform(x, space="normalized").dtype == np.float32


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0), k=st.integers(2, 12))
def test_invariant_to_rotation_scale_and_offset(seed, scale, k):
    # centred cosines do not change under y = s x R + b, so both sides land on the same vectors
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(k + 10, 6))
    Y = scale * X @ _rotation(rng, 6) + rng.normal(size=6)
    t = RelativeTranslator().fit(X[:k], Y[:k])
    assert np.allclose(t.transform(X[k:], space="normalized"), t.transform_target(Y[k:]),
                       atol=1e-4)


def test_different_dimensions_share_the_relative_space():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    Y = np.hstack([X @ _rotation(rng, 5), np.zeros((40, 3))])  # 8-d target
    t = RelativeTranslator().fit(X[:20], Y[:20])
    assert t.source_dim_ == 5 and t.target_dim_ == 8 and t.output_dim == 20
    assert np.allclose(t.transform(X[20:], space="normalized"), t.transform_target(Y[20:]),
                       atol=1e-5)


def _world(seed: int = 0):
    """Two classes; the target space is a rotated, shifted copy of the source space."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]])
    y = rng.integers(0, 2, 200)
    X = centres[y] + rng.normal(size=(200, 4))
    R = _rotation(rng, 4)
    return X, X @ R + 5.0, y, centres @ R + 5.0


def test_zero_shot_through_relative_representations():
    X, Y, y, class_targets = _world()
    t = RelativeTranslator().fit(X[:50], Y[:50])
    text = Embeddings(class_targets.astype(np.float32), ["a", "b"])
    clf = ZeroShotClassifier(t, text, device="cpu")
    assert clf.space == "normalized"  # its only space is the default
    assert (clf.predict(X[50:]) == np.array(["a", "b"])[y[50:]]).mean() > 0.95
    with pytest.raises(InvalidInputError, match="relative space only"):
        ZeroShotClassifier(t, text, space="raw", device="cpu").predict(X[50:])


def test_stitching_through_relative_representations():
    from sklearn.linear_model import LogisticRegression

    X, Y, y, _ = _world(1)
    t = RelativeTranslator().fit(X[:50], Y[:50])
    head = LogisticRegression().fit(t.transform_target(Y[50:120]), y[50:120])  # target side
    stitched = StitchedClassifier(t, head, space="normalized")
    assert (stitched.predict(X[120:]) == y[120:]).mean() > 0.95  # applied to the source side
    assert stitched.predict_proba(X[:0]).shape == (0, 2)
    with pytest.raises(InvalidInputError, match="relative space only"):
        StitchedClassifier(t, head).predict(X[120:])


def test_errors(tmp_path):
    t = RelativeTranslator()
    with pytest.raises(NotFittedError):
        t.transform(np.zeros((1, 3)), space="normalized")
    with pytest.raises(TooFewAnchorsError):
        t.fit(np.ones((1, 3)), np.ones((1, 2)))
    with pytest.raises(InvalidInputError, match="unknown normalisation step"):
        RelativeTranslator(source_norm="whiten").fit(np.eye(3), np.eye(3))
    t.fit(np.eye(3), np.eye(3))
    with pytest.raises(InvalidInputError, match="3-d source"):
        t.transform(np.zeros((2, 4)), space="normalized")


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(30, 6)), rng.normal(size=(30, 4))
    t = RelativeTranslator(source_norm="standard").fit(X, Y)
    path = t.save(tmp_path / "rel.safetensors")
    loaded = RelativeTranslator.load(path)
    assert np.array_equal(loaded.transform(X, space="normalized"),
                          t.transform(X, space="normalized"))
    assert np.array_equal(loaded.transform_target(Y), t.transform_target(Y))
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        RelativeTranslator.load(tmp_path / "bad.safetensors")
