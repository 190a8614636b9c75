"""Anchor selectors: random, FAISS k-means, label-stratified and farthest-point sampling.

The base class :class:`semalign_core.AnchorSelector` validates ``X``, ``n`` and ``labels``, builds
``rng = np.random.default_rng(seed)`` and checks the result (``n`` distinct in-range indices), so
each selector here only implements ``_select`` on clean input.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from semalign_core import AnchorSelector, InvalidInputError, PluginError

__all__ = ["FarthestPointSelector", "KMeansSelector", "RandomSelector", "StratifiedSelector"]


def _check_seed(seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidInputError(f"seed must be an int or None, got {type(seed).__name__} "
                                f"{seed!r}")
    if seed is not None and seed < 0:
        raise InvalidInputError(f"seed must be >= 0, got {seed}")


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidInputError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _uniform(n_items: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(n_items, size=n, replace=False)


class RandomSelector(AnchorSelector):
    """Uniform sampling without replacement: every subset of size ``n`` is equally likely.

    Parameters
    ----------
    seed : int or None, default 0
    """

    name = "random"

    def __init__(self, *, seed: int | None = 0) -> None:
        _check_seed(seed)
        self.seed = seed

    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        return _uniform(X.shape[0], n, rng)


class StratifiedSelector(AnchorSelector):
    """As even as possible across labels, uniform within each label.

    Every label gets the same count ``t`` (or all its items, if it has fewer: their share goes
    to the others) and the few anchors left over go, one each, to labels drawn at random
    (seeded), so counts differ by at most one among labels that are not exhausted. Without
    ``labels`` it draws exactly what :class:`RandomSelector` with the same seed draws.

    Parameters
    ----------
    seed : int or None, default 0
    """

    name = "stratified"

    def __init__(self, *, seed: int | None = 0) -> None:
        _check_seed(seed)
        self.seed = seed

    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        if labels is None:
            return _uniform(X.shape[0], n, rng)
        classes, inverse = np.unique(labels, return_inverse=True)
        capacity = np.bincount(inverse, minlength=len(classes))
        # As even as possible = water-filling: the largest level t with
        # sum(min(capacity, t)) <= n gives every label min(capacity, t); the r anchors left over
        # go to r labels still above that level, drawn at random (seeded) so that no label is
        # systematically favoured.
        lo, hi = 0, int(capacity.max())
        while lo < hi:  # binary search for t
            mid = (lo + hi + 1) // 2
            if np.minimum(capacity, mid).sum() <= n:
                lo = mid
            else:
                hi = mid - 1
        quota = np.minimum(capacity, lo)
        room = np.flatnonzero(capacity > lo)
        quota[rng.permutation(room)[:n - int(quota.sum())]] += 1
        picked = [np.flatnonzero(inverse == c)[_uniform(int(capacity[c]), int(q), rng)]
                  for c, q in enumerate(quota) if q > 0]
        # Shuffle so that the order of the anchors does not encode the labels.
        return rng.permutation(np.concatenate(picked))


class FarthestPointSelector(AnchorSelector):
    """Farthest-point sampling: start at a seeded random item, then repeatedly add the item
    farthest (Euclidean) from everything chosen so far.

    Covers the space evenly, including its outliers; O(n_items * n * dim) time. Ties go to the
    lowest index, so the result depends only on the seed.

    Parameters
    ----------
    seed : int or None, default 0
        Picks the first item.
    """

    name = "fps"

    def __init__(self, *, seed: int | None = 0) -> None:
        _check_seed(seed)
        self.seed = seed

    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        chosen = np.empty(n, dtype=np.int64)
        chosen[0] = rng.integers(X.shape[0])
        sq_norms = np.einsum("ij,ij->i", X, X)
        # Squared distance of every item to its nearest chosen item, kept incrementally so each
        # step is one matrix-vector product rather than a full pairwise-distance matrix.
        nearest = np.full(X.shape[0], np.inf)
        for k in range(1, n):
            c = X[chosen[k - 1]]
            dist = sq_norms - 2.0 * (X @ c) + c @ c
            np.minimum(nearest, np.maximum(dist, 0.0), out=nearest)
            nearest[chosen[:k]] = -1.0  # never re-pick (duplicates have distance 0 too)
            chosen[k] = int(np.argmax(nearest))
        return chosen


class KMeansSelector(AnchorSelector):
    """FAISS k-means with k = n on L2-normalised source embeddings; one real item per centroid.

    Each centroid takes its nearest item (cosine, on the normalised vectors). Collisions are
    resolved deterministically: centroids claim items in order of how close their best item is,
    and a centroid whose nearest item is taken gets its next-nearest unused one. The result is
    ``n`` distinct items.

    ``faiss`` is imported on first use: ``faiss-cpu`` (the declared dependency) and ``faiss-gpu``
    both provide it, and the clustering runs on the CPU either way.

    Parameters
    ----------
    seed : int or None, default 0
        Seeds FAISS's centroid initialisation.
    niter : int, default 25
        k-means iterations.
    nredo : int, default 1
        Independent k-means runs (different initialisations); the one with the lowest
        objective is kept. Raise it when clusters are well separated and one run may merge two.
    """

    name = "kmeans"

    def __init__(self, *, seed: int | None = 0, niter: int = 25, nredo: int = 1) -> None:
        _check_seed(seed)
        _check_positive_int(niter, "niter")
        _check_positive_int(nredo, "nredo")
        self.seed = seed
        self.niter = niter
        self.nredo = nredo

    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        try:
            import faiss
        except ImportError as exc:  # pragma: no cover - faiss-cpu is a declared dependency
            raise PluginError("the 'kmeans' anchor selector needs FAISS: pip install faiss-cpu "
                              "(or have faiss-gpu installed)") from exc
        unit = np.array(X, dtype=np.float32, order="C")  # a copy: normalised in place
        faiss.normalize_L2(unit)  # spherical k-means: clusters by direction
        # FAISS wants a C int seed; derive it from rng so seed=None still works.
        faiss_seed = int(rng.integers(2**31 - 1))
        # min_points_per_centroid=1 silences FAISS's "provide at least 39*k points" warning: with
        # k = n anchors, small pools are the normal case here. max_points_per_centroid is raised
        # so FAISS never subsamples the pool (subsampling would make the result depend on it).
        km = faiss.Kmeans(unit.shape[1], n, niter=_check_positive_int(self.niter, "niter"),
                          nredo=_check_positive_int(self.nredo, "nredo"), seed=faiss_seed,
                          verbose=False, min_points_per_centroid=1,
                          max_points_per_centroid=max(256, unit.shape[0]))
        km.train(unit)
        return _claim_nearest(faiss, unit, np.ascontiguousarray(km.centroids, np.float32))


def _claim_nearest(faiss: Any, items: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Give each centroid a distinct item: nearest first, next-nearest unused on collision."""
    n_items, n = items.shape[0], centroids.shape[0]
    index = faiss.IndexFlatL2(items.shape[1])
    index.add(items)
    k = min(n_items, 8)
    dist, nbrs = index.search(centroids, k)
    owner = np.full(n, -1, dtype=np.int64)
    taken = np.zeros(n_items, dtype=bool)
    # Centroids whose best match is closest claim first (stable sort: ties by centroid index).
    pending = list(np.argsort(dist[:, 0], kind="stable"))
    while pending:
        unresolved = []
        for c in pending:
            for item in nbrs[c]:
                if item >= 0 and not taken[item]:
                    owner[c] = item
                    taken[item] = True
                    break
            else:
                unresolved.append(c)
        if not unresolved:
            break
        # All k candidates were taken: search deeper for the few centroids left. Widening to the
        # whole pool at worst guarantees a free item (n <= n_items).
        k = min(n_items, 4 * k)
        _, nbrs_more = index.search(centroids[unresolved], k)
        nbrs = _widen(nbrs, unresolved, nbrs_more)
        pending = unresolved
    return owner


def _widen(nbrs: np.ndarray, rows: list[int], more: np.ndarray) -> np.ndarray:
    """Replace the neighbour lists of ``rows`` by the longer lists ``more`` (padded with -1)."""
    width = max(nbrs.shape[1], more.shape[1])
    out = np.full((nbrs.shape[0], width), -1, dtype=np.int64)
    out[:, :nbrs.shape[1]] = nbrs
    out[rows, :more.shape[1]] = more
    return out
