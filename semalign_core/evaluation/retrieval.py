"""Cross-modal retrieval with several relevant items per query: R@K, MRR, median and mean rank.

A query (an image, a report) ranks every candidate of the other modality by cosine similarity.
Relevance is given per pair: either an explicit boolean matrix, or keys (two items are relevant
when their keys are equal: the same study, the same class). A query's **rank** is the 1-based
position of its best-ranked relevant candidate; ties count against the query (a relevant item
tied with a non-relevant one is ranked below it), so a constant score never looks good.

``R@K``
    fraction of queries with a relevant candidate in the top ``K`` (CLIP-benchmark convention:
    one hit among several positives is enough)
``MRR``
    mean of ``1 / rank``
``median_rank``, ``mean_rank``
    of the ranks (lower is better)

:func:`random_retrieval_ranks` ranks the same candidates by seeded random scores: the chance
level for the same relevance structure.

>>> import numpy as np
>>> Q = np.array([[1.0, 0.0], [0.0, 1.0]]); C = np.array([[1.0, 0.1], [0.1, 1.0], [0.9, 0.0]])
>>> retrieval_ranks(Q, C, query_keys=["a", "b"], candidate_keys=["a", "b", "b"]).tolist()
[2, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._numerics import l2_normalize
from ..errors import DimensionMismatchError, InvalidInputError
from ..validation import check_matrix
from .metrics import ConfidenceInterval, bootstrap_ci

__all__ = ["random_retrieval_ranks", "retrieval_from_ranks", "retrieval_ranks",
           "retrieval_report"]



def _relevance(n_q: int, n_c: int, relevance: Any, query_keys: Any, candidate_keys: Any
               ) -> np.ndarray:
    if relevance is not None:
        if query_keys is not None or candidate_keys is not None:
            raise InvalidInputError("give relevance or query_keys/candidate_keys, not both")
        R = np.asarray(relevance)
        if R.dtype != bool:
            raise InvalidInputError(f"relevance must be a boolean matrix, got dtype {R.dtype}")
    else:
        if query_keys is None or candidate_keys is None:
            raise InvalidInputError("give a relevance matrix, or both query_keys and "
                                    "candidate_keys")
        qk, ck = np.asarray(query_keys), np.asarray(candidate_keys)
        if qk.shape != (n_q,) or ck.shape != (n_c,):
            raise DimensionMismatchError(f"need one key per query ({n_q}) and per candidate "
                                         f"({n_c}), got {qk.shape} and {ck.shape}")
        R = qk[:, None] == ck[None, :]
    if R.shape != (n_q, n_c):
        raise DimensionMismatchError(f"relevance must be ({n_q}, {n_c}), got {R.shape}")
    empty = np.flatnonzero(~R.any(axis=1))
    if empty.size:
        raise InvalidInputError(f"query row(s) {empty[:5].tolist()} have no relevant candidate; "
                                f"drop them (their rank is undefined)")
    return R


def _ranks_from_scores(S: np.ndarray, R: np.ndarray) -> np.ndarray:
    best = np.where(R, S, -np.inf).max(axis=1)
    # candidates that are not relevant and score at least as high as the best relevant one
    return (np.where(R, -np.inf, S) >= best[:, None]).sum(axis=1) + 1


def retrieval_ranks(queries: Any, candidates: Any, *, relevance: Any = None,
                    query_keys: Sequence[Any] | None = None,
                    candidate_keys: Sequence[Any] | None = None,
                    batch_size: int = 1024) -> np.ndarray:
    """The 1-based rank of each query's best-ranked relevant candidate (cosine similarity).

    Parameters
    ----------
    queries : array-like (n_q, d)
    candidates : array-like (n_c, d)
    relevance : bool array-like (n_q, n_c), optional
    query_keys, candidate_keys : sequences, optional
        Relevant when equal (instead of ``relevance``).
    batch_size : int
        Queries scored at once (memory is O(batch_size * n_c)).

    Raises
    ------
    InvalidInputError
        Both or neither relevance forms, a query with no relevant candidate, NaN input.
    DimensionMismatchError
        Dimensions or key counts that do not match.
    """
    Q = check_matrix(queries, "queries", dtype=np.float64)
    C = check_matrix(candidates, "candidates", dtype=np.float64)
    if Q.shape[1] != C.shape[1]:
        raise DimensionMismatchError(f"queries are {Q.shape[1]}-d but candidates {C.shape[1]}-d;"
                                     f" compare them in one space")
    R = _relevance(len(Q), len(C), relevance, query_keys, candidate_keys)
    Qn, Cn = l2_normalize(Q), l2_normalize(C)
    ranks = np.empty(len(Q), np.int64)
    for start in range(0, len(Q), batch_size):
        stop = start + batch_size
        ranks[start:stop] = _ranks_from_scores(Qn[start:stop] @ Cn.T, R[start:stop])
    return ranks


def random_retrieval_ranks(n_candidates: int, *, relevance: Any = None,
                           query_keys: Sequence[Any] | None = None,
                           candidate_keys: Sequence[Any] | None = None, seed: int = 0,
                           n_draws: int = 1) -> np.ndarray:
    """Ranks under seeded uniform random scores (chance level); ``n_draws`` draws stacked.

    Returns
    -------
    ndarray of shape (n_draws * n_queries,)
    """
    n_q = len(query_keys) if query_keys is not None else np.asarray(relevance).shape[0]
    R = _relevance(n_q, n_candidates, relevance, query_keys, candidate_keys)
    rng = np.random.default_rng(seed)
    return np.concatenate([_ranks_from_scores(rng.random(R.shape), R) for _ in range(n_draws)])


def retrieval_from_ranks(ranks: Any, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``R@K`` for each ``K``, ``mrr``, ``median_rank`` and ``mean_rank`` from 1-based ranks."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or (r < 1).any():
        raise InvalidInputError("ranks must be a non-empty 1-D array of ranks >= 1")
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise InvalidInputError(f"ks must be positive ints, got {ks!r}")
    out = {f"R@{k}": float(np.mean(r <= k)) for k in ks}
    out.update(mrr=float(np.mean(1.0 / r)), median_rank=float(np.median(r)),
               mean_rank=float(np.mean(r)))
    return out


def retrieval_report(ranks: Any, *, ks: Sequence[int] = (1, 5, 10), n_resamples: int = 1000,
                     seed: int = 0) -> dict[str, ConfidenceInterval]:
    """:func:`retrieval_from_ranks` with a bootstrap CI (over queries) for every metric."""
    r = np.asarray(ranks)
    names = list(retrieval_from_ranks(r, ks))
    return {name: bootstrap_ci(lambda x, name=name: retrieval_from_ranks(x, ks)[name], r,
                               n_resamples=n_resamples, seed=seed) for name in names}
