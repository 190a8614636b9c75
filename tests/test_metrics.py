"""Metrics: known answers against hand-computed small cases, bootstrap properties, fidelity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semalign_core import DimensionMismatchError, InvalidInputError
from semalign_core.evaluation.metrics import (
    ConfidenceInterval,
    accuracy,
    alignment_fidelity,
    auroc,
    auroc_per_label,
    balanced_accuracy,
    bootstrap_ci,
    classification_metrics,
    confusion_matrix,
    linear_cka,
    macro_f1,
    mean_cosine,
    mse,
    retrieval_metrics,
)

pytest.importorskip("sklearn")


# -- classification known answers --------------------------------------------------------------
def test_label_metrics_known_answers():
    y = ["n", "n", "n", "p"]
    pred = ["n", "n", "n", "n"]
    assert accuracy(y, pred) == 0.75
    assert balanced_accuracy(y, pred) == 0.5  # recall 1 for n, 0 for p
    f1_n = 2 * 0.75 * 1.0 / 1.75  # precision 3/4, recall 1
    assert macro_f1(y, pred) == pytest.approx((f1_n + 0.0) / 2)
    np.testing.assert_array_equal(confusion_matrix(y, pred), [[3, 0], [1, 0]])
    np.testing.assert_array_equal(confusion_matrix(y, pred, labels=["p", "n"]), [[0, 1], [0, 3]])
    assert balanced_accuracy([0, 0, 1, 1, 2], [0, 1, 1, 1, 0]) == pytest.approx((0.5 + 1 + 0) / 3)


def test_binary_auroc_known_answer():
    y = np.array(["normal", "normal", "pneumonia", "pneumonia"])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    # positive-negative pairs ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4) -> 3 of 4
    assert auroc(y, s) == 0.75  # the larger label, "pneumonia", is positive
    assert auroc(y, s, pos_label="normal") == 0.25
    proba = np.column_stack([1 - s, s])
    assert auroc(y, proba) == 0.75  # predict_proba layout: column 1 is the positive class
    # with a score per class, pos_label picks its column: the "normal" column ranks the same
    assert auroc(y, proba, pos_label="normal") == 0.75


def test_one_vs_rest_auroc_known_answer_accepts_raw_scores():
    y = np.array([0, 0, 1, 1, 2, 2])
    S = np.array([[0.9, 0.1, 0.0],
                  [0.2, 0.3, 0.1],
                  [0.1, 0.8, 0.1],
                  [0.3, 0.2, 0.6],
                  [0.0, 0.1, 0.9],
                  [0.4, 0.3, 0.5]])
    # class 0 vs rest: positives {0.9, 0.2} vs negatives {0.1, 0.3, 0.0, 0.4}: wins 4 + 2 = 6/8
    # class 1 vs rest: {0.8, 0.2} vs {0.1, 0.3, 0.1, 0.3}: 4 + 2 = 6/8
    # class 2 vs rest: {0.9, 0.5} vs {0.0, 0.1, 0.1, 0.6}: 4 + 3 = 7/8
    assert auroc(y, S) == pytest.approx((6 / 8 + 6 / 8 + 7 / 8) / 3)
    assert auroc(y, 10 * S - 3) == pytest.approx(auroc(y, S))  # raw scores, not probabilities
    # column order follows labels=
    names = np.array(["a", "b", "c"])[y]
    assert auroc(names, S[:, [2, 0, 1]], labels=["c", "a", "b"]) == pytest.approx(auroc(y, S))


def test_one_vs_rest_matches_sklearn_on_probabilities():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=80)
    logits = rng.normal(size=(80, 4)) + np.eye(4)[y]
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert auroc(y, P) == pytest.approx(roc_auc_score(y, P, multi_class="ovr"))


def test_multilabel_auroc_per_label_known_answer():
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    S = np.array([[0.9, 0.2], [0.1, 0.7], [0.4, 0.3], [0.5, 0.4]])
    # label 0: positives {0.9, 0.4} vs {0.1, 0.5}: 2 + 1 = 3/4; label 1: {0.7, 0.3} vs {0.2, 0.4}
    np.testing.assert_allclose(auroc_per_label(Y, S), [0.75, 0.75])
    assert auroc(Y, S) == pytest.approx(0.75)


def test_metric_input_errors():
    with pytest.raises(InvalidInputError, match="single class"):
        auroc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DimensionMismatchError, match="columns"):
        auroc([0, 1, 2], np.ones((3, 2)))
    with pytest.raises(InvalidInputError, match="exactly two classes"):
        auroc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(DimensionMismatchError):
        accuracy([0, 1], [0, 1, 1])
    with pytest.raises(InvalidInputError, match="NaN"):
        auroc([0, 1], [0.1, np.nan])
    with pytest.raises(InvalidInputError, match="single class"):
        auroc_per_label(np.array([[1, 0], [1, 1]]), np.ones((2, 2)))
    with pytest.raises(InvalidInputError, match="pos_label"):
        auroc([0, 1], [0.1, 0.2], pos_label=7)
    with pytest.raises(InvalidInputError, match="empty"):
        accuracy([], [])


# -- bootstrap ---------------------------------------------------------------------------------
def test_bootstrap_is_seeded_and_reproducible():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=100)
    pred = np.where(rng.random(100) < 0.8, y, 1 - y)
    a = bootstrap_ci(balanced_accuracy, y, pred, n_resamples=300, seed=7)
    b = bootstrap_ci(balanced_accuracy, y, pred, n_resamples=300, seed=7)
    c = bootstrap_ci(balanced_accuracy, y, pred, n_resamples=300, seed=8)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert a.estimate == balanced_accuracy(y, pred)
    assert a.n_valid == 300 and a.confidence == 0.95
    assert str(a).startswith(f"{a.estimate:.3f} [")


def test_bootstrap_interval_narrows_with_more_data_and_lower_confidence():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=2000)
    pred = np.where(rng.random(2000) < 0.75, y, 1 - y)
    wide = bootstrap_ci(accuracy, y[:100], pred[:100], n_resamples=400)
    narrow = bootstrap_ci(accuracy, y, pred, n_resamples=400)
    assert narrow.high - narrow.low < wide.high - wide.low
    ci80 = bootstrap_ci(accuracy, y, pred, n_resamples=400, confidence=0.8)
    assert ci80.high - ci80.low < narrow.high - narrow.low
    # the standard error of a proportion predicts the 95% width: 2 * 1.96 * sqrt(p(1-p)/n)
    p = accuracy(y, pred)
    expected = 2 * 1.96 * np.sqrt(p * (1 - p) / 2000)
    assert narrow.high - narrow.low == pytest.approx(expected, rel=0.2)


def test_bootstrap_skips_resamples_where_the_metric_is_undefined():
    y = np.array([0] * 18 + [1, 1])
    s = np.linspace(0, 1, 20)
    ci = bootstrap_ci(auroc, y, s, n_resamples=200, seed=0)
    assert 0 < ci.n_valid < 200  # some resamples miss both positives
    assert ci.low <= ci.estimate <= ci.high


@settings(max_examples=15, deadline=None)
@given(n=st.integers(30, 150), p_correct=st.floats(0.55, 0.95), seed=st.integers(0, 2**16),
       metric=st.sampled_from([accuracy, balanced_accuracy, macro_f1]))
def test_ci_contains_the_point_estimate(n, p_correct, seed, metric):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]  # both classes present: non-degenerate
    pred = np.where(rng.random(n) < p_correct, y, 1 - y)
    ci = bootstrap_ci(metric, y, pred, n_resamples=100, seed=seed)
    assert ci.low <= ci.estimate <= ci.high
    assert ci == bootstrap_ci(metric, y, pred, n_resamples=100, seed=seed)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(30, 120), seed=st.integers(0, 2**16))
def test_auroc_ci_contains_the_point_estimate(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    y[:4] = [0, 1, 0, 1]
    s = y + rng.normal(size=n)
    ci = bootstrap_ci(auroc, y, s, n_resamples=100, seed=seed)
    assert ci.low <= ci.estimate <= ci.high


def test_classification_metrics_bundle():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, size=90)
    S = rng.normal(size=(90, 3)) + 2 * np.eye(3)[y]
    pred = S.argmax(1)
    out = classification_metrics(y, pred, S, n_resamples=100, seed=1)
    assert set(out) == {"accuracy", "balanced_accuracy", "macro_f1", "auroc"}
    assert all(isinstance(v, ConfidenceInterval) for v in out.values())
    assert out["auroc"].estimate == pytest.approx(auroc(y, S))
    assert out["macro_f1"].estimate == pytest.approx(macro_f1(y, pred))
    assert set(classification_metrics(y, pred, n_resamples=10)) == {
        "accuracy", "balanced_accuracy", "macro_f1"}


def test_bootstrap_errors():
    with pytest.raises(InvalidInputError, match="at least 2"):
        bootstrap_ci(accuracy, [1], [1])
    with pytest.raises(InvalidInputError, match="confidence"):
        bootstrap_ci(accuracy, [0, 1], [0, 1], confidence=1.0)
    with pytest.raises(InvalidInputError, match="single class"):  # on the full sample
        bootstrap_ci(auroc, [0, 0, 0], [0.1, 0.2, 0.3], n_resamples=5)
    calls = []

    def defined_once(a, b):  # defined on the full sample only
        calls.append(1)
        return 1.0 if len(calls) == 1 else float("nan")

    with pytest.raises(InvalidInputError, match="undefined on every"):
        bootstrap_ci(defined_once, [0, 1], [0, 1], n_resamples=5)


# -- alignment fidelity ------------------------------------------------------------------------
def test_perfect_translation_scores_perfectly():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(50, 8))
    out = alignment_fidelity(B, B)
    assert out["mean_cosine"] == pytest.approx(1.0)
    assert out["mse"] == 0.0
    assert out["top1"] == out["top5"] == out["mrr"] == 1.0
    assert out["cka"] == pytest.approx(1.0)


def test_fidelity_known_answers():
    assert mean_cosine([[1.0, 0.0], [0.0, 2.0]], [[1.0, 1.0], [0.0, 5.0]]) == pytest.approx(
        (1 / np.sqrt(2) + 1.0) / 2)
    assert mse(np.zeros((2, 3)), np.ones((2, 3))) == 1.0
    assert mse([[1.0, 2.0]], [[3.0, 2.0]]) == 2.0  # (4 + 0) / 2 entries
    # item 0's true target ranks 2nd (target 1 is closer), item 1 and 2 rank 1st
    A = np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    B = np.array([[0.5, -1.0, 0.0], [1.0, 0.3, 0.0], [0.0, 0.0, 1.0]])
    out = retrieval_metrics(A, B, ks=(1, 2))
    assert out["top1"] == pytest.approx(2 / 3) and out["top2"] == 1.0
    assert out["mrr"] == pytest.approx((1 / 2 + 1 + 1) / 3)


@settings(max_examples=30, deadline=None)
@given(A=hnp.arrays(np.float64, st.tuples(st.integers(3, 25), st.just(6)),
                    elements=st.floats(-5, 5)),
       noise_seed=st.integers(0, 1000), batch=st.integers(1, 30))
def test_retrieval_agrees_with_sklearn(A, noise_seed, batch):
    from sklearn.metrics import label_ranking_average_precision_score, top_k_accuracy_score

    A = A + 1e-3 * np.random.default_rng(noise_seed).normal(size=A.shape)  # avoid zero rows
    B = A + np.random.default_rng(noise_seed + 1).normal(size=A.shape)
    n = len(A)
    An = A / np.linalg.norm(A, axis=1, keepdims=True)
    Bn = B / np.linalg.norm(B, axis=1, keepdims=True)
    S = An @ Bn.T
    out = retrieval_metrics(A, B, ks=(1, 2), batch_size=batch)
    assert out["mrr"] == pytest.approx(label_ranking_average_precision_score(np.eye(n), S))
    assert out["top2"] == pytest.approx(top_k_accuracy_score(np.arange(n), S, k=2,
                                                             labels=np.arange(n)))
    assert out["top1"] == pytest.approx(np.mean(S.argmax(1) == np.arange(n)))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 30), dx=st.integers(1, 40), dy=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_linear_cka_matches_the_centred_gram_definition(n, dx, dy, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, dx)), rng.normal(size=(n, dy))
    H = np.eye(n) - 1.0 / n
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    expected = np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    value = linear_cka(X, Y)
    assert value == pytest.approx(expected, rel=1e-8, abs=1e-10)
    assert -1e-12 <= value <= 1 + 1e-12


def test_linear_cka_invariances():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 10))
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert linear_cka(X, 3.0 * X @ Q + 5.0) == pytest.approx(1.0)
    stretched = X * np.arange(1, 11)  # anisotropic scaling is not an invariance
    assert linear_cka(X, stretched) < 0.95
    assert linear_cka(X, rng.normal(size=(60, 10))) < 0.5
    with pytest.raises(InvalidInputError, match="constant"):
        linear_cka(X, np.ones((60, 3)))


def test_fidelity_input_errors():
    with pytest.raises(DimensionMismatchError, match="translate into the target space"):
        mean_cosine(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(DimensionMismatchError, match="paired"):
        alignment_fidelity(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(InvalidInputError, match="ks"):
        retrieval_metrics(np.eye(3), np.eye(3), ks=(0,))


# -- the vectorised bootstrap equals the one-resample-at-a-time loop ----------------------------
def _generic(metric):
    """The same metric behind a fresh callable: no kernel, so bootstrap_ci loops."""
    return lambda *arrays: metric(*arrays)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 60), n_classes=st.integers(2, 4),
       metric=st.sampled_from([accuracy, balanced_accuracy, macro_f1]))
def test_vectorised_label_bootstrap_gives_identical_bounds(seed, n, n_classes, metric):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, n_classes, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, n_classes, n))
    fast = bootstrap_ci(metric, t, p, n_resamples=60, seed=seed)
    assert fast == bootstrap_ci(_generic(metric), t, p, n_resamples=60, seed=seed)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40), ties=st.booleans(),
       two_columns=st.booleans())
def test_vectorised_auroc_bootstrap_gives_the_same_bounds(seed, n, ties, two_columns):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    if len(np.unique(t)) < 2:
        t[0], t[-1] = 0, 1
    s = rng.normal(size=n) + t
    s = np.round(s, 1) if ties else s  # tied scores count one half
    S = np.column_stack([-s, s]) if two_columns else s
    fast = bootstrap_ci(auroc, t, S, n_resamples=60, seed=seed)
    slow = bootstrap_ci(_generic(auroc), t, S, n_resamples=60, seed=seed)
    # the rank statistic and scikit-learn's trapezoid agree to round-off, and skip the same
    # single-class resamples
    assert (fast.n_valid, fast.estimate) == (slow.n_valid, slow.estimate)
    assert fast.low == pytest.approx(slow.low, abs=1e-12)
    assert fast.high == pytest.approx(slow.high, abs=1e-12)


def test_classification_metrics_use_the_vectorised_path_with_the_same_bounds():
    rng = np.random.default_rng(5)
    t = rng.choice(["normal", "pneumonia"], 300)
    p = np.where(rng.random(300) < 0.8, t, "normal")
    s = rng.normal(size=300) + (t == "pneumonia")
    fast = classification_metrics(t, p, s, n_resamples=200, seed=7)
    classes = np.unique(t)
    slow = {name: bootstrap_ci(_generic(fn), *args, n_resamples=200, seed=7)
            for name, fn, args in (("accuracy", accuracy, (t, p)),
                                   ("balanced_accuracy", balanced_accuracy, (t, p)),
                                   ("macro_f1", macro_f1, (t, p)),
                                   ("auroc", lambda a, b: auroc(a, b, labels=classes), (t, s)))}
    for name in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert fast[name] == slow[name]
    assert fast["auroc"].low == pytest.approx(slow["auroc"].low, abs=1e-12)
    assert fast["auroc"].high == pytest.approx(slow["auroc"].high, abs=1e-12)
    # multi-class AUROC has no kernel: the generic loop runs (and still agrees)
    t3 = rng.integers(0, 3, 90)
    S3 = rng.normal(size=(90, 3)) + np.eye(3)[t3]
    assert bootstrap_ci(auroc, t3, S3, n_resamples=30) == bootstrap_ci(_generic(auroc), t3, S3,
                                                                     n_resamples=30)


def test_one_resample_block_is_drawn_once_and_equals_the_generic_draws():
    """The metrics of one prediction share a block (same n, seed): drawn once, read-only, and
    the same indices the one-resample-at-a-time loop draws."""
    from semalign_core.evaluation.bootstrap import resample_blocks

    (a,) = resample_blocks(50, 20, 3)
    (b,) = resample_blocks(50, 20, 3)
    assert a is b and not a.flags.writeable
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(a, [rng.integers(0, 50, size=50) for _ in range(20)])
    (c,) = resample_blocks(50, 20, 4)
    assert not np.array_equal(a, c)
