"""Multi-positive retrieval metrics and the SVCCA / CKA fidelity pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semalign_core import DimensionMismatchError, InvalidInputError
from semalign_core.evaluation import (
    canonical_correlations,
    random_retrieval_ranks,
    representation_similarity,
    retrieval_from_ranks,
    retrieval_ranks,
    retrieval_report,
    svcca,
)

PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- retrieval -----------------------------------------------------------------------------------
def test_known_ranks_with_several_positives_and_ties():
    Q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    C = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    keys_q, keys_c = ["x", "y", "z"], ["x", "y", "y", "z"]
    # q0: relevant c0 (cos 1) ties with the non-relevant c2 (cos 1): ties count against -> 2.
    # q1: relevant c1 (1) and c2 (0): the best one counts -> rank 1.
    # q2: relevant c3 (cos -0.71); c0, c1, c2 all score 0.71 above it -> rank 4.
    assert retrieval_ranks(Q, C, query_keys=keys_q, candidate_keys=keys_c).tolist() == [2, 1, 4]
    R = np.array([[True, False, True, False]])  # c0 and c2 both relevant: no tie against
    assert retrieval_ranks(Q[:1], C, relevance=R).tolist() == [1]


def test_metrics_from_ranks():
    m = retrieval_from_ranks([1, 2, 6, 11], ks=(1, 5, 10))
    assert m == {"R@1": 0.25, "R@5": 0.5, "R@10": 0.75, "mrr": (1 + 1 / 2 + 1 / 6 + 1 / 11) / 4,
                 "median_rank": 4.0, "mean_rank": 5.0}


def test_constant_scores_rank_last_and_random_is_chance():
    rng = np.random.default_rng(0)
    keys_c = rng.integers(0, 4, 200)
    keys_q = rng.integers(0, 4, 50)
    ranks = retrieval_ranks(np.ones((50, 3)), np.ones((200, 3)), query_keys=keys_q,
                            candidate_keys=keys_c)
    assert all(r == 1 + (keys_c != k).sum() for r, k in zip(ranks, keys_q, strict=True))
    chance = random_retrieval_ranks(200, query_keys=keys_q, candidate_keys=keys_c, n_draws=40)
    # 4 balanced classes: P(top-1 relevant) ~ 1/4
    assert abs(retrieval_from_ranks(chance)["R@1"] - 0.25) < 0.05


@PROPS
@given(seed=st.integers(0, 10_000))
def test_mrr_matches_scikit_learn_with_one_positive(seed):
    from sklearn.metrics import label_ranking_average_precision_score

    rng = np.random.default_rng(seed)
    Q, C = rng.normal(size=(15, 4)), rng.normal(size=(15, 4))
    ranks = retrieval_ranks(Q, C, relevance=np.eye(15, dtype=bool))
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Cn = C / np.linalg.norm(C, axis=1, keepdims=True)
    lrap = label_ranking_average_precision_score(np.eye(15), Qn @ Cn.T)
    assert retrieval_from_ranks(ranks)["mrr"] == pytest.approx(lrap)


def test_report_has_bootstrap_cis():
    report = retrieval_report([1, 1, 3, 8, 20], ks=(1, 5), n_resamples=200)
    assert set(report) == {"R@1", "R@5", "mrr", "median_rank", "mean_rank"}
    assert report["R@1"].estimate == 0.4 and report["R@1"].low <= 0.4 <= report["R@1"].high


def test_retrieval_errors():
    Q, C = np.ones((2, 3)), np.ones((3, 3))
    with pytest.raises(InvalidInputError, match="no relevant candidate"):
        retrieval_ranks(Q, C, query_keys=["a", "q"], candidate_keys=["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="not both"):
        retrieval_ranks(Q, C, relevance=np.ones((2, 3), bool), query_keys=["a", "b"])
    with pytest.raises(DimensionMismatchError):
        retrieval_ranks(Q, np.ones((3, 4)), relevance=np.ones((2, 3), bool))
    with pytest.raises(InvalidInputError, match="boolean"):
        retrieval_ranks(Q, C, relevance=np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="ranks"):
        retrieval_from_ranks([0, 1])


# -- SVCCA / CKA ---------------------------------------------------------------------------------
@PROPS
@given(seed=st.integers(0, 10_000))
def test_svcca_is_one_under_invertible_linear_maps_and_cka_is_not(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4))
    M = rng.normal(size=(4, 4)) + 3 * np.eye(4)
    Y = X @ np.diag([10.0, 1.0, 1.0, 0.1]) @ M + 7.0
    assert svcca(X, Y, keep=1.0) == pytest.approx(1.0, abs=1e-8)
    assert representation_similarity(X, X)["cka"] == pytest.approx(1.0)


def test_known_canonical_correlations():
    # y1 = x1 exactly, y2 independent of x: correlations 1 and ~0
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 2))
    Y = np.column_stack([X[:, 0], rng.normal(size=5000)])
    rho = canonical_correlations(X, Y)
    assert rho[0] == pytest.approx(1.0) and rho[1] < 0.05
    assert svcca(X, Y, keep=1.0) == pytest.approx(rho.mean())


def test_svcca_drops_low_variance_directions():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3)) * [10.0, 10.0, 1e-3]  # third direction: ~0 variance
    Y = np.column_stack([X[:, :2] @ rng.normal(size=(2, 2)), 1e-3 * rng.normal(size=300)])
    assert svcca(X, Y[:, :2], keep=0.99) == pytest.approx(1.0, abs=1e-8)
    assert svcca(X, Y, keep=2) == pytest.approx(1.0, abs=1e-8)


def test_fidelity_errors():
    with pytest.raises(InvalidInputError, match="more than"):
        canonical_correlations(np.random.default_rng(0).normal(size=(5, 3)),
                               np.random.default_rng(1).normal(size=(5, 3)))
    with pytest.raises(InvalidInputError, match="constant"):
        svcca(np.ones((10, 2)), np.random.default_rng(0).normal(size=(10, 2)))
    with pytest.raises(InvalidInputError, match="keep"):
        svcca(np.eye(4), np.eye(4), keep=1.5)
