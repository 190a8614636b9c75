"""Tests of the anchor selectors: contract, known answers, properties, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semalign_anchors._selectors import _claim_nearest

from semalign_core import (
    InvalidInputError,
    TooFewAnchorsError,
    get_anchor_selector,
    list_anchor_selectors,
)
from semalign_core.testing import check_anchor_selector

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

NAMES = ("random", "kmeans", "stratified", "fps")
PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pool(n: int = 60, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_conformant(name):
    assert name in list_anchor_selectors()
    selector = get_anchor_selector(name)
    assert selector.name == name
    check_anchor_selector(selector)
    check_anchor_selector(get_anchor_selector(name, seed=123), seed=5)


@pytest.mark.parametrize("name", NAMES)
def test_seed_changes_the_draw_and_none_works(name):
    X = pool(200)
    draws = {tuple(get_anchor_selector(name, seed=s).select(X, 10)) for s in range(4)}
    assert len(draws) > 1, f"{name} ignores its seed"
    assert len(set(get_anchor_selector(name, seed=None).select(X, 10))) == 10


# -- random ------------------------------------------------------------------------------------
def test_random_is_uniform():
    # 2000 draws of 5 out of 20: each item is expected 500 times (sd ~19); +-100 is > 5 sd.
    X = pool(20, 3)
    counts = np.zeros(20)
    for seed in range(2000):
        counts[get_anchor_selector("random", seed=seed).select(X, 5)] += 1
    assert np.all(np.abs(counts - 500) < 100), counts


# -- stratified --------------------------------------------------------------------------------
def test_stratified_balances_labels():
    X = pool(60)
    labels = np.repeat(np.array(["a", "b", "c"]), [30, 20, 10])
    idx = get_anchor_selector("stratified").select(X, 12, labels=labels)
    assert sorted(np.unique(labels[idx], return_counts=True)[1]) == [4, 4, 4]
    # A small class is exhausted and its share moves to the others: 10 + 13 + 12 (some order).
    idx = get_anchor_selector("stratified").select(X, 35, labels=labels)
    counts = dict(zip(*np.unique(labels[idx], return_counts=True), strict=True))
    assert counts["c"] == 10 and sorted([counts["a"], counts["b"]]) == [12, 13]


@PROPS
@given(sizes=st.lists(st.integers(1, 15), min_size=1, max_size=6), data=st.data(),
       seed=st.integers(0, 2**31))
def test_stratified_is_as_even_as_possible(sizes, data, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(seed)
    labels = labels[rng.permutation(len(labels))]
    X = rng.normal(size=(len(labels), 3))
    n = data.draw(st.integers(2, len(labels))) if len(labels) >= 2 else None
    if n is None:
        return
    idx = get_anchor_selector("stratified", seed=seed).select(X, n, labels=labels)
    counts = np.bincount(labels[idx], minlength=len(sizes))
    cap = np.asarray(sizes)
    assert counts.sum() == n and np.all(counts <= cap)
    # Water-filling optimum: a label below its capacity never has 2+ fewer than any other label.
    unsaturated = counts < cap
    if unsaturated.any():
        assert counts.max() - counts[unsaturated].min() <= 1


def test_stratified_without_labels_is_random():
    X = pool(50)
    for seed in range(3):
        np.testing.assert_array_equal(get_anchor_selector("stratified", seed=seed).select(X, 9),
                                      get_anchor_selector("random", seed=seed).select(X, 9))


def test_stratified_order_does_not_encode_labels():
    labels = np.repeat([0, 1], 50)
    idx = get_anchor_selector("stratified", seed=1).select(pool(100), 20, labels=labels)
    assert not np.all(np.diff(labels[idx]) >= 0)  # not grouped by label


# -- farthest point ----------------------------------------------------------------------------
def test_fps_known_answer_on_a_line():
    X = np.arange(11, dtype=np.float64)[:, None]
    idx = get_anchor_selector("fps", seed=0).select(X, 3)
    start = idx[0]
    far = 10 if start < 5 else 0
    assert idx[1] == far  # the far end from the start
    # then the item farthest from both chosen points (ties: lowest index)
    rest = np.setdiff1d(np.arange(11), idx[:2])
    gaps = np.min(np.abs(rest[:, None] - X[idx[:2], 0][None, :]), axis=1)
    assert idx[2] == rest[np.argmax(gaps)]


@PROPS
@given(seed=st.integers(0, 2**31), n_items=st.integers(3, 40), d=st.integers(1, 5),
       data=st.data())
def test_fps_each_pick_is_the_farthest(seed, n_items, d, data):
    X = np.random.default_rng(seed).normal(size=(n_items, d))
    n = data.draw(st.integers(2, n_items))
    idx = get_anchor_selector("fps", seed=seed).select(X, n)
    D = np.linalg.norm(X[:, None] - X[None], axis=-1)
    for k in range(1, n):
        mind = D[:, idx[:k]].min(axis=1)
        mind[idx[:k]] = -1
        assert mind[idx[k]] >= mind.max() - 1e-9


def test_fps_with_duplicate_points_returns_distinct_items():
    X = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct points, 4 copies each
    idx = get_anchor_selector("fps").select(X, 10)
    assert len(np.unique(idx)) == 10
    assert len({tuple(X[i]) for i in idx[:3]}) == 3  # the three distinct points come first


# -- k-means ------------------------------------------------------------------------------------
def test_kmeans_picks_one_item_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.eye(5, 16) * 10
    X = np.concatenate([c + rng.normal(scale=0.05, size=(30, 16)) for c in centres])
    cluster = np.repeat(np.arange(5), 30)
    for seed in range(3):
        # One k-means run may merge two clusters (a local optimum); the best of 10 does not.
        idx = get_anchor_selector("kmeans", seed=seed, nredo=10).select(X, 5)
        assert sorted(cluster[idx]) == [0, 1, 2, 3, 4]


def test_kmeans_works_on_directions_not_norms():
    X = pool(80, 6, seed=2).astype(np.float64)
    scaled = X * 2.0 ** np.random.default_rng(3).integers(-4, 5, size=(80, 1))  # exact rescale
    np.testing.assert_array_equal(get_anchor_selector("kmeans").select(X, 12),
                                  get_anchor_selector("kmeans").select(scaled, 12))


def test_kmeans_with_duplicates_and_whole_pool():
    X = np.repeat(pool(5, 4), 6, axis=0)  # 30 rows, 5 distinct
    assert len(np.unique(get_anchor_selector("kmeans").select(X, 12))) == 12
    assert sorted(get_anchor_selector("kmeans").select(X, 30)) == list(range(30))


def test_claim_nearest_resolves_collisions_by_next_nearest():
    import faiss

    items = np.array([[0.0], [1.0], [2.0], [10.0]], dtype=np.float32)
    centroids = np.array([[0.9], [1.2], [0.1]], dtype=np.float32)
    owner = _claim_nearest(faiss, items, centroids)
    # Centroid 0 (0.1 from item 1) claims first, centroid 2 takes item 0, centroid 1 (nearest
    # item 1 taken) falls back to its next-nearest unused item: item 2.
    assert owner.tolist() == [1, 2, 0]


def test_claim_nearest_searches_beyond_the_first_candidates():
    import faiss

    items = np.arange(20, dtype=np.float32)[:, None]
    centroids = np.zeros((20, 1), dtype=np.float32)  # all want item 0
    owner = _claim_nearest(faiss, items, centroids)
    assert sorted(owner.tolist()) == list(range(20))
    assert owner.tolist() == list(range(20))  # ties claim in centroid order, nearest first


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_clear_errors(name):
    X = pool(30)
    selector = get_anchor_selector(name)
    with pytest.raises(TooFewAnchorsError, match="pool of 30"):
        selector.select(X, 31)
    with pytest.raises(TooFewAnchorsError, match="at least 2"):
        selector.select(X, 1)
    with pytest.raises(InvalidInputError, match="labels"):
        selector.select(X, 5, labels=np.zeros(29))
    with pytest.raises(InvalidInputError, match="labels"):
        selector.select(X, 5, labels=np.zeros((30, 2)))
    for bad_value in (np.nan, np.inf):
        bad = X.copy()
        bad[4, 1] = bad_value
        with pytest.raises(InvalidInputError, match="NaN or inf"):
            selector.select(bad, 5)
    for bad_n in (5.0, True, "5"):
        with pytest.raises(InvalidInputError, match="n must be an int"):
            selector.select(X, bad_n)
    with pytest.raises(InvalidInputError, match="floating-point"):
        selector.select(X.astype(int), 5)
    with pytest.raises(InvalidInputError, match="2-D"):
        selector.select(X[0], 5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_refused(name, seed):
    with pytest.raises(InvalidInputError, match="seed"):
        get_anchor_selector(name, seed=seed)


@pytest.mark.parametrize("param", ["niter", "nredo"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_kmeans_params_are_refused(param, value):
    with pytest.raises(InvalidInputError, match=param):
        get_anchor_selector("kmeans", **{param: value})
