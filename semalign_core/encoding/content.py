"""Content keys: the sha256 of what an item holds, the address of its cached vector.

An image file hashes its bytes, a PIL image its mode, size and pixels, a text its UTF-8 bytes;
the modality is part of the hash. Many keys travel as one (n, 32) uint8 array
(:func:`content_keys`), 32 bytes an item, rather than as n hex strings (~100 bytes each).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["as_raw_keys", "content_key", "content_keys", "distinct_contents"]


def _digest(item: Any, modality: str) -> bytes:
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
    return digest.digest()


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
    return _digest(item, modality).hex()


def content_keys(items: Iterable[Any], modality: str, count: int | None = None) -> np.ndarray:
    """The content hashes of ``items`` as one (n, 32) uint8 array (32 bytes an item, no
    Python object per item); row ``i`` is ``bytes.fromhex(content_key(items[i], modality))``.

    ``count`` (the number of items) lets the array be allocated once; without it ``items`` must
    be a sized sequence.
    """
    n = len(items) if count is None else count  # type: ignore[arg-type]
    buf = bytearray(32 * n)
    for i, item in enumerate(items):
        buf[32 * i:32 * i + 32] = _digest(item, modality)
    return np.frombuffer(buf, np.uint8).reshape(n, 32)


def as_raw_keys(keys: Sequence[str] | np.ndarray) -> np.ndarray:
    """Keys as a contiguous (n, 32) uint8 array, from hex strings or such an array."""
    if isinstance(keys, np.ndarray):
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 32:
            raise InvalidInputError(f"raw keys must be an (n, 32) uint8 array, got {keys.dtype}"
                                    f" {keys.shape}")
        return np.ascontiguousarray(keys)
    raw = np.frombuffer(b"".join(bytes.fromhex(k) for k in keys), dtype=np.uint8)
    return raw.reshape(len(keys), 32).copy()


def distinct_contents(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group identical keys ((n, 32) uint8): ``(first, inverse)``.

    ``first[j]`` is the first item of distinct content ``j``, numbered in order of first
    appearance; ``inverse[i]`` is the distinct number of item ``i`` (so ``keys[first[inverse]]
    == keys``). Sorts the 8-byte prefixes (uint64) and compares full keys only among items
    sharing a prefix: ~40 bytes an item at the peak, where ``np.unique`` of the 32-byte keys
    takes ~180.
    """
    n = len(keys)
    index = np.int32 if n < 2 ** 31 else np.int64
    words = np.ascontiguousarray(keys[:, :8]).view("<u8").reshape(-1)
    order = np.argsort(words, kind="stable").astype(index)
    sorted_words = words[order]
    del words
    start = np.ones(n, bool)  # sorted position p starts a new distinct content
    same = np.flatnonzero(sorted_words[1:] == sorted_words[:-1])
    if same.size:  # duplicates, or (rarely) different keys sharing a prefix
        members = np.unique(np.concatenate([same, same + 1]))
        full = np.ascontiguousarray(keys[order[members]]).view("S32").reshape(-1)
        # Within each run of one prefix (runs stay in place): full key, then first appearance.
        sub = np.lexsort((order[members], full, sorted_words[members]))
        order[members], full = order[members][sub], full[sub]
        adjacent = (members[1:] == members[:-1] + 1) & (full[1:] == full[:-1])
        start[members[1:][adjacent]] = False
    del sorted_words
    group = np.cumsum(start, dtype=np.int64) - 1  # sorted position -> group
    firsts = order[start].astype(np.int64)  # each group's first item (groups in sorted order)
    by_appearance = np.argsort(firsts, kind="stable")
    rank = np.empty(len(firsts), index)
    rank[by_appearance] = np.arange(len(firsts), dtype=index)
    inverse = np.empty(n, index)
    inverse[order] = rank[group]
    return firsts[by_appearance], inverse
