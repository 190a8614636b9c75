"""Shared batched-encoding machinery for torch-based encoder plugins.

:class:`TorchImageEncoder` is the base class of every torch image encoder. A plugin implements
two methods, :meth:`~TorchImageEncoder._build` (return the model in eval mode and a picklable
``transform(PIL image) -> tensor``) and :attr:`~semalign_core.Encoder.fingerprint`; it gets:

- a :class:`torch.utils.data.DataLoader` whose workers decode and preprocess images
  (``num_workers > 0``), so the model does not wait on I/O; batches come back in input order;
- device selection (``"cpu"``, ``"cuda"``, ``"mps"``, ``"auto"``);
- ``torch.inference_mode`` and, on CUDA, autocast (bfloat16 where supported, else float16);
- a tqdm progress bar that can be turned off;
- ``skip_errors``: unreadable images are skipped, warned about, and listed in the returned
  embeddings' ``metadata["skipped"]`` instead of aborting the run.

:class:`TorchTextEncoder` is the small text counterpart (device, autocast, inference mode; the
batching is :meth:`semalign_core.Encoder.encode`'s).

Devices, autocast and the precision stamp are in :mod:`semalign_core.encoding.torch_runtime`
(re-exported here). This module itself never imports torch at import time.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..align.embeddings import Embeddings
from ..errors import ImageLoadError, InvalidInputError
from .encoder import Encoder
from .images import MODES, SkippedImage, load_image
from .torch_runtime import (
    DEVICES,
    _TorchMixin,
    autocast_dtype,
    inference_context,
    resolve_device,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICES",
    "TorchImageEncoder",
    "TorchTextEncoder",
    "autocast_dtype",
    "inference_context",
    "resolve_device",
]


# -- the DataLoader pieces (module level so worker processes can unpickle them) -----------------
class _DecodeDataset:
    """Map-style dataset: index -> (index, tensor or None, error message or None).

    Errors are returned, not raised, so the main process decides whether to skip or raise and
    can always name the file (an exception raised in a worker loses its attributes).
    """

    def __init__(self, items: Sequence[Any], transform: Callable[[Any], Any], mode: str) -> None:
        self.items = items
        self.transform = transform
        self.mode = mode

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any, str | None]:
        try:
            image = load_image(self.items[index], mode=self.mode)
        except ImageLoadError as exc:
            return index, None, str(exc)
        except InvalidInputError as exc:  # not a path or image at all
            return index, None, f"item {index} ({self.items[index]!r}): {exc}"
        return index, self.transform(image), None


def _one_intra_op_thread(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: each decoding worker uses one torch thread, so that
    N workers plus the forward pass never oversubscribe the cores (under contention, per-image
    transforms on 2 torch threads took 15x longer than on one)."""
    import torch

    torch.set_num_threads(1)


def _channels_last(model: Any) -> bool:
    """Whether ``model`` has 2-D convolutions, which run faster on CPU in channels-last memory
    format (SqueezeNet ~2x on this project's CPU, outputs equal to float32 round-off)."""
    import torch

    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _collate(samples: list[tuple[int, Any, str | None]]) -> tuple[list[int], Any, list[tuple]]:
    import torch

    good = [(i, t) for i, t, err in samples if err is None]
    failed = [(i, err) for i, _, err in samples if err is not None]
    batch = torch.stack([t for _, t in good]) if good else None
    return [i for i, _ in good], batch, failed



