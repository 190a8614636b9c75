"""Where and in what precision torch encoders run: devices, autocast, inference mode.

Shared by :class:`~semalign_core.encoding.torch_batching.TorchImageEncoder` and
:class:`~semalign_core.encoding.torch_batching.TorchTextEncoder` (which re-exports the public
names, so plugins keep importing them from ``torch_batching``). ``_TorchMixin`` holds the
device / autocast options of both and makes every torch encoder's fingerprint record the dtype
it computes in. This module never imports torch at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "autocast_dtype", "inference_context", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda", "mps")


def _check_device_name(device: str) -> None:
    base = device.split(":", 1)[0] if isinstance(device, str) else None
    if base not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES} (optionally 'cuda:N'), "
                                f"got {device!r}")


def resolve_device(device: str = "auto") -> torch.device:
    """Turn ``"auto"``/``"cpu"``/``"cuda[:N]"``/``"mps"`` into a :class:`torch.device`.

    ``"auto"`` picks CUDA, then MPS, then CPU. Asking for an accelerator that is not available
    raises :class:`~semalign_core.errors.InvalidInputError` rather than silently using the CPU.
    """
    import torch

    _check_device_name(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} requested but CUDA is not available; "
                                f"use device='cpu' or 'auto'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise InvalidInputError("device 'mps' requested but MPS is not available; use 'cpu'")
    return torch.device(device)


def autocast_dtype(device: torch.device, autocast: bool | str) -> torch.dtype | None:
    """The autocast dtype to use on ``device``, or ``None`` for full float32.

    ``autocast`` is ``"auto"`` (CUDA only: bfloat16 where supported, else float16), ``True``
    (same, but also allowed on CPU with bfloat16), ``False``, or a dtype name
    (``"float16"``/``"bfloat16"``).
    """
    import torch

    if autocast is False or autocast == "off":
        return None
    if isinstance(autocast, str) and autocast in ("float16", "bfloat16"):
        return getattr(torch, autocast)
    if autocast not in (True, "auto"):
        raise InvalidInputError(f"autocast must be 'auto', True, False, 'float16' or "
                                f"'bfloat16', got {autocast!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if autocast is True and device.type == "cpu":
        return torch.bfloat16
    return None


@contextlib.contextmanager
def inference_context(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.inference_mode`` plus autocast to ``dtype`` when it is not ``None``."""
    import torch

    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=dtype):
                yield



def _no_accelerator() -> bool:
    """True when no GPU can be visible to torch: no NVIDIA or ROCm device node, not macOS (MPS).
    Torch-free, so that a fingerprint can be known without importing torch."""
    import os
    import sys

    if sys.platform == "darwin":
        return False
    return not any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def _precision_without_torch(device: str, autocast: bool | str) -> str | None:
    """What :func:`autocast_dtype` would give, where that needs no torch; else ``None``."""
    if autocast is False or autocast == "off":
        return "float32"
    if isinstance(autocast, str) and autocast in ("float16", "bfloat16"):
        return autocast
    if autocast not in (True, "auto"):
        return None  # invalid: autocast_dtype raises the error
    if device == "cpu" or (device == "auto" and _no_accelerator()):
        return "bfloat16" if autocast is True else "float32"
    return None


def _stamp_precision(fget: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a ``fingerprint`` getter so the fingerprint records the compute dtype."""
    @functools.wraps(fget)
    def fingerprint(self: Any) -> Any:
        fp = fget(self)
        precision = self.precision
        return fp if fp.precision == precision else dataclasses.replace(fp, precision=precision)

    fingerprint._stamps_precision = True  # type: ignore[attr-defined]
    return fingerprint


class _TorchMixin:
    """Options shared by image and text encoders: device, autocast."""

    supports_autocast: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every torch encoder's fingerprint records the dtype it computes in, whatever the
        # plugin's own fingerprint code says: bf16-autocast vectors differ from float32 ones and
        # must never be served from a cache or accepted by a translator in their place.
        super().__init_subclass__(**kwargs)
        prop = cls.__dict__.get("fingerprint")
        if isinstance(prop, property) and prop.fget is not None and not getattr(
                prop.fget, "_stamps_precision", False):
            cls.fingerprint = property(_stamp_precision(prop.fget), doc=prop.__doc__)

    @property
    def precision(self) -> str:
        """The compute dtype: ``"float32"``, or the autocast dtype in effect on the device.

        Known without loading the model (the cache needs it to decide whether to load at all);
        after loading it reports what the model actually runs in.
        """
        if "_amp_dtype" in self.__dict__:
            dtype = self._amp_dtype
        elif not self.supports_autocast:
            dtype = None
        else:
            known = _precision_without_torch(self.device, self.autocast)
            if known is not None:  # a warm cache in a fresh process never imports torch
                return known
            dtype = autocast_dtype(resolve_device(self.device), self.autocast)
        return "float32" if dtype is None else str(dtype).removeprefix("torch.")

    def _init_torch_options(self, device: str, autocast: bool | str) -> None:
        _check_device_name(device)
        self.device = device
        self.autocast = autocast

    def _setup_device(self) -> None:
        self._device = resolve_device(self.device)
        self._amp_dtype = (autocast_dtype(self._device, self.autocast)
                           if self.supports_autocast else None)

    @property
    def torch_device(self) -> torch.device:
        """The resolved device (loads the encoder)."""
        self.load()  # type: ignore[attr-defined]
        return self._device

