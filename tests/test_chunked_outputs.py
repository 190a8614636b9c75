"""Chunked outputs: transform, predict, decision_scores, predict_proba and LabelIndex.scores
write each chunk straight into one preallocated result. The results are bit-identical to the
concatenation of per-chunk results (the implementation before), also across chunk boundaries
and for memory-mapped input, and their working memory does not grow with the number of rows
(tracemalloc is exact, so this is no timing test; benchmarks/bench_memory.py measures it at
100k and 1M in fresh processes)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import FoldableLstsqSolver

from semalign_core import Embeddings, RelativeTranslator, Translator, hookimpl
from semalign_core.zeroshot.classifier import LabelIndex, PromptSet, ZeroShotClassifier

pytest.importorskip("faiss")

DX, DY = 24, 16
#: The core env has no solver plugin: an affine least-squares solver with a foldable map stands in.
SOLVER = "test-lstsq-foldable"


class _Plugin:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register(SOLVER, FoldableLstsqSolver)


@pytest.fixture(autouse=True)
def _solver(semalign_register_plugin):  # type: ignore[no-untyped-def]
    semalign_register_plugin(_Plugin(), "test-chunked-outputs-solver")


def _anchors(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, DX)).astype(np.float32)
    Y = (X @ rng.normal(size=(DX, DY)) + 0.3 * rng.normal(size=(300, DY)) + 1.0)
    return X, Y.astype(np.float32)


def _images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DX)).astype(np.float32)


def _classifier(source_norm: str, K: int, *, batch_size: int = 64,
                multilabel: bool = False) -> ZeroShotClassifier:
    t = Translator(SOLVER, source_norm=source_norm).fit(*_anchors())
    rng = np.random.default_rng(K)
    if not multilabel:
        C = rng.normal(size=(K, DY)).astype(np.float32)
        return ZeroShotClassifier(t, Embeddings(C, [f"c{i}" for i in range(K)]), device="cpu",
                                  batch_size=batch_size)
    ps = PromptSet.from_templates([f"f{i}" for i in range(K)], "{} is present",
                                  negative_templates="no {}")
    texts = list(ps.texts())
    V = rng.normal(size=(len(texts), DY)).astype(np.float32)
    return ZeroShotClassifier(t, Embeddings(V, texts), ps, device="cpu", batch_size=batch_size)


def _concatenated(clf: ZeroShotClassifier, X: np.ndarray, fn) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The former implementation: a list of per-chunk results, concatenated."""
    return np.concatenate([fn(Z) for Z in clf._chunks(X)])


@pytest.fixture(params=["array", "memmap"])
def images(request, tmp_path) -> np.ndarray:  # type: ignore[no-untyped-def]
    X = _images(203)  # 203 = 3 full chunks of 64 and a partial one
    if request.param == "array":
        return X
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r")


@pytest.mark.parametrize("K", [2, 14])
@pytest.mark.parametrize("source_norm", ["standard", "standard+l2"])  # folded / general predict
def test_scores_and_probabilities_equal_the_concatenated_chunks(images, K, source_norm):
    clf = _classifier(source_norm, K)
    clf._build()
    assert (clf._folded is None) == (source_norm == "standard+l2")
    scores = clf.decision_scores(images)
    assert scores.dtype == np.float32 and scores.shape == (203, K)
    np.testing.assert_array_equal(scores, _concatenated(clf, images, clf._scores))
    proba = clf.predict_proba(images)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba, _concatenated(clf, images, clf._proba))
    labels = clf.predict(images)
    assert labels.dtype == clf.classes_.dtype and labels.shape == (203,)
    np.testing.assert_array_equal(labels, clf.classes_[scores.argmax(axis=1)])
    assert len(set(labels)) > 1
    # the result does not depend on where the chunks fall
    other = _classifier(source_norm, K, batch_size=7)
    np.testing.assert_array_equal(other.decision_scores(images), scores)
    np.testing.assert_array_equal(other.predict(images), labels)


@pytest.mark.parametrize("source_norm", ["standard", "standard+l2"])
def test_multilabel_predictions_equal_thresholded_probabilities(images, source_norm):
    clf = _classifier(source_norm, 5, multilabel=True)
    clf._build()
    assert (clf._folded is None) == (source_norm == "standard+l2")
    proba = clf.predict_proba(images)
    np.testing.assert_array_equal(proba, _concatenated(clf, images, clf._proba))
    predicted = clf.predict(images)
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, (proba >= 0.5).astype(np.int64))
    assert 0 < predicted.mean() < 1


def test_empty_input_keeps_shapes_and_dtypes():
    for source_norm in ("standard", "standard+l2"):
        clf = _classifier(source_norm, 3)
        empty = _images(0)
        assert clf.decision_scores(empty).shape == (0, 3)
        assert clf.predict_proba(empty).dtype == np.float64
        assert clf.predict(empty).shape == (0,)
    multi = _classifier("standard+l2", 3, multilabel=True)
    assert multi.predict(_images(0)).shape == (0, 3)


def test_label_index_scores_equal_the_dense_product_across_tiles(monkeypatch):
    rng = np.random.default_rng(3)
    E = rng.normal(size=(5, DY)).astype(np.float32)
    Q = rng.normal(size=(1050, DY)).astype(np.float32)
    index = LabelIndex([f"l{i}" for i in range(5)], E, device="cpu")
    np.testing.assert_array_equal(index.scores(Q), Q @ E.T)  # one tile
    monkeypatch.setattr(index, "_rows", 100)  # 11 tiles, the last partial
    tiled = index.scores(Q)
    assert tiled.dtype == np.float32 and tiled.shape == (1050, 5)
    np.testing.assert_array_equal(tiled, np.concatenate(
        [Q[lo:lo + 100] @ E.T for lo in range(0, len(Q), 100)]))
    np.testing.assert_allclose(tiled, Q @ E.T, rtol=1e-5, atol=1e-5)
    assert index.scores(Q[:0]).shape == (0, 5)


def test_relative_transform_equals_its_chunks():
    X, Y = _anchors()
    t = RelativeTranslator().fit(X[:40], Y[:40])
    images = _images(203)
    out = t.transform(images, space="normalized", batch_size=64)
    np.testing.assert_array_equal(out, np.concatenate(
        list(t.iter_transform(images, space="normalized", batch_size=64))))
    assert t.transform(images[:0], space="normalized").shape == (0, 40)


def _working_memory(call, X: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    call(X[:10])  # lazy builds outside the measurement
    tracemalloc.start()
    result = call(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - result.nbytes


@pytest.mark.parametrize("method", ["decision_scores", "predict_proba", "predict"])
@pytest.mark.parametrize("source_norm", ["standard", "standard+l2"])
def test_working_memory_does_not_grow_with_the_number_of_images(method, source_norm):
    """10x the images, the same working memory beyond the result (one chunk's temporaries)."""
    clf = _classifier(source_norm, 14, batch_size=256)
    small, large = _images(2_560), _images(25_600)
    a = _working_memory(getattr(clf, method), small)
    b = _working_memory(getattr(clf, method), large)
    # a list of per-chunk parts alone would add the result's size again: 25_600 x 14 x 8 bytes
    assert b <= 1.10 * a + 16_384, (method, a, b)


def test_transform_working_memory_does_not_grow_with_the_number_of_rows():
    for t in (Translator(SOLVER).fit(*_anchors()),
              Translator(SOLVER, source_norm="standard+l2").fit(*_anchors())):
        small, large = _images(4_096), _images(40_960)
        a = _working_memory(t.transform, small)
        b = _working_memory(t.transform, large)
        assert b <= 1.10 * a + 16_384, (a, b)