class TorchImageEncoder(_TorchMixin, Encoder):
    """Base class of torch image encoders: DataLoader decoding, devices, autocast, progress.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        Where the model runs.
    batch_size : int, optional
        Default batch size for :meth:`encode` (defaults to :attr:`default_batch_size`).
    num_workers : int
        DataLoader worker processes that decode and preprocess images; 0 decodes in the main
        process.
    autocast : {"auto", True, False, "float16", "bfloat16"}
        Mixed precision. ``"auto"`` uses it on CUDA only; ``False`` gives exact float32
        (results on CUDA with autocast differ from float32 at the 1e-3 level).
    skip_errors : bool
        Skip unreadable images (warn, and list them in ``metadata["skipped"]``) instead of
        raising :class:`~semalign_core.errors.ImageLoadError`.
    progress : bool
        Default for :meth:`encode`'s progress bar.

    Subclasses implement :meth:`_build` and :attr:`fingerprint`.
    """

    modality = "image"
    #: Pillow mode the model's transform expects ("RGB" or "L").
    image_mode: str = "RGB"

    def __init__(self, *, device: str = "auto", batch_size: int | None = None,
                 num_workers: int = 0, autocast: bool | str = "auto",
                 skip_errors: bool = False, progress: bool = True) -> None:
        self._init_torch_options(device, autocast)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise InvalidInputError(f"num_workers must be an int >= 0, got {num_workers!r}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.skip_errors = bool(skip_errors)
        self.progress = bool(progress)
        self.last_skipped: list[SkippedImage] = []

    # -- what subclasses provide ---------------------------------------------------------------
    @abstractmethod
    def _build(self) -> tuple[Any, Callable[[Any], Any]]:
        """Return ``(model, transform)``: the model (on CPU is fine) and a picklable
        ``transform(PIL image) -> CHW float tensor``. Called once, by :meth:`load`."""

    def _forward(self, model: Any, batch: torch.Tensor) -> torch.Tensor:
        """Map a preprocessed batch to ``(n, dim)`` features; override for non-default heads."""
        return model(batch)

    # -- loading -------------------------------------------------------------------------------
    def _load(self) -> None:
        if self.image_mode not in MODES:
            raise InvalidInputError(f"image_mode must be one of {MODES}")
        self._setup_device()
        # The fingerprint resolves the weights: a missing-weights error comes now, before the
        # network is built (seconds of imports and allocation for nothing).
        self.fingerprint  # noqa: B018
        model, transform = self._build()
        self._model = model.eval().to(self._device)
        self._memory_format = None
        if self._device.type == "cpu" and _channels_last(self._model):
            import torch

            self._memory_format = torch.channels_last
            self._model = self._model.to(memory_format=self._memory_format)
        self._transform = transform

    @property
    def model(self) -> Any:
        """The underlying torch module (loads the weights)."""
        self.load()
        return self._model

    @property
    def transform(self) -> Callable[[Any], Any]:
        """The preprocessing: PIL image -> tensor (loads the encoder)."""
        self.load()
        return self._transform

    # -- encoding ------------------------------------------------------------------------------
    def encode_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Encode an already preprocessed ``(n, C, H, W)`` batch; returns float32 NumPy."""
        self.load()
        batch = batch.to(self._device, non_blocking=True)
        if self._memory_format is not None:
            batch = batch.contiguous(memory_format=self._memory_format)
        with inference_context(self._device, self._amp_dtype):
            out = self._forward(self._model, batch)
        return out.float().cpu().numpy()

    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        """Encode one batch of image paths or PIL images in the calling process."""
        import torch

        self.load()
        if len(items) == 0:
            return np.zeros((0, self.dim), np.float32)
        images = [load_image(item, mode=self.image_mode) for item in items]
        return self.encode_tensor(torch.stack([self._transform(im) for im in images]))

    def encode(self, items: Sequence[Any], *, ids: Sequence[str] | None = None,
               batch_size: int | None = None, progress: bool | None = None) -> Embeddings:
        """Encode images in batches through a DataLoader, in input order.

        Parameters
        ----------
        items : sequence
            Image paths (PNG, JPEG, DICOM, ...) or PIL images.
        ids : sequence of str, optional
            One unique id per item; defaults to the paths (or positions).
        batch_size : int, optional
            Defaults to the ``batch_size`` option, then :attr:`default_batch_size`.
        progress : bool, optional
            Show a tqdm progress bar; defaults to the ``progress`` option.

        Returns
        -------
        Embeddings
            With ``metadata["skipped"]`` listing skipped inputs when ``skip_errors=True``.
        """
        from tqdm.auto import tqdm

        items = list(items)
        ids = self._default_ids(items) if ids is None else [str(i) for i in ids]
        if len(ids) != len(items):
            raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
        batch_size = batch_size or self.batch_size or self.default_batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        progress = self.progress if progress is None else progress
        self.load()
        fp = self.fingerprint
        vectors = np.empty((len(items), fp.dim), np.float32)
        ok = np.zeros(len(items), bool)
        skipped: list[SkippedImage] = []
        if items:
            loader = self._loader(items, batch_size)
            with tqdm(total=len(items), desc=f"encoding ({self.name or type(self).__name__})",
                      unit="image", disable=not progress) as bar:
                for indices, batch, failed in loader:
                    for index, message in failed:
                        if not self.skip_errors:
                            raise ImageLoadError(message, str(items[index]))
                        skipped.append(SkippedImage(index, str(items[index]), message))
                        warnings.warn(f"skipping unreadable image: {message}", UserWarning,
                                      stacklevel=2)
                    if batch is not None:
                        out = self.encode_tensor(batch)
                        expected = (len(indices), fp.dim)
                        if out.shape != expected:
                            from ..errors import PluginError

                            raise PluginError(f"{type(self).__name__} produced features of "
                                              f"shape {out.shape}, expected {expected}")
                        vectors[indices] = out
                        ok[indices] = True
                    bar.update(len(indices) + len(failed))
        self.last_skipped = skipped
        keep = np.flatnonzero(ok) if skipped else np.arange(len(items))
        metadata = {"skipped": [{"index": s.index, "source": s.source, "reason": s.reason}
                                for s in skipped]} if skipped else None
        return Embeddings(vectors[keep], [ids[i] for i in keep], fp, metadata=metadata)

    def _loader(self, items: list[Any], batch_size: int) -> Any:
        from torch.utils.data import DataLoader

        workers = min(self.num_workers, len(items))
        kwargs: dict[str, Any] = {}
        if workers > 0:
            # A few batches in flight per worker keeps the model fed without unbounded memory.
            kwargs = {"prefetch_factor": 2, "persistent_workers": False,
                      "worker_init_fn": _one_intra_op_thread}
        return DataLoader(
            _DecodeDataset(items, self._transform, self.image_mode),
            batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_collate,
            pin_memory=self._device.type == "cuda", **kwargs)


class TorchTextEncoder(_TorchMixin, Encoder):
    """Base class of torch text encoders: device and autocast options, inference mode.

    Subclasses implement :meth:`_build` (load the model), :meth:`_encode_texts` and
    :attr:`fingerprint`; batching and the progress bar are :meth:`semalign_core.Encoder.encode`'s.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
    batch_size : int, optional
        Default batch size for :meth:`encode`.
    autocast : {"auto", True, False, "float16", "bfloat16"}
        As for :class:`TorchImageEncoder`.
    """

    modality = "text"

    def __init__(self, *, device: str = "auto", batch_size: int | None = None,
                 autocast: bool | str = "auto") -> None:
        self._init_torch_options(device, autocast)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size

    @abstractmethod
    def _build(self) -> None:
        """Load the model onto ``self._device`` (set before this is called)."""

    @abstractmethod
    def _encode_texts(self, texts: list[str]) -> Any:
        """Encode a list of strings; return a tensor or array of shape ``(n, dim)``."""

    def _load(self) -> None:
        self._setup_device()
        self.fingerprint  # noqa: B018 - resolves the weights before the model is built
        self._build()

    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        bad = [t for t in items if not isinstance(t, str)]
        if bad:
            raise InvalidInputError(f"text encoders take strings, got {type(bad[0]).__name__} "
                                    f"{bad[0]!r}")
        self.load()
        if len(items) == 0:
            return np.zeros((0, self.dim), np.float32)
        with inference_context(self._device, self._amp_dtype):
            out = self._encode_texts(list(items))
        if hasattr(out, "detach"):
            out = out.detach().float().cpu().numpy()
        return np.asarray(out, dtype=np.float32)

    def text_length(self, text: str) -> int:
        """The sort key of length batching: the number of characters, as sentence-transformers
        uses (a tokenizer-free proxy of the token count). Subclasses may count tokens."""
        return len(text)

    def encode(self, items: Sequence[Any], *, ids: Sequence[str] | None = None,
               batch_size: int | None = None, progress: bool = True) -> Embeddings:
        """Encode strings in batches (see :meth:`semalign_core.Encoder.encode`), longest first.

        Each batch is padded to its longest text, so batches of similar lengths waste no
        compute on padding: the items are sorted by :meth:`text_length`, encoded in batches in
        that order, and returned in the input order (ids and rows as given).
        """
        items = list(items)
        ids = self._default_ids(items) if ids is None else [str(i) for i in ids]
        if len(ids) != len(items):
            raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
        bad = [t for t in items if not isinstance(t, str)]
        if bad:
            raise InvalidInputError(f"text encoders take strings, got {type(bad[0]).__name__} "
                                    f"{bad[0]!r}")
        order = sorted(range(len(items)), key=lambda i: -self.text_length(items[i]))
        out = super().encode([items[i] for i in order], ids=[ids[i] for i in order],
                             batch_size=batch_size or self.batch_size, progress=progress)
        restore = np.empty(len(order), dtype=np.int64)
        restore[order] = np.arange(len(order))
        return Embeddings(out.vectors[restore], ids, out.fingerprint, out.metadata)
