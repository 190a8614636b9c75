"""The index of an embedding cache: which shard holds each content key.

The index is a small stack of sorted *runs*, each one checksummed file next to the shards:
``index-<digest>.safetensors``, and ``index.safetensors`` where an open compacted them. A
run holds the first 8 bytes of each of its keys (sorted) and the shard of each, 12 bytes an
item, so that a lookup is one binary search per run and a warm request reads only the shards
holding its items. The full key is checked in the shard itself (a prefix shared by two keys, at
odds of ~1e-14 for 100k items, only costs reading one more shard).

Writing a shard adds a run of that shard's keys, written atomically right after the shard; while
the newest run is at least as large as the one below it the two are merged into one file (the
logarithmic method, as a binary counter adds one): an update rewrites O(shard size) index bytes
amortised over a run (times log2 of the number of shards), never the whole index, and at most
about log2(shards) + 1 runs exist at any time. Rewriting the whole index after every shard made
a run of N items cost O(N^2 / shard size).

The shards stay the truth: opening the cache compares the runs with the shard files on disk,
indexes shards no run lists (a writer killed between shard and run, two writers racing), forgets
shards that are gone (quarantined, deleted) and drops rows a run shares with a larger one (a
writer killed between writing a merged run and removing its inputs); after any such repair the
runs are compacted into one ``index.safetensors``. An index file is never the only copy of
anything: a damaged or missing run only costs reading the shards it listed.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, MissingFileError
from ..fileio import read_arrays, write_arrays

__all__ = ["INDEX_NAME", "ShardIndex", "key_words"]

INDEX_NAME = "index.safetensors"
_SEGMENT_GLOB = "index*.safetensors"
_FORMAT = "semalign.cache_index"
_VERSION = 2  # checksummed like every semalign file since format version 2


def key_words(raw: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each 32-byte key ((n, 32) uint8) as one uint64 (the search key)."""
    if not len(raw):
        return np.zeros(0, np.uint64)
    return np.ascontiguousarray(raw[:, :8]).view("<u8")[:, 0].astype(np.uint64)


def _hex_words(keys: Sequence[str]) -> np.ndarray:
    return np.array([int.from_bytes(bytes.fromhex(k[:16]), "little") for k in keys],
                    dtype=np.uint64)


@dataclass
class _Run:
    """One sorted run: ``words[i]`` is a key prefix held by shard ``shards[shard[i]]``."""

    shards: list[str]
    words: np.ndarray
    shard: np.ndarray
    file: str | None = None  # its file in the cache folder, once written

    def __len__(self) -> int:
        return len(self.words)

    def without(self, names: set[str]) -> _Run:
        """This run less the rows of shards ``names`` (not yet written anywhere)."""
        kept = [i for i, name in enumerate(self.shards) if name not in names]
        remap = np.full(len(self.shards), -1, np.int32)
        remap[kept] = np.arange(len(kept), dtype=np.int32)
        rows = remap[self.shard] >= 0
        return _Run([self.shards[i] for i in kept], self.words[rows], remap[self.shard[rows]])


def _merge(runs: Sequence[_Run]) -> _Run:
    offsets = np.cumsum([0, *(len(r.shards) for r in runs[:-1])])
    words = np.concatenate([r.words for r in runs])
    shard = np.concatenate([r.shard + int(o) for r, o in zip(runs, offsets, strict=True)])
    # Stable sort of concatenated sorted runs: numpy's timsort merges them in linear time.
    order = np.argsort(words, kind="stable")
    return _Run([s for r in runs for s in r.shards], words[order], shard[order].astype(np.int32))


def _read_run(path: Path, fingerprint_id: str) -> _Run | None:
    """The run saved in ``path``; ``None`` when it is unusable (its shards are then read)."""
    try:
        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION)
        if doc.get("fingerprint_id") != fingerprint_id:
            return None
        shards = [str(s) for s in doc["shards"]]
        words, shard = arrays["words"].astype(np.uint64), arrays["shard"].astype(np.int32)
        if words.ndim != 1 or shard.shape != words.shape or (len(shard) and not (
                0 <= shard.min() <= shard.max() < len(shards)
                and bool(np.all(words[1:] >= words[:-1])))):
            return None
    except (CorruptFileError, MissingFileError, KeyError, TypeError, ValueError):
        return None
    return _Run(shards, words, shard, path.name)  # written sorted: no sort on the read path


