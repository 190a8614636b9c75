"""The :class:`Embeddings` container: vectors, their ids and what produced them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, InvalidInputError
from ..fileio import read_arrays, write_arrays
from ..validation import check_matrix
from .fingerprint import Fingerprint

__all__ = ["Embeddings"]

_FORMAT = "semalign.embeddings"
#: 2: checksummed (see semalign_core.fileio); 1: unchecked, read only with allow_unverified.
_VERSION = 2


class Embeddings:
    """Float32 vectors with one string id per row and the fingerprint of the encoder.

    Parameters
    ----------
    vectors : array-like of shape (n, dim)
        Floating-point vectors; stored as float32. NaN and inf are rejected.
    ids : sequence of str
        One unique id per row (e.g. the image path or a manifest id).
    fingerprint : Fingerprint, optional
        The encoder that produced the vectors. ``None`` for vectors of unknown origin; such
        embeddings cannot be checked against a fitted translator.
    metadata : mapping, optional
        JSON-serialisable extras (dataset name, split, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from semalign_core import Embeddings
    >>> emb = Embeddings(np.eye(3, dtype=np.float32), ids=["a", "b", "c"])
    >>> emb.dim, len(emb), emb.subset(["c", "a"]).ids
    (3, 3, ('c', 'a'))
    """

    def __init__(self, vectors: Any, ids: Iterable[str], fingerprint: Fingerprint | None = None,
                 metadata: Mapping[str, Any] | None = None) -> None:
        self.vectors = check_matrix(vectors, "vectors", min_rows=0)
        ids = tuple(ids)
        bad = [i for i in ids if not isinstance(i, str)]
        if bad:
            raise InvalidInputError(f"ids must be strings, got {type(bad[0]).__name__} "
                                    f"{bad[0]!r}; convert them with str()")
        if len(ids) != self.vectors.shape[0]:
            raise InvalidInputError(
                f"got {len(ids)} ids for {self.vectors.shape[0]} vectors; pass exactly one id "
                f"per row")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise InvalidInputError(f"ids must be unique, {dup!r} occurs more than once")
        if fingerprint is not None and not isinstance(fingerprint, Fingerprint):
            raise InvalidInputError(f"fingerprint must be a Fingerprint, got "
                                    f"{type(fingerprint).__name__}")
        if fingerprint is not None and fingerprint.dim != self.vectors.shape[1]:
            raise InvalidInputError(
                f"vectors have dim {self.vectors.shape[1]} but the fingerprint says "
                f"{fingerprint.dim} ({fingerprint.describe()})")
        self.ids: tuple[str, ...] = ids
        self.fingerprint = fingerprint
        self.metadata: dict[str, Any] = dict(metadata or {})
        try:  # refused now, not when save() is reached after the work is done
            json.dumps(self.metadata)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"metadata must be JSON-serialisable (str, numbers, lists, "
                                    f"dicts): {exc}") from None
        self._positions: dict[str, int] | None = None

    # -- basic protocol ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.vectors.shape[0]

    def __repr__(self) -> str:
        origin = self.fingerprint.describe() if self.fingerprint else "unknown encoder"
        return f"Embeddings(n={len(self)}, dim={self.dim}, encoder={origin})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.vectors if dtype is None else self.vectors.astype(dtype)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    # -- selection ---------------------------------------------------------------------------
    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """Row indices of ``ids``; raises :class:`InvalidInputError` for unknown ids."""
        if self._positions is None:
            self._positions = {item: i for i, item in enumerate(self.ids)}
        out = []
        for item in ids:
            try:
                out.append(self._positions[item])
            except KeyError:
                raise InvalidInputError(f"id {item!r} is not in these embeddings") from None
        return np.asarray(out, dtype=np.int64)

    def subset(self, selection: Sequence[str] | Sequence[int] | np.ndarray) -> Embeddings:
        """A new container with the rows named by ids, integer indices or a boolean mask.

        A boolean mask needs one entry per row; float indices are refused.
        """
        sel = list(selection) if not isinstance(selection, np.ndarray) else selection
        if len(sel) and all(isinstance(s, str) for s in sel):
            index = self.positions(sel)  # type: ignore[arg-type]
        else:
            index = self._index(np.asarray(sel))
        return Embeddings(self.vectors[index], [self.ids[i] for i in index], self.fingerprint,
                          self.metadata)

    def _index(self, sel: np.ndarray) -> np.ndarray:
        if sel.size == 0:
            return np.zeros(0, np.int64)
        if sel.ndim != 1:
            raise InvalidInputError(f"a selection must be 1-D, got shape {sel.shape}")
        if sel.dtype == bool:
            if len(sel) != len(self):
                raise InvalidInputError(f"a boolean mask needs one entry per row: got "
                                        f"{len(sel)} for {len(self)} embeddings")
            return np.flatnonzero(sel)
        if sel.dtype.kind not in "iu":
            raise InvalidInputError(f"select rows by ids, integer indices or a boolean mask, "
                                    f"got {sel.dtype} values such as {sel.flat[0]!r}")
        index = sel.astype(np.int64)
        if index.min() < -len(self) or index.max() >= len(self):
            raise InvalidInputError(f"index out of range for {len(self)} embeddings")
        return index

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``path`` (one safetensors file) atomically."""
        encoded = [i.encode("utf-8") for i in self.ids]
        offsets = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        header = {
            "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None,
            "metadata": self.metadata,
        }
        # ids travel as one UTF-8 blob plus offsets: a JSON list of a million ids would bloat
        # the safetensors header, which has a size cap.
        return write_arrays(path, {"vectors": self.vectors, "id_bytes": blob,
                                   "id_offsets": offsets}, format=_FORMAT, version=_VERSION,
                            header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_unverified: bool = False) -> Embeddings:
        """Read a file written by :meth:`save`; raises :class:`CorruptFileError` if damaged.

        Parameters
        ----------
        path : path
        allow_unverified : bool
            Also read files written before semalign stored checksums (format version 1), which
            cannot be verified; save them again to add checksums.
        """
        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION,
                                  allow_unverified=allow_unverified)
        try:
            blob = arrays["id_bytes"].tobytes()
            offsets = arrays["id_offsets"]
            if (offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0
                    or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any()):
                raise InvalidInputError("id_offsets do not delimit the id bytes")
            ids = [blob[offsets[i]:offsets[i + 1]].decode("utf-8")
                   for i in range(len(offsets) - 1)]
            fp = doc.get("fingerprint")
            return cls(arrays["vectors"], ids, Fingerprint.from_dict(fp) if fp else None,
                       doc.get("metadata") or {})
        except (KeyError, UnicodeDecodeError, InvalidInputError) as exc:
            raise CorruptFileError(f"{path} is damaged: {exc}") from exc
