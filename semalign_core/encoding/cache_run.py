"""One cached encoding run, shared by both engines: plan (hash, deduplicate, look up), record
each encoded shard, collect the :class:`~semalign_core.Embeddings`.

:class:`CachePlan` holds what a run must hold and nothing per item in Python: the content keys
as one (n, 32) uint8 array, each item's distinct-content number (int64), and the output vectors,
preallocated as (n, dim) float32 and filled in place, shard by shard, from the cache and from
each encoded shard. :func:`encode_cached` is the local engine;
:func:`~semalign_core.encoding.ray_engine.encode_on_ray` drives the same plan from Ray.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..errors import InvalidInputError, OutputError
from ..fileio import check_writable_dir
from .cache import DEFAULT_SHARD_SIZE, CacheStats, EmbeddingCache
from .content import content_keys, distinct_contents
from .encoder import Encoder

__all__ = ["CachePlan", "encode_cached"]


def _expand(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(int(counts.sum()))


class CachePlan:
    """The cache's side of one run over ``keys`` ((n, 32) uint8, one row an item).

    Items of identical contents share one *distinct* number (in order of first appearance)
    and are encoded once. Opening the plan fills every cached item's vector; :attr:`todo` lists
    the distinct contents left to encode, :meth:`record` writes each encoded shard and fills
    its items, :meth:`embeddings` returns the result.
    """

    def __init__(self, cache_dir: str | os.PathLike[str], fingerprint: Fingerprint,
                 keys: np.ndarray) -> None:
        self.cache_dir = cache_dir
        self.cache = EmbeddingCache(cache_dir, fingerprint).open()
        #: Index of the first item of each distinct content, in order of first appearance,
        #: and each item's distinct number.
        self.first, self.inverse = distinct_contents(keys)
        self.unique = len(self.first) == len(keys)  # the common case: no item to copy to
        self.keys = keys if self.unique else keys[self.first]  # one row a distinct content
        if not self.unique:
            self._items_of = np.argsort(self.inverse, kind="stable")  # grouped by distinct
            self._count = np.bincount(self.inverse, minlength=len(self.first))
            self._start = np.cumsum(self._count) - self._count
        self.vectors = np.zeros((len(keys), fingerprint.dim), np.float32)
        self.done = self.cache.fetch(self.keys, self._fill)
        #: Distinct numbers to encode, in order of first appearance.
        self.todo = np.flatnonzero(~self.done)
        hits = int(self.done.sum()) if self.unique else int(self._count[self.done].sum())
        self.stats = CacheStats(hits=hits, misses=len(self.todo),
                                corrupt_shards=list(self.cache.corrupt))
        if len(self.todo):  # before any encoding: a read-only or misnamed cache costs no work
            check_writable_dir(cache_dir, "cache folder")

    def _fill(self, distinct: np.ndarray, vectors: np.ndarray) -> None:
        if self.unique:
            self.vectors[distinct] = vectors
            return
        counts = self._count[distinct]
        rows = self._items_of[_expand(self._start[distinct], counts)]
        self.vectors[rows] = np.repeat(vectors, counts, axis=0)

    def record(self, distinct: np.ndarray, vectors: np.ndarray) -> bool:
        """Write the encoded ``vectors`` of ``distinct`` contents as one shard (those already
        recorded, e.g. a Ray block delivered twice, are left out) and fill their items; return
        whether a shard was written."""
        distinct = np.asarray(distinct, np.int64)
        fresh = ~self.done[distinct] & _first_occurrences(distinct)
        if not fresh.any():
            return False
        distinct, vectors = distinct[fresh], np.asarray(vectors, np.float32)[fresh]
        try:
            self.cache.put(self.keys[distinct], vectors)
        except OutputError as exc:  # e.g. the disk filled up mid-run
            raise OutputError(
                f"{exc}; the {self.stats.shards_written} shard(s) written before "
                f"({int(self.done[self.todo].sum())} of {len(self.todo)} new items) are kept "
                f"in {self.cache.path}: free space and run again to resume from there") from exc
        self.stats.shards_written += 1
        self.done[distinct] = True
        self._fill(distinct, vectors)
        return True

    def embeddings(self, ids: Sequence[str], skipped: bool,
                   extra: dict[str, Any] | None = None) -> Embeddings:
        """The result in item order; items still missing are left out, as skipped (``skipped``
        says the encoder reported skipping some: otherwise a missing item is an error)."""
        keep = self.done[self.inverse]
        if not keep.all() and not skipped:
            raise InvalidInputError("the encoder returned fewer vectors than items without "
                                    "reporting skipped items")
        metadata: dict[str, Any] = {"cache": self.stats.to_dict(), **(extra or {})}
        if keep.all():
            return Embeddings(self.vectors, ids, self.cache.fingerprint, metadata)
        metadata["skipped"] = [ids[i] for i in np.flatnonzero(~keep).tolist()]
        return Embeddings(self.vectors[keep], [ids[i] for i in np.flatnonzero(keep).tolist()],
                          self.cache.fingerprint, metadata)


def _first_occurrences(values: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(values), bool)
    mask[np.unique(values, return_index=True)[1]] = True
    return mask


def encode_cached(encoder: Encoder, items: Sequence[Any], cache_dir: str | os.PathLike[str], *,
                  ids: Sequence[str] | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
                  batch_size: int | None = None, progress: bool = False,
                  on_shard: Callable[[int, int], None] | None = None) -> Embeddings:
    """Encode ``items`` with ``encoder``, reusing and filling the cache in ``cache_dir``.

    Parameters
    ----------
    encoder : Encoder
    items : sequence
        Image paths / PIL images or texts, as ``encoder.encode`` takes them.
    cache_dir : path
    ids : sequence of str, optional
        One unique id per item (default: image paths, else positions ``"0"``, ``"1"``...).
    shard_size : int
        Distinct items encoded and written per shard; the most work an interruption loses.
    batch_size : int, optional
        Passed to ``encoder.encode``.
    progress : bool
        Show the encoder's progress bar for the misses.
    on_shard : callable, optional
        Called as ``on_shard(done, total)`` after each shard is written (progress, tests).

    Returns
    -------
    Embeddings
        In the order of ``items``, with the encoder's fingerprint;
        ``metadata["cache"]`` holds the :class:`~semalign_core.encoding.cache.CacheStats` of
        this call. A warm cache does not load or call the encoder at all.
    """
    if not isinstance(encoder, Encoder):
        raise InvalidInputError(f"encoder must be an Encoder, got {type(encoder).__name__}")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive int, got {shard_size!r}")
    items = items if isinstance(items, list) else list(items)
    ids = encoder._default_ids(items) if ids is None else [str(i) for i in ids]
    if len(ids) != len(items):
        raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
    fingerprint = encoder.fingerprint
    plan = CachePlan(cache_dir, fingerprint, content_keys(items, encoder.modality))
    pending = plan.todo
    length = getattr(encoder, "text_length", None)  # texts: similar lengths share a batch
    if length and len(pending):
        lengths = np.fromiter((length(items[i]) for i in plan.first[pending].tolist()),
                              np.int64, len(pending))
        pending = pending[np.argsort(-lengths, kind="stable")]
    skipped = False
    for start in range(0, len(pending), shard_size):
        chunk = pending[start:start + shard_size]
        encoded = encoder.encode([items[i] for i in plan.first[chunk].tolist()],
                                 ids=[str(j) for j in chunk.tolist()], batch_size=batch_size,
                                 progress=progress)
        if encoded.fingerprint is not None and encoded.fingerprint != fingerprint:
            raise InvalidInputError(f"{type(encoder).__name__} changed its fingerprint while "
                                    f"encoding")
        skipped = skipped or bool(encoded.metadata.get("skipped"))
        if len(encoded):
            plan.record(np.array([int(i) for i in encoded.ids], np.int64), encoded.vectors)
        if on_shard is not None:
            on_shard(min(start + shard_size, len(pending)), len(pending))
    return plan.embeddings(ids, skipped)
