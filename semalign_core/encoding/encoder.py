"""The :class:`Encoder` base class every encoder plugin implements."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..errors import InvalidInputError, PluginError
from ..plugins.manager import MODALITIES
from ..plugins.registry import build_component

__all__ = ["MODALITIES", "Encoder", "get_encoder"]


class Encoder(ABC):
    """An encoder: items of one modality in, fixed-size float vectors out.

    Subclasses set the class attributes and implement :meth:`encode_batch` and
    :attr:`fingerprint`. Heavy work (importing torch, reading weights) belongs in :meth:`_load`,
    which runs once, on first use, never in ``__init__``: building an encoder must stay cheap so
    that listing and configuring them is fast.

    Attributes
    ----------
    name : str
        The registered name.
    modality : {"image", "text"}
        What :meth:`encode_batch` accepts: image paths / PIL images, or strings.
    dim : int
        Output dimension (may be set per instance in ``__init__`` when it depends on options).
    default_batch_size : int
        Batch size used by :meth:`encode` when none is given.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    dim: int = 0
    default_batch_size: ClassVar[int] = 32

    _load_lock: threading.Lock

    def _load(self) -> None:  # noqa: B027 - optional hook, a no-op for weight-free encoders
        """Load weights; called once, on first use. Override in encoders that have weights."""

    def load(self) -> Encoder:
        """Load the weights now instead of on first use (idempotent). Returns ``self``."""
        lock = self.__dict__.setdefault("_load_lock", threading.Lock())
        with lock:
            if not self.__dict__.get("_loaded", False):
                self._load()
                self._loaded = True
        return self

    @property
    def is_loaded(self) -> bool:
        return bool(self.__dict__.get("_loaded", False))

    @property
    @abstractmethod
    def fingerprint(self) -> Fingerprint:
        """What produced this encoder's vectors (architecture, weights, preprocessing)."""

    @abstractmethod
    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        """Encode one batch; return a float array of shape ``(len(items), dim)``."""

    # -- the public entry point ----------------------------------------------------------------
    def encode(self, items: Sequence[Any], *, ids: Sequence[str] | None = None,
               batch_size: int | None = None, progress: bool = True) -> Embeddings:
        """Encode ``items`` in batches, in order.

        Parameters
        ----------
        items : sequence
            Image paths / images for ``modality == "image"``, strings for ``"text"``.
        ids : sequence of str, optional
            One unique id per item. Defaults to the paths for images given as paths, else to
            the positions ``"0"``, ``"1"``, ...
        batch_size : int, optional
            Defaults to :attr:`default_batch_size`.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        Embeddings
        """
        items = list(items)
        ids = self._default_ids(items) if ids is None else [str(i) for i in ids]
        if len(ids) != len(items):
            raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
        batch_size = self.default_batch_size if batch_size is None else batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        self.load()
        chunks = []
        from tqdm.auto import tqdm

        with tqdm(total=len(items), desc=f"encoding ({self.name or type(self).__name__})",
                  unit=self.modality or "item", disable=not progress) as bar:
            for start in range(0, len(items), batch_size):
                batch = items[start:start + batch_size]
                chunks.append(self._checked_batch(batch))
                bar.update(len(batch))
        vectors = (np.concatenate(chunks) if chunks
                   else np.zeros((0, self.fingerprint.dim), np.float32))
        return Embeddings(vectors, ids, self.fingerprint)

    def _checked_batch(self, batch: Sequence[Any]) -> np.ndarray:
        out = np.asarray(self.encode_batch(batch))
        expected = (len(batch), self.fingerprint.dim)
        if out.shape != expected:
            raise PluginError(f"{type(self).__name__}.encode_batch returned shape {out.shape}, "
                              f"expected {expected}")
        return out.astype(np.float32, copy=False)

    def _default_ids(self, items: Sequence[Any]) -> list[str]:
        if self.modality == "image" and items and all(
                isinstance(i, str | os.PathLike) for i in items):
            return [os.fspath(i) for i in items]
        return [str(i) for i in range(len(items))]


def get_encoder(name: str, **options: Any) -> Encoder:
    """Build the encoder registered as ``name`` (weights load on first use)."""
    return build_component("encoder", name, options, Encoder)
