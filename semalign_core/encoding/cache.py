"""A content-addressed embedding cache: encode each item once per encoder configuration.

Layout under ``cache_dir``::

    <fingerprint id>/fingerprint.json        what produced the vectors (for humans and checks)
    <fingerprint id>/shard-<digest>.safetensors
    <fingerprint id>/index*.safetensors      content key -> shard (see cache_index)

A vector is keyed by (encoder fingerprint id, content hash of the item): the sha256 of an image
file's bytes, of a text's UTF-8 bytes, or of an in-memory image's pixels. Renaming or moving a
file therefore keeps its cache entry; changing a single pixel, the weights or the preprocessing
does not reuse it.

Misses are encoded in chunks of ``shard_size`` and every chunk is written as its own shard,
atomically (:func:`semalign_core.fileio.write_arrays`), as soon as it is encoded: an interrupted
run keeps every finished shard and the next run resumes from there. Each shard carries the
sha256 of its contents; a shard that is unreadable or whose checksum does not match is reported,
moved aside (``*.corrupt``) and its items are encoded again, never used.

A warm request reads only what it needs: the index (a run of each shard's keys written
atomically after the shard, merged logarithmically; see :mod:`.cache_index`) says which shards
hold the requested items, and only those are read and verified. Keys travel as (n, 32) uint8
arrays (:func:`content_keys`) and vectors are gathered shard by shard into the caller's array
(:meth:`EmbeddingCache.fetch`): the cache holds no Python object per item.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..align.fingerprint import Fingerprint
from ..errors import CorruptFileError, InvalidInputError, OutputError
from ..fileio import atomic_path, read_arrays, write_arrays
from .cache_index import ShardIndex
from .content import as_raw_keys, content_key, content_keys

# encode_cached is served by __getattr__ below (it lives in cache_run).
__all__ = ["CacheStats", "CorruptShardWarning", "EmbeddingCache", "content_key",  # noqa: F822
           "content_keys", "encode_cached"]

_FORMAT = "semalign.cache_shard"
_VERSION = 1
DEFAULT_SHARD_SIZE = 256
#: Seconds after which a temporary shard file counts as orphaned (its writer died).
ORPHAN_AGE_S = 15 * 60


class CorruptShardWarning(UserWarning):
    """A cache shard was damaged; its items are encoded again."""


def _shard_checksum(keys: np.ndarray, vectors: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(keys).tobytes())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


@dataclass
class CacheStats:
    """What one :func:`encode_cached` call did.

    Attributes
    ----------
    hits : int
        Items found in the cache.
    misses : int
        Items encoded (distinct contents).
    shards_written : int
    corrupt_shards : list of str
        Shards found damaged (moved aside and recomputed).
    """

    hits: int = 0
    misses: int = 0
    shards_written: int = 0
    corrupt_shards: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "shards_written": self.shards_written,
                "corrupt_shards": list(self.corrupt_shards or [])}


class _Shard:
    """One shard read into memory: its keys sorted for binary search, and its vectors."""

    def __init__(self, raw_keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.ascontiguousarray(raw_keys).view("S32").reshape(-1)
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]
        self.vectors = vectors

    def rows(self, raw_keys: np.ndarray) -> np.ndarray:
        """The row of each key ((n, 32) uint8) in this shard, -1 where it is absent."""
        keys = np.ascontiguousarray(raw_keys).view("S32").reshape(-1)
        at = np.minimum(np.searchsorted(self.sorted, keys), max(len(self.sorted) - 1, 0))
        if not len(self.sorted):
            return np.full(len(keys), -1, np.int64)
        return np.where(self.sorted[at] == keys, self.order[at], -1).astype(np.int64)


class EmbeddingCache:
    """The shards of one encoder configuration under ``cache_dir``.

    Parameters
    ----------
    cache_dir : path
    fingerprint : Fingerprint
        The encoder's fingerprint; its :attr:`~Fingerprint.id` names the sub-folder.
    """

    def __init__(self, cache_dir: str | os.PathLike[str], fingerprint: Fingerprint) -> None:
        if not isinstance(fingerprint, Fingerprint):
            raise InvalidInputError(f"fingerprint must be a Fingerprint, got "
                                    f"{type(fingerprint).__name__}")
        self.fingerprint = fingerprint
        self.path = Path(cache_dir).expanduser() / fingerprint.id
        self.corrupt: list[str] = []
        self._loaded = False
        self._index = ShardIndex(fingerprint.id)
        self._kept: dict[str, _Shard] = {}  # shards read for load()/get(), kept in memory

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.path}, {len(self._index)} vectors indexed)"

    def _write_fingerprint(self) -> None:
        target = self.path / "fingerprint.json"
        if target.is_file():
            return
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(self.fingerprint.to_dict(), indent=2, sort_keys=True))

    def open(self) -> EmbeddingCache:
        """Open the index (reconciled with the shard files) without reading any vectors.

        Temporary files that a killed writer left behind (older than :data:`ORPHAN_AGE_S`)
        are removed.
        """
        self.corrupt, self._kept = [], {}
        self._index = ShardIndex(self.fingerprint.id)
        if self.path.is_dir():
            self._remove_orphans()
            self._open_index()
        self._loaded = True
        return self

    def load(self, keys: Sequence[str] | np.ndarray | None = None) -> EmbeddingCache:
        """Open the cache and read (verifying each checksum) the shards holding ``keys``, or
        every shard when ``keys`` is None, keeping them in memory; damaged shards are moved
        aside. Any other key is found through the index and its shard read on first
        :meth:`get`. Bulk requests use :meth:`fetch` instead, which keeps nothing.
        """
        self.open()
        if keys is None:
            wanted = set(self._index.shards)
        else:
            _, codes, names = self._index.candidates(as_raw_keys(keys))
            wanted = {names[c] for c in np.unique(codes).tolist()}
        for name in sorted(wanted):
            self._keep(name)
        return self

    def _open_index(self) -> None:
        """Read the index and reconcile it with the shard files on disk."""
        on_disk = {p.name for p in self.path.glob("shard-*.safetensors")}
        self._index, dirty = ShardIndex.open(self.path, self.fingerprint.id, on_disk)
        fresh = sorted(on_disk - set(self._index.shards))
        for name in fresh:  # written by a writer that died before the index, or a racing one
            shard = self._read(name)
            if shard is not None:
                self._index.add(name, shard[0])
        if dirty or fresh:
            with contextlib.suppress(OSError):  # a read-only cache still works, from the shards
                self._index.compact(self.path)

    def _read(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A shard's (keys, vectors), verified; ``None`` (and quarantined) when damaged."""
        try:
            return self._read_shard(self.path / name)
        except (CorruptFileError, OSError) as exc:
            self._quarantine(self.path / name, str(exc))
            self._index.drop([name])
            return None

    def _keep(self, name: str) -> _Shard | None:
        if name not in self._kept:
            shard = self._read(name)
            if shard is None:
                return None
            self._kept[name] = _Shard(*shard)
        return self._kept[name]

    def _remove_orphans(self) -> None:
        # atomic_path writes ".<name>.<random>.tmp" and renames it within one shard write;
        # one this old was left by a crash (SIGKILL, power loss) and will never be renamed.
        # Younger ones may belong to a writer running right now, so they stay.
        cutoff = time.time() - ORPHAN_AGE_S
        for tmp in self.path.glob(".shard-*.tmp"):
            with contextlib.suppress(OSError):  # another process may be removing it too
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def _read_shard(self, shard: Path) -> tuple[np.ndarray, np.ndarray]:
        # Version-1 shards predate file checksums but carry their own (checked below).
        arrays, doc = read_arrays(shard, format=_FORMAT, max_version=_VERSION,
                                  allow_unverified=True)
        try:
            raw_keys, vectors = arrays["keys"], arrays["vectors"]
            expected = doc["checksum"]
            fingerprint_id = doc["fingerprint_id"]
        except KeyError as exc:
            raise CorruptFileError(f"{shard} lacks {exc}") from exc
        if fingerprint_id != self.fingerprint.id:
            raise CorruptFileError(f"{shard} belongs to encoder {fingerprint_id}, not "
                                   f"{self.fingerprint.id}")
        if _shard_checksum(raw_keys, vectors) != expected:
            raise CorruptFileError(f"{shard} fails its checksum (its contents changed after "
                                   f"it was written)")
        if (vectors.ndim != 2 or vectors.shape[1] != self.fingerprint.dim
                or raw_keys.shape != (vectors.shape[0], 32) or not np.isfinite(vectors).all()):
            raise CorruptFileError(f"{shard} holds arrays of unexpected shape or values")
        return np.ascontiguousarray(raw_keys, np.uint8), np.asarray(vectors, np.float32)

    def _quarantine(self, shard: Path, reason: str) -> None:
        self.corrupt.append(str(shard))
        warnings.warn(f"ignoring damaged cache shard ({reason}); its items will be encoded "
                      f"again", CorruptShardWarning, stacklevel=4)
        with contextlib.suppress(OSError):  # another process may have moved it already
            os.replace(shard, shard.with_suffix(".corrupt"))

    def fetch(self, keys: Sequence[str] | np.ndarray,
              into: Callable[[np.ndarray, np.ndarray], None] | None = None) -> np.ndarray:
        """Which ``keys`` are cached (a boolean mask), reading each shard that may hold them
        once; ``into(positions, vectors)`` receives the vectors of the keys found, one call
        per shard, so that they go straight into the caller's array. Shards read here are
        not kept in memory.
        """
        raw = as_raw_keys(keys)
        found = np.zeros(len(raw), bool)
        positions, codes, names = self._ensure()._index.candidates(raw)
        order = np.argsort(codes, kind="stable")  # one group, one read, per shard
        positions, codes = positions[order], codes[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        for group in np.split(np.arange(len(codes)), bounds) if len(codes) else []:
            name = names[int(codes[group[0]])]
            shard = self._kept.get(name)
            if shard is None:
                read = self._read(name)
                shard = None if read is None else _Shard(*read)
            if shard is None:
                continue
            pos = positions[group]
            rows = shard.rows(raw[pos])
            ok = (rows >= 0) & ~found[pos]  # a key whose prefix two shards share: once
            if ok.any():
                found[pos[ok]] = True
                if into is not None:
                    into(pos[ok], shard.vectors[rows[ok]])
        return found

    def _find(self, key: str) -> np.ndarray | None:
        raw = as_raw_keys([key])
        for name in dict.fromkeys(self._index.locate([key])[0]):
            shard = self._keep(name)
            if shard is not None and (row := int(shard.rows(raw)[0])) >= 0:
                return shard.vectors[row]
        return None

    def _ensure(self) -> EmbeddingCache:
        return self if self._loaded else self.open()

    def __contains__(self, key: str) -> bool:
        return self._ensure()._find(key) is not None

    def __len__(self) -> int:
        return len(self._ensure()._index)

    def get(self, key: str) -> np.ndarray | None:
        """The vector cached under hex ``key``, or None."""
        return self._ensure()._find(key)

    def put(self, keys: Sequence[str] | np.ndarray, vectors: np.ndarray) -> Path:
        """Write one shard holding ``vectors`` under ``keys`` (hex strings or an (m, 32) uint8
        array), atomically, and index it."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.fingerprint.dim):
            raise InvalidInputError(f"expected vectors of shape {(len(keys), self.fingerprint.dim)}"
                                    f", got {vectors.shape}")
        raw = as_raw_keys(keys)
        checksum = _shard_checksum(raw, vectors)
        self._ensure()
        try:
            self._write_fingerprint()
        except OSError as exc:
            raise OutputError(f"could not write {self.path / 'fingerprint.json'} "
                              f"({exc.strerror or exc})") from exc
        # The shard's name is its checksum: rewriting the same content is idempotent.
        shard = self.path / f"shard-{checksum[:24]}.safetensors"
        write_arrays(shard, {"keys": raw, "vectors": vectors}, format=_FORMAT, version=_VERSION,
                     header={"checksum": checksum, "fingerprint_id": self.fingerprint.id,
                             "count": len(keys)})
        # Right after the shard: a crash between the two is repaired on the next open.
        self._index.append(self.path, shard.name, raw)
        return shard


def __getattr__(name: str) -> Any:
    # encode_cached lives in cache_run (it plans on top of this module); the old import path
    # keeps working (PEP 562).
    if name == "encode_cached":
        from .cache_run import encode_cached

        return encode_cached
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
