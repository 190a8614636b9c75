"""One cached encoding run, shared by both engines: plan (hash, deduplicate, look up), record
each encoded shard, collect the :class:`~semalign_core.Embeddings`.

:class:`CacheRun` holds what the caller gets back: the output vectors, preallocated as (n, dim)
float32 and filled in place, and which items have one. It plans the items in windows of
:data:`WINDOW_SHARDS` shards: each :class:`CachePlan` holds one window's content keys as one
(m, 32) uint8 array and each item's distinct-content number, nothing per item in Python, and is
dropped when its window is done. So the engine's own memory stays bounded by the window however
many items a run has. :func:`encode_cached` is the local engine;
:func:`~semalign_core.encoding.ray_engine.encode_on_ray` drives the same run from Ray.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..errors import InvalidInputError, OutputError
from ..fileio import check_writable_dir
from .cache import DEFAULT_SHARD_SIZE, CacheStats, EmbeddingCache
from .content import content_keys, distinct_contents
from .encoder import Encoder

__all__ = ["WINDOW_SHARDS", "CachePlan", "CacheRun", "encode_cached"]


def _expand(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(int(counts.sum()))


#: Items per window, in shards of items: a run holds the plan (keys, distinct numbers) of one
#: window at a time (two on Ray, where the next is planned while the last blocks run), so the
#: engine's own memory is bounded by the window, not by the number of items.
WINDOW_SHARDS = 64


class CacheRun:
    """One cached encoding run over ``n`` items, planned window by window.

    The run holds what the caller gets back (the (n, dim) float32 output, filled in place, and
    which items have a vector) and the cache statistics. :meth:`plan` opens a
    :class:`CachePlan` over the keys of one window of consecutive items; items of one window
    whose contents appear in an earlier window are cache hits by then.

    Parameters
    ----------
    cache_dir : path
    fingerprint : Fingerprint
    n : int
        Items in the run.
    shard_size : int
        Distinct items per shard; a window is :data:`WINDOW_SHARDS` shards of items.
    """

    def __init__(self, cache_dir: str | os.PathLike[str], fingerprint: Fingerprint, n: int,
                 shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.cache_dir = cache_dir
        self.cache = EmbeddingCache(cache_dir, fingerprint).open()
        self.vectors = np.zeros((n, fingerprint.dim), np.float32)
        self.found = np.zeros(n, bool)  # items whose vector is in ``vectors``
        self.stats = CacheStats()  # its corrupt_shards are the cache's, read at the end
        self.window = WINDOW_SHARDS * shard_size
        self._writable = False
        self.encoded = 0  # distinct items encoded and written by this run

    def __len__(self) -> int:
        return len(self.found)

    def windows(self) -> Iterator[tuple[int, int]]:
        """The ``(start, stop)`` item bounds of each window, in order."""
        n = len(self)
        return ((lo, min(lo + self.window, n)) for lo in range(0, n, self.window))

    def plan(self, start: int, keys: np.ndarray) -> CachePlan:
        """A :class:`CachePlan` over items ``start .. start + len(keys)`` (their keys)."""
        plan = CachePlan(self, start, keys)
        if len(plan.todo) and not self._writable:
            # Before any encoding: a read-only or misnamed cache costs no work.
            check_writable_dir(self.cache_dir, "cache folder")
            self._writable = True
        return plan

    def embeddings(self, ids: Sequence[str], skipped: bool,
                   extra: dict[str, Any] | None = None) -> Embeddings:
        """The result in item order; items still missing are left out, as skipped (``skipped``
        says the encoder reported skipping some: otherwise a missing item is an error)."""
        keep = self.found
        if not keep.all() and not skipped:
            raise InvalidInputError("the encoder returned fewer vectors than items without "
                                    "reporting skipped items")
        self.stats.corrupt_shards = list(self.cache.corrupt)
        metadata: dict[str, Any] = {"cache": self.stats.to_dict(), **(extra or {})}
        if keep.all():
            return Embeddings(self.vectors, ids, self.cache.fingerprint, metadata)
        metadata["skipped"] = [ids[i] for i in np.flatnonzero(~keep).tolist()]
        return Embeddings(self.vectors[keep], [ids[i] for i in np.flatnonzero(keep).tolist()],
                          self.cache.fingerprint, metadata)


class CachePlan:
    """The cache's side of one window of a :class:`CacheRun`: items ``start ..`` ``start +
    len(keys)``, their ``keys`` ((m, 32) uint8, one row an item).

    Items of identical contents share one *distinct* number (in order of first appearance)
    and are encoded once. Opening the plan fills every cached item's vector in the run's
    output; :attr:`todo` lists the distinct contents left to encode, :meth:`record` writes
    each encoded shard and fills its items.
    """

    def __init__(self, run: CacheRun, start: int, keys: np.ndarray) -> None:
        self.run, self.start = run, start
        #: Index (within the window) of the first item of each distinct content, in order of
        #: first appearance, and each item's distinct number.
        self.first, self.inverse = distinct_contents(keys)
        self.unique = len(self.first) == len(keys)  # the common case: no item to copy to
        self.keys = keys if self.unique else keys[self.first]  # one row a distinct content
        if not self.unique:
            self._items_of = np.argsort(self.inverse, kind="stable")  # grouped by distinct
            self._count = np.bincount(self.inverse, minlength=len(self.first))
            self._start = np.cumsum(self._count) - self._count
        self.vectors = run.vectors[start:start + len(keys)]  # a view: filled in place
        self.done = run.cache.fetch(self.keys, self._fill)
        #: Distinct numbers to encode, in order of first appearance.
        self.todo = np.flatnonzero(~self.done)
        run.stats.hits += int(self.done.sum()) if self.unique else int(
            self._count[self.done].sum())
        run.stats.misses += len(self.todo)

    def _fill(self, distinct: np.ndarray, vectors: np.ndarray) -> None:
        """Copy the vectors of ``distinct`` contents to all their items, and mark them found."""
        if self.unique:
            self.vectors[distinct] = vectors
            self.run.found[self.start + distinct] = True
            return
        counts = self._count[distinct]
        rows = self._items_of[_expand(self._start[distinct], counts)]
        self.vectors[rows] = np.repeat(vectors, counts, axis=0)
        self.run.found[self.start + rows] = True

    def items(self, distinct: np.ndarray) -> np.ndarray:
        """The run's item number of the first item of each ``distinct`` content."""
        return self.start + self.first[distinct]

    def record(self, distinct: np.ndarray, vectors: np.ndarray) -> bool:
        """Write the encoded ``vectors`` of ``distinct`` contents as one shard (those already
        recorded, e.g. a Ray block delivered twice, are left out) and fill their items; return
        whether a shard was written."""
        distinct = np.asarray(distinct, np.int64)
        fresh = ~self.done[distinct] & _first_occurrences(distinct)
        if not fresh.any():
            return False
        distinct, vectors = distinct[fresh], np.asarray(vectors, np.float32)[fresh]
        stats = self.run.stats
        try:
            self.run.cache.put(self.keys[distinct], vectors)
        except OutputError as exc:  # e.g. the disk filled up mid-run
            raise OutputError(
                f"{exc}; the {stats.shards_written} shard(s) written before "
                f"({self.run.encoded} of {stats.misses} new items) are kept in "
                f"{self.run.cache.path}: free space and run again to resume from "
                f"there") from exc
        stats.shards_written += 1
        self.run.encoded += len(distinct)
        self.done[distinct] = True
        self._fill(distinct, vectors)
        return True


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
        Called as ``on_shard(done, total)`` after each shard is written (progress, tests):
        distinct items encoded so far, of those to encode in the windows planned so far (a
        run is planned in windows of :data:`WINDOW_SHARDS` shards of items, so ``total`` is
        final once the last window is planned).

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
    run = CacheRun(cache_dir, fingerprint, len(items), shard_size)
    length = getattr(encoder, "text_length", None)  # texts: similar lengths share a batch
    skipped, done, total = False, 0, 0
    for lo, hi in run.windows():
        plan = run.plan(lo, content_keys(items[lo:hi], encoder.modality))
        pending, total = plan.todo, total + len(plan.todo)
        if length and len(pending):
            lengths = np.fromiter((length(items[i]) for i in plan.items(pending).tolist()),
                                  np.int64, len(pending))
            pending = pending[np.argsort(-lengths, kind="stable")]
        for start in range(0, len(pending), shard_size):
            chunk = pending[start:start + shard_size]
            encoded = encoder.encode([items[i] for i in plan.items(chunk).tolist()],
                                     ids=[str(j) for j in chunk.tolist()],
                                     batch_size=batch_size, progress=progress)
            if encoded.fingerprint is not None and encoded.fingerprint != fingerprint:
                raise InvalidInputError(f"{type(encoder).__name__} changed its fingerprint "
                                        f"while encoding")
            skipped = skipped or bool(encoded.metadata.get("skipped"))
            if len(encoded):
                plan.record(np.array([int(i) for i in encoded.ids], np.int64), encoded.vectors)
            done += len(chunk)
            if on_shard is not None:
                on_shard(done, total)
    return run.embeddings(ids, skipped)