class ShardIndex:
    """Content key -> shard name, for one cache folder (see the module docstring)."""

    def __init__(self, fingerprint_id: str) -> None:
        self.fingerprint_id = fingerprint_id
        self._runs: list[_Run] = []  # a stack: sizes non-increasing from the bottom
        self._names: set[str] = set()
        self._files: set[str] = set()  # run files this index read or wrote

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    @property
    def shards(self) -> list[str]:
        """Every indexed shard file name."""
        return [name for run in self._runs for name in run.shards]

    @property
    def runs(self) -> int:
        """How many runs (files, once saved) the index has."""
        return len(self._runs)

    @classmethod
    def open(cls, folder: Path, fingerprint_id: str, on_disk: set[str]) -> tuple[ShardIndex, bool]:
        """Read every run in ``folder``, reconciled with the shard files ``on_disk``.

        Returns the index and whether it needs repair (:meth:`compact`): a run was unusable,
        listed a shard that is gone or a shard a larger run lists too.
        """
        index = cls(fingerprint_id)
        paths = sorted(folder.glob(_SEGMENT_GLOB))
        index._files = {p.name for p in paths}
        runs = [run for run in (_read_run(p, fingerprint_id) for p in paths) if run is not None]
        dirty = len(runs) != len(paths)
        # Largest first: a merged run is kept over the inputs a killed merge left beside it.
        for run in sorted(runs, key=len, reverse=True):
            drop = {name for name in run.shards if name in index._names or name not in on_disk}
            if drop:
                dirty, run = True, run.without(drop)
            index._names.update(run.shards)
            if run.shards:
                index._runs.append(run)
        return index, dirty

    def add(self, name: str, raw_keys: np.ndarray) -> None:
        """Record in memory that shard ``name`` holds ``raw_keys`` ((m, 32) uint8)."""
        if name in self._names:
            return
        words = key_words(raw_keys)
        order = np.argsort(words, kind="stable")
        self._runs.append(_Run([name], words[order], np.zeros(len(words), np.int32)))
        self._names.add(name)

    def append(self, folder: Path, name: str, raw_keys: np.ndarray) -> None:
        """Add shard ``name`` and save it: one merged run file, written atomically (raises
        :class:`~semalign_core.errors.OutputError` when it cannot be written)."""
        if name in self._names:
            return
        self.add(name, raw_keys)
        first, size = len(self._runs) - 1, len(self._runs[-1])
        while first and size >= len(self._runs[first - 1]):  # the binary counter's carry
            first -= 1
            size += len(self._runs[first])
        self._save(folder, first)

    def compact(self, folder: Path) -> None:
        """Merge every run into one ``index.safetensors`` (after a repair)."""
        if self._runs or self._files:
            self._save(folder, 0, compact=True)

    def _save(self, folder: Path, first: int, compact: bool = False) -> None:
        """Write runs ``first:`` as one merged file, then remove the files it replaces.

        A merge is named by its shards and removes only its inputs, so that writers running
        side by side never replace each other's runs (their overlap is dropped on the next
        open); a compaction also removes every other file this index read.
        """
        merged = _merge(self._runs[first:]) if self._runs[first:] else _Run([], np.zeros(
            0, np.uint64), np.zeros(0, np.int32))
        inputs = {run.file for run in self._runs[first:] if run.file}
        if compact:  # everything this index knows: files it read and no longer lists go too
            inputs |= self._files
        merged.file = INDEX_NAME if compact else self._segment_name(merged)
        if merged.shards:  # an empty index needs no file
            write_arrays(folder / merged.file, {"words": merged.words, "shard": merged.shard},
                         format=_FORMAT, version=_VERSION,
                         header={"fingerprint_id": self.fingerprint_id, "shards": merged.shards})
            self._files.add(merged.file)
        else:
            merged.file = ""
        self._runs[first:] = [merged] if merged.shards else []
        for name in sorted(inputs - {merged.file}):  # after the merged file: a crash leaves both
            with contextlib.suppress(OSError):  # another writer may have removed it already
                (folder / name).unlink()
            self._files.discard(name)

    @staticmethod
    def _segment_name(run: _Run) -> str:
        digest = hashlib.sha256("\x00".join(sorted(run.shards)).encode()).hexdigest()
        return f"index-{digest[:24]}.safetensors"

    def drop(self, names: Iterable[str]) -> None:
        """Forget shards in memory (quarantined); the next open repairs the files on disk."""
        gone = set(names) & self._names
        if not gone:
            return
        self._runs = [r if not gone & set(r.shards) else r.without(gone) for r in self._runs]
        self._runs = [r for r in self._runs if r.shards]
        self._names -= gone

    def candidates(self, raw_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The shards that may hold each key ((n, 32) uint8), vectorised.

        Returns ``(positions, codes, names)``: key ``positions[j]`` may be in shard
        ``names[codes[j]]`` (its 8-byte prefix is indexed there); almost always zero or one
        pair per key. The caller checks the full key in the shard.
        """
        chunk = 1 << 16  # bounds the search's temporaries (~100 bytes a key) to a few MB
        parts = [self._candidates(key_words(raw_keys[lo:lo + chunk]), lo)
                 for lo in range(0, len(raw_keys), chunk)]
        if len(parts) == 1:
            return parts[0]
        names = parts[0][2] if parts else self.shards
        return (np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64),
                np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32), names)

    def _candidates(self, words: np.ndarray, offset: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        positions, codes, names = [], [], []
        for run in self._runs:
            lo = np.searchsorted(run.words, words, side="left")
            hi = np.searchsorted(run.words, words, side="right")
            count = hi - lo
            hit = np.flatnonzero(count)
            if hit.size:
                reps = count[hit]
                starts = np.repeat(lo[hit] - (np.cumsum(reps) - reps), reps)
                rows = starts + np.arange(int(reps.sum()))
                positions.append(np.repeat(hit + offset, reps))
                codes.append(run.shard[rows] + np.int32(len(names)))
            names.extend(run.shards)
        if not positions:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), names
        return np.concatenate(positions), np.concatenate(codes), names

    def locate(self, keys: Sequence[str]) -> list[list[str]]:
        """The shards that may hold each hex key (see :meth:`candidates`)."""
        positions, codes, names = self._candidates(_hex_words(keys) if keys else
                                                   np.zeros(0, np.uint64))
        out: list[list[str]] = [[] for _ in keys]
        for pos, code in zip(positions.tolist(), codes.tolist(), strict=True):
            if names[code] not in out[pos]:
                out[pos].append(names[code])
        return out
