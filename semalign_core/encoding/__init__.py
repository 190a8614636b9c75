"""The SDK for encoder-plugin authors: the Encoder base, torch batching, weights resolution,
image loading, the embedding cache, pickle-free state-dict reading, cached file digests and quiet
(progress-bar-free) model loading.

Only :mod:`semalign_core.encoding.torch_batching` needs torch, and it is imported on first use of
its names, so ``import semalign_core.encoding`` stays light.
"""

from __future__ import annotations

from typing import Any

from .._numerics import cached_file_digest, read_state_dict
from .encoder import Encoder
from .memo import memoized
from .quiet import quiet_model_loading

__all__ = ["Encoder", "TorchImageEncoder", "TorchTextEncoder", "cached_file_digest",
           "memoized", "quiet_model_loading", "read_state_dict", "resolve_device"]

_TORCH_NAMES = {"TorchImageEncoder", "TorchTextEncoder", "resolve_device"}


def __getattr__(name: str) -> Any:
    # PEP 562: the torch machinery loads only when a plugin asks for it.
    if name in _TORCH_NAMES:
        from . import torch_batching

        return getattr(torch_batching, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
