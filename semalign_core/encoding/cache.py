"""A content-addressed embedding cache: encode each item once per encoder configuration.

Layout under ``cache_dir``::

    <fingerprint id>/fingerprint.json        what produced the vectors (for humans and checks)
    <fingerprint id>/shard-<digest>.safetensors
    <fingerprint id>/index.safetensors       content key -> shard (see cache_index)

A vector is keyed by (encoder fingerprint id, content hash of the item): the sha256 of an image
file's bytes, of a text's UTF-8 bytes, or of an in-memory image's pixels. Renaming or moving a
file therefore keeps its cache entry; changing a single pixel, the weights or the preprocessing
does not reuse it.

Misses are encoded in chunks of ``shard_size`` and every chunk is written as its own shard,
atomically (:func:`semalign_core.fileio.write_arrays`), as soon as it is encoded: an interrupted
run keeps every finished shard and the next run resumes from there. Each shard carries the
sha256 of its contents; a shard that is unreadable or whose checksum does not match is reported,
moved aside (``*.corrupt``) and its items are encoded again, never used.

A warm request reads only what it needs: the index (rewritten atomically after every shard) says
which shards hold the requested items, and only those are read (memory-mapped) and verified.
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

from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..errors import CorruptFileError, InvalidInputError, OutputError
from ..fileio import atomic_path, check_writable_dir, read_arrays, write_arrays
from .cache_index import ShardIndex
from .encoder import Encoder

__all__ = ["CacheStats", "CorruptShardWarning", "EmbeddingCache", "content_key",
           "encode_cached"]

_FORMAT = "semalign.cache_shard"
_VERSION = 1
DEFAULT_SHARD_SIZE = 256
#: Seconds after which a temporary shard file counts as orphaned (its writer died).
ORPHAN_AGE_S = 15 * 60


class CorruptShardWarning(UserWarning):
    """A cache shard was damaged; its items are encoded again."""


def content_key(item: Any, modality: str) -> str:
    """The content hash of one item (64 hex digits).

    Parameters
    ----------
    item : str, path-like or PIL image
        An image path (hashes the file bytes), a PIL image (hashes mode, size and pixels) or a
        text (hashes its UTF-8 bytes).
    modality : {"image", "text"}

    Raises
    ------
    InvalidInputError
        A missing image file, or an item of the wrong type.
    """
    digest = hashlib.sha256()
    if modality == "text":
        if not isinstance(item, str):
            raise InvalidInputError(f"text items must be strings, got {type(item).__name__}")
        digest.update(b"text\x00" + item.encode("utf-8"))
    elif modality == "image":
        if isinstance(item, str | os.PathLike):
            try:
                with open(item, "rb") as fh:
                    digest.update(b"file\x00")
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
            except OSError as exc:
                raise InvalidInputError(f"cannot read image {os.fspath(item)!r}: {exc}") from exc
        elif hasattr(item, "tobytes") and hasattr(item, "mode") and hasattr(item, "size"):
            digest.update(f"pil\x00{item.mode}\x00{item.size}\x00".encode())
            digest.update(item.tobytes())
        else:
            raise InvalidInputError(f"image items must be paths or PIL images, got "
                                    f"{type(item).__name__}")
    else:
        raise InvalidInputError(f"modality must be 'image' or 'text', got {modality!r}")
    return digest.hexdigest()


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
        self._vectors: dict[str, np.ndarray] = {}
        self.corrupt: list[str] = []
        self._loaded = False
        self._index = ShardIndex(fingerprint.id)
        self._read: set[str] = set()  # shards whose vectors are in memory
        self._absent: set[str] = set()  # keys the index was asked about and does not hold

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.path}, {len(self._index)} vectors indexed)"

    def _write_fingerprint(self) -> None:
        target = self.path / "fingerprint.json"
        if target.is_file():
            return
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(self.fingerprint.to_dict(), indent=2, sort_keys=True))

    def load(self, keys: Sequence[str] | None = None) -> EmbeddingCache:
        """Open the cache, verifying the checksum of every shard read; damaged shards are
        moved aside.

        ``keys=None`` reads every shard. With ``keys``, only the shards holding those keys are
        read now; any other key is found through the index and its shard read on first
        :meth:`get`. Temporary files that a killed writer left behind (older than
        :data:`ORPHAN_AGE_S`) are removed.
        """
        self._vectors, self.corrupt, self._read, self._absent = {}, [], set(), set()
        self._index = ShardIndex(self.fingerprint.id)
        if self.path.is_dir():
            self._remove_orphans()
            self._open_index()
            if keys is None:
                wanted = set(self._index.shards)
            else:
                keys = list(keys)
                wanted = {name for names in self._index.locate(keys) for name in names}
            for name in sorted(wanted - self._read):
                self._read_into_memory(name)
            if keys is not None:  # every shard that could hold them is read: the rest are not
                self._absent = {k for k in keys if k not in self._vectors}
        self._loaded = True
        return self

    def _open_index(self) -> None:
        """Read the index and reconcile it with the shard files on disk."""
        on_disk = sorted(p.name for p in self.path.glob("shard-*.safetensors"))
        index = ShardIndex.read(self.path, self.fingerprint.id) or ShardIndex(self.fingerprint.id)
        present = set(on_disk)
        gone = [name for name in index.shards if name not in present]
        index.drop(gone)
        self._index = index
        fresh = sorted(present - set(index.shards))
        for name in fresh:  # written by a writer that died before the index, or a racing one
            self._read_into_memory(name, index_it=True)
        if gone or fresh:
            self._save_index()

    def _save_index(self) -> None:
        with contextlib.suppress(OSError):  # a read-only cache still works, from the shards
            self._index.write(self.path)

    def _read_into_memory(self, name: str, *, index_it: bool = False) -> None:
        try:
            raw, keys, vectors = self._read_shard(self.path / name)
        except (CorruptFileError, OSError) as exc:
            self._quarantine(self.path / name, str(exc))
            if name in self._index.shards:
                self._index.drop([name])
                self._save_index()
            return
        if index_it:
            self._index.add(name, raw)
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors.setdefault(key, vector)
        self._read.add(name)

    def _remove_orphans(self) -> None:
        # atomic_path writes ".<name>.<random>.tmp" and renames it within one shard write;
        # one this old was left by a crash (SIGKILL, power loss) and will never be renamed.
        # Younger ones may belong to a writer running right now, so they stay.
        cutoff = time.time() - ORPHAN_AGE_S
        for tmp in self.path.glob(".shard-*.tmp"):
            with contextlib.suppress(OSError):  # another process may be removing it too
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def _read_shard(self, shard: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
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
        return raw_keys, [bytes(k).hex() for k in raw_keys], vectors.astype(np.float32)

    def _quarantine(self, shard: Path, reason: str) -> None:
        self.corrupt.append(str(shard))
        warnings.warn(f"ignoring damaged cache shard ({reason}); its items will be encoded "
                      f"again", CorruptShardWarning, stacklevel=3)
        with contextlib.suppress(OSError):  # another process may have moved it already
            os.replace(shard, shard.with_suffix(".corrupt"))

    def _find(self, key: str) -> bool:
        """Whether ``key`` is cached, reading the shards the index points to (full key check)."""
        if key in self._vectors:
            return True
        if key in self._absent:
            return False
        for name in self._index.locate([key])[0]:
            if name not in self._read:
                self._read_into_memory(name)
        if key not in self._vectors:
            self._absent.add(key)
        return key in self._vectors

    def _ensure(self) -> EmbeddingCache:
        return self if self._loaded else self.load()

    def __contains__(self, key: str) -> bool:
        return self._ensure()._find(key)

    def __len__(self) -> int:
        return len(self._ensure()._index)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key) if key in self else None

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> Path:
        """Write one shard holding ``vectors`` under ``keys`` (atomically) and remember them."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.fingerprint.dim):
            raise InvalidInputError(f"expected vectors of shape {(len(keys), self.fingerprint.dim)}"
                                    f", got {vectors.shape}")
        raw = np.frombuffer(b"".join(bytes.fromhex(k) for k in keys), dtype=np.uint8)
        raw = raw.reshape(len(keys), 32).copy()
        checksum = _shard_checksum(raw, vectors)
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
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key] = vector
        self._absent.difference_update(keys)
        self._read.add(shard.name)
        self._index.add(shard.name, raw)
        try:  # right after the shard: a crash between the two is repaired on the next open
            self._index.write(self.path)
        except OSError as exc:
            raise OutputError(f"could not write the cache index in {self.path} "
                              f"({exc.strerror or exc})") from exc
        return shard


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
        ``metadata["cache"]`` holds the :class:`CacheStats` of this call. A warm cache does
        not load or call the encoder at all.
    """
    if not isinstance(encoder, Encoder):
        raise InvalidInputError(f"encoder must be an Encoder, got {type(encoder).__name__}")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive int, got {shard_size!r}")
    items = list(items)
    ids = encoder._default_ids(items) if ids is None else [str(i) for i in ids]
    if len(ids) != len(items):
        raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
    fingerprint = encoder.fingerprint
    keys = [content_key(item, encoder.modality) for item in items]
    cache = EmbeddingCache(cache_dir, fingerprint).load(keys)  # only the shards holding them
    # Identical contents are encoded once, whichever items carry them.
    todo: dict[str, Any] = {}
    for key, item in zip(keys, items, strict=True):
        if key not in cache and key not in todo:
            todo[key] = item
    stats = CacheStats(hits=sum(1 for k in keys if k in cache), misses=len(todo),
                       corrupt_shards=list(cache.corrupt))
    length = getattr(encoder, "text_length", None)  # texts: similar lengths share a batch
    pending = sorted(todo.items(), key=lambda kv: -length(kv[1])) if length else [*todo.items()]
    if pending:  # before any encoding: a read-only or misnamed cache costs no work
        check_writable_dir(cache_dir, "cache folder")
    skipped: list[dict[str, Any]] = []
    for start in range(0, len(pending), shard_size):
        chunk = pending[start:start + shard_size]
        encoded = encoder.encode([item for _, item in chunk], ids=[k for k, _ in chunk],
                                 batch_size=batch_size, progress=progress)
        if encoded.fingerprint is not None and encoded.fingerprint != fingerprint:
            raise InvalidInputError(f"{type(encoder).__name__} changed its fingerprint while "
                                    f"encoding")
        skipped.extend(encoded.metadata.get("skipped", []))
        if len(encoded):
            try:
                cache.put(list(encoded.ids), encoded.vectors)
            except OutputError as exc:  # e.g. the disk filled up mid-run
                raise OutputError(
                    f"{exc}; the {stats.shards_written} shard(s) written before "
                    f"({start} of {len(pending)} new items) are kept in {cache.path}: free "
                    f"space and run again to resume from there") from exc
            stats.shards_written += 1
        if on_shard is not None:
            on_shard(min(start + shard_size, len(pending)), len(pending))
    keep = [i for i, k in enumerate(keys) if k in cache]
    if len(keep) != len(keys) and not skipped:
        raise InvalidInputError("the encoder returned fewer vectors than items without "
                                "reporting skipped items")
    vectors = (np.stack([cache.get(keys[i]) for i in keep]) if keep
               else np.zeros((0, fingerprint.dim), np.float32))
    metadata: dict[str, Any] = {"cache": stats.to_dict()}
    if len(keep) != len(keys):
        metadata["skipped"] = [ids[i] for i in range(len(keys)) if keys[i] not in cache]
    return Embeddings(vectors, [ids[i] for i in keep], fingerprint, metadata)
