"""The index of an embedding cache: which shard holds each content key.

One checksummed file, ``index.safetensors``, next to the shards, rewritten atomically after each
shard is written. It holds the first 8 bytes of every key (sorted) and the shard of each: 12
bytes an item, so that a lookup is a binary search and a warm request reads only the shards
holding its items. The full key is checked in the shard itself (a prefix shared by two keys,
at odds of ~1e-14 for 100k items, only costs reading one more shard). The shards stay the
truth: opening the cache compares the index with the shard files on disk, indexes shards it does
not list (a writer that died between shard and index, two writers racing) and forgets shards
that are gone (quarantined, deleted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, MissingFileError
from ..fileio import read_arrays, write_arrays

__all__ = ["INDEX_NAME", "ShardIndex"]

INDEX_NAME = "index.safetensors"
_FORMAT = "semalign.cache_index"
_VERSION = 2  # checksummed like every semalign file since format version 2


def _first_words(raw: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each 32-byte key as one uint64 (the sort and search key)."""
    return np.ascontiguousarray(raw[:, :8]).view("<u8")[:, 0]


def _hex_words(keys: Sequence[str]) -> np.ndarray:
    return np.array([int.from_bytes(bytes.fromhex(k[:16]), "little") for k in keys],
                    dtype=np.uint64)


class ShardIndex:
    """Content key -> shard name, for one cache folder.

    Attributes
    ----------
    shards : list of str
        Shard file names, in the order the ``shard`` column refers to them.
    """

    def __init__(self, fingerprint_id: str) -> None:
        self.fingerprint_id = fingerprint_id
        self.shards: list[str] = []
        self._shard = np.zeros(0, np.int32)
        self._words = np.zeros(0, np.uint64)

    def __len__(self) -> int:
        return len(self._shard)

    @classmethod
    def read(cls, folder: Path, fingerprint_id: str) -> ShardIndex | None:
        """The index saved in ``folder``; ``None`` when there is none or it is unusable (it is
        then rebuilt from the shards: an index is never the only copy of anything)."""
        try:
            arrays, doc = read_arrays(folder / INDEX_NAME, format=_FORMAT, max_version=_VERSION)
            index = cls(fingerprint_id)
            if doc.get("fingerprint_id") != fingerprint_id:
                return None
            index.shards = [str(s) for s in doc["shards"]]
            words, shard = arrays["words"].astype(np.uint64), arrays["shard"].astype(np.int32)
            if words.ndim != 1 or shard.shape != words.shape or (len(shard) and not (
                    0 <= shard.min() <= shard.max() < len(index.shards)
                    and bool(np.all(words[1:] >= words[:-1])))):
                return None
        except (CorruptFileError, MissingFileError, KeyError, TypeError, ValueError):
            return None
        index._words, index._shard = words, shard  # written sorted: no sort on the read path
        return index

    def write(self, folder: Path) -> None:
        write_arrays(folder / INDEX_NAME, {"words": self._words, "shard": self._shard},
                     format=_FORMAT, version=_VERSION,
                     header={"fingerprint_id": self.fingerprint_id, "shards": self.shards})

    def _set(self, words: np.ndarray, shard: np.ndarray) -> None:
        order = np.argsort(words, kind="stable")
        self._shard, self._words = shard[order], words[order]

    def add(self, name: str, raw_keys: np.ndarray) -> None:
        """Record that shard ``name`` holds the keys ``raw_keys`` ((m, 32) uint8)."""
        if name in self.shards:
            return
        self.shards.append(name)
        shard = np.full(len(raw_keys), len(self.shards) - 1, np.int32)
        words = _first_words(raw_keys) if len(raw_keys) else np.zeros(0, np.uint64)
        self._set(np.concatenate([self._words, words]), np.concatenate([self._shard, shard]))

    def drop(self, names: Iterable[str]) -> None:
        """Forget shards (gone from disk, or quarantined)."""
        gone = {self.shards.index(n) for n in names if n in self.shards}
        if not gone:
            return
        keep_rows = ~np.isin(self._shard, list(gone))
        remap = np.full(len(self.shards), -1, np.int32)
        kept = [i for i in range(len(self.shards)) if i not in gone]
        remap[kept] = np.arange(len(kept), dtype=np.int32)
        self.shards = [self.shards[i] for i in kept]
        self._set(self._words[keep_rows], remap[self._shard[keep_rows]])

    def locate(self, keys: Sequence[str]) -> list[list[str]]:
        """The shards that may hold each hex key (its 8-byte prefix is indexed there): almost
        always zero or one; the caller checks the full key in the shard."""
        if not keys:
            return []
        words = _hex_words(keys)
        lo = np.searchsorted(self._words, words, side="left")
        hi = np.searchsorted(self._words, words, side="right")
        return [[self.shards[s] for s in dict.fromkeys(self._shard[a:b].tolist())]
                for a, b in zip(lo, hi, strict=True)]
