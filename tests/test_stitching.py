"""StitchedClassifier: a head trained on the target space, applied to translated source vectors."""

from __future__ import annotations

import numpy as np
import pytest

from semalign_core import (
    DimensionMismatchError,
    Embeddings,
    EncoderMismatchError,
    Fingerprint,
    InvalidInputError,
    NotFittedError,
    Solver,
    Translator,
)
from semalign_core.evaluation.metrics import accuracy, auroc
from semalign_core.zeroshot.stitching import LinearHead, StitchedClassifier

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402


class LstsqSolver(Solver):
    """Affine least squares; exact when the target is an affine image of the source."""

    name = "test-lstsq"

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.coef_ = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((len(X), 1))]) @ self.coef_


@pytest.fixture(scope="module")
def world() -> dict:
    """Target space: 3 well-separated clusters in 16-d; source = rotation of the target
    (plus an offset), so the translator recovers it exactly."""
    rng = np.random.default_rng(0)
    centers = 6.0 * rng.normal(size=(3, 16))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, size=n)
        return centers[y] + rng.normal(size=(n, 16)), y

    Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    to_source = lambda Y: Y @ Q + 2.0  # noqa: E731
    Y_anchor, _ = sample(200)
    Y_train, y_train = sample(300)
    Y_test, y_test = sample(150)
    fp_src = Fingerprint("test-general", "x", "none", 16)
    fp_tgt = Fingerprint("test-special", "y", "none", 16)
    translator = Translator(LstsqSolver()).fit(
        Embeddings(to_source(Y_anchor).astype(np.float32), [str(i) for i in range(200)], fp_src),
        Embeddings(Y_anchor.astype(np.float32), [str(i) for i in range(200)], fp_tgt))
    head = LogisticRegression(max_iter=1000).fit(Y_train, y_train)  # trained on target only
    X_test = Embeddings(to_source(Y_test).astype(np.float32), [str(i) for i in range(150)],
                        fp_src)
    return {"translator": translator, "head": head, "X_test": X_test, "Y_test": Y_test,
            "y_test": y_test, "fp_src": fp_src}


def test_stitched_head_is_perfect_on_a_rotated_space(world):
    clf = StitchedClassifier(world["translator"], world["head"])
    y = world["y_test"]
    assert accuracy(y, clf.predict(world["X_test"])) == 1.0
    proba = clf.predict_proba(world["X_test"])
    assert auroc(y, proba) == 1.0
    # the passthrough equals the head applied to the exact target vectors
    np.testing.assert_allclose(proba, world["head"].predict_proba(world["Y_test"]), atol=1e-4)
    np.testing.assert_allclose(clf.decision_function(world["X_test"]),
                               world["head"].decision_function(world["Y_test"]), atol=1e-3)
    np.testing.assert_array_equal(clf.classes_, world["head"].classes_)
    np.testing.assert_allclose(clf.transform(world["X_test"]), world["Y_test"], atol=1e-3)


def test_space_chooses_where_the_head_is_applied(world):
    t = world["translator"]
    X = world["X_test"]
    for space in ("raw", "normalized", "centered"):
        clf = StitchedClassifier(t, world["head"], space=space)
        np.testing.assert_array_equal(clf.transform(X), t.transform(X, space=space).vectors)
    with pytest.warns(DeprecationWarning, match="space='normalized'"):
        old = StitchedClassifier(t, world["head"], normalized=True)
    assert old.space == "normalized"
    with pytest.raises(InvalidInputError, match="space must be one of"):
        StitchedClassifier(t, world["head"], space="target")


def test_batches_give_identical_results(world):
    whole = StitchedClassifier(world["translator"], world["head"])
    small = StitchedClassifier(world["translator"], world["head"], batch_size=11)
    np.testing.assert_allclose(small.predict_proba(world["X_test"]),
                               whole.predict_proba(world["X_test"]), rtol=1e-6)
    empty = small.predict_proba(np.zeros((0, 16), np.float32))
    assert empty.shape == (0, 3)


def test_weights_and_bias_head_equals_the_sklearn_head(world):
    head = world["head"]
    from_weights = StitchedClassifier(world["translator"], (head.coef_, head.intercept_))
    reference = StitchedClassifier(world["translator"], head)
    np.testing.assert_allclose(from_weights.decision_function(world["X_test"]),
                               reference.decision_function(world["X_test"]), rtol=1e-6)
    np.testing.assert_allclose(from_weights.predict_proba(world["X_test"]),
                               reference.predict_proba(world["X_test"]), atol=1e-6)
    np.testing.assert_array_equal(from_weights.predict(world["X_test"]),
                                  reference.predict(world["X_test"]))


def test_binary_linear_head_matches_logistic_regression():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(200, 5))
    y = np.where(Y[:, 0] + 0.3 * rng.normal(size=200) > 0, "pos", "neg")
    lr = LogisticRegression().fit(Y, y)
    head = LinearHead(lr.coef_, lr.intercept_, classes=lr.classes_)
    np.testing.assert_allclose(head.decision_function(Y), lr.decision_function(Y), rtol=1e-8)
    np.testing.assert_allclose(head.predict_proba(Y), lr.predict_proba(Y), rtol=1e-8)
    np.testing.assert_array_equal(head.predict(Y), lr.predict(Y))
    assert head.classes_.tolist() == ["neg", "pos"]


def test_head_without_predict_proba_passes_through_what_it_has(world):
    svc = LinearSVC().fit(world["Y_test"], world["y_test"])
    clf = StitchedClassifier(world["translator"], svc)
    assert clf.predict(world["X_test"]).shape == (150,)
    with pytest.raises(AttributeError, match="no predict_proba"):
        clf.predict_proba(world["X_test"])


def test_errors(world):
    with pytest.raises(NotFittedError, match="translator is not fitted"):
        StitchedClassifier(Translator(LstsqSolver()), world["head"])
    with pytest.raises(NotFittedError, match="head LogisticRegression is not fitted"):
        StitchedClassifier(world["translator"], LogisticRegression())
    small_head = LogisticRegression().fit(np.random.default_rng(0).normal(size=(20, 8)),
                                          np.arange(20) % 2)
    with pytest.raises(DimensionMismatchError, match="expects 8-d inputs"):
        StitchedClassifier(world["translator"], small_head)
    W = np.ones((16, 3))  # (dim, n_classes): transposed
    with pytest.raises(DimensionMismatchError, match="transposed"):
        StitchedClassifier(world["translator"], (W, np.zeros(16)))
    with pytest.raises(InvalidInputError, match="bias"):
        LinearHead(np.ones((3, 16)), np.zeros(2))
    with pytest.raises(InvalidInputError, match="class labels"):
        LinearHead(np.ones((3, 16)), classes=["a", "b"])
    with pytest.raises(InvalidInputError, match="predict"):
        StitchedClassifier(world["translator"], object())
    with pytest.raises(InvalidInputError, match="weights, bias"):
        StitchedClassifier(world["translator"], (1, 2, 3))
    clf = StitchedClassifier(world["translator"], world["head"])
    other = Embeddings(world["X_test"].vectors, world["X_test"].ids,
                       Fingerprint("other", "x", "none", 16))
    with pytest.raises(EncoderMismatchError):
        clf.predict(other)
