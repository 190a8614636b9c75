"""Inductive per-finding thresholds (Youden's J, MCC) and the linear / k-shot probes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semalign_core import DimensionMismatchError, InvalidInputError
from semalign_core.evaluation.probes import (
    k_shot_indices,
    k_shot_probe,
    linear_probe,
    probe_curve,
)
from semalign_core.zeroshot.thresholds import fit_thresholds, mcc_threshold, youden_threshold

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _labelled(seed: int, n: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return y, np.round(rng.normal(size=n) + 1.5 * y, 1)  # rounded: ties on purpose


@PROPS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 60))
def test_thresholds_are_optimal_over_every_cut(seed, n):
    from sklearn.metrics import matthews_corrcoef

    y, s = _labelled(seed, n)
    cuts = np.concatenate([[s.min() - 1], (np.unique(s)[:-1] + np.unique(s)[1:]) / 2])

    def j(t):
        p = s > t
        return p[y == 1].mean() - p[y == 0].mean()

    def m(t):
        return matthews_corrcoef(y, s > t)

    assert j(youden_threshold(y, s)) == pytest.approx(max(j(c) for c in cuts))
    assert m(mcc_threshold(y, s)) == pytest.approx(max(m(c) for c in cuts), abs=1e-12)
    # a cut between scores: '>' and '>=' agree on the validation items
    t = mcc_threshold(y, s)
    assert not np.isin(t, s)


def test_known_thresholds_and_per_finding_fit():
    assert mcc_threshold([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.25)
    Y = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
    S = np.array([[0.1, 0.9], [0.2, 0.1], [0.7, 0.8], [0.9, 0.3]])
    t = fit_thresholds(Y, S, method="mcc", classes=["a", "b"])
    assert t.thresholds.tolist() == pytest.approx([0.45, 0.55])
    assert t.predict(S).tolist() == Y.tolist()
    assert t.to_dict()["thresholds"] == {"a": pytest.approx(0.45), "b": pytest.approx(0.55)}


def test_threshold_errors():
    with pytest.raises(InvalidInputError, match="positive and negative"):
        fit_thresholds([[1, 0], [1, 1]], [[0.1, 0.2], [0.3, 0.4]], classes=["a", "b"])
    with pytest.raises(InvalidInputError, match="method must be"):
        fit_thresholds([0, 1], [0.1, 0.2], method="f1")
    with pytest.raises(DimensionMismatchError):
        fit_thresholds([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InvalidInputError, match="NaN"):
        youden_threshold([0, 1], [0.1, np.nan])


# -- probes --------------------------------------------------------------------------------------
def _blobs(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.5, "normal", "pneumonia")
    X = rng.normal(size=(n, 8)) + np.where(y == "pneumonia", 1.5, 0.0)[:, None]
    return X, y


def test_k_shot_indices_are_seeded_and_per_class():
    y = np.array(["a"] * 10 + ["b"] * 3)
    idx = k_shot_indices(y, 2, seed=5)
    assert sorted(y[idx].tolist()) == ["a", "a", "b", "b"]
    assert idx.tolist() == k_shot_indices(y, 2, seed=5).tolist()
    assert {tuple(k_shot_indices(y, 2, seed=s)) for s in range(10)} != {tuple(idx)}
    with pytest.raises(InvalidInputError, match="class 'b' has 3"):
        k_shot_indices(y, 4, seed=0)


def test_probe_curve_improves_with_shots_and_reaches_the_full_probe():
    X, y = _blobs()
    full = linear_probe(X[:200], y[:200], X[200:], y[200:], n_resamples=50)
    assert full.metrics["auroc"].estimate > 0.9 and full.n_train == 200 and full.shots is None
    curve = probe_curve(X[:200], y[:200], X[200:], y[200:], shots=(1, 16), seeds=range(5),
                        n_resamples=50)
    assert [(r.shots, r.seed) for r in curve][:2] == [(1, 0), (1, 1)]
    mean = {k: np.mean([r.metrics["auroc"].estimate for r in curve if r.shots == k])
            for k in (1, 16)}
    assert mean[1] < mean[16] <= full.metrics["auroc"].estimate + 0.02
    one = k_shot_probe(X[:200], y[:200], X[200:], y[200:], 1, seed=3, n_resamples=50)
    assert one.n_train == 2 and one.y_score.shape == (100,)
    # the score is the positive (second) class's log-odds: higher for pneumonia
    assert one.y_score[y[200:] == "pneumonia"].mean() > one.y_score[y[200:] == "normal"].mean()


def test_probe_errors():
    X, y = _blobs()
    with pytest.raises(InvalidInputError, match="at least 2 classes"):
        linear_probe(X[:10], np.array(["a"] * 10), X, y)
    with pytest.raises(InvalidInputError, match="one label per item"):
        linear_probe(X, y[:5], X, y)
