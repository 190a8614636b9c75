"""Strict state-dict loading shared by the image and the text network.

Both networks refuse a checkpoint with missing, unexpected or mis-shaped entries (a silently
partial load would give plausible-looking but wrong embeddings); the callers word the error for
their own checkpoint layout.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def some(items: list[str], n: int = 5) -> str:
    """The first ``n`` items for an error message, and how many more there are."""
    if not items:
        return "nothing"
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def key_mismatch(module: nn.Module, state: Mapping[str, torch.Tensor],
                 ignored_prefixes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``(missing, unexpected)`` keys of ``state`` for ``module``."""
    own = module.state_dict()
    extra = [k for k in state if k not in own and not k.startswith(ignored_prefixes)]
    missing = [k for k in own if k not in state]
    return missing, extra


def shape_mismatch(module: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """``"key: (checkpoint shape) vs (network shape)"`` for every entry whose shape differs."""
    return [f"{k}: {tuple(state[k].shape)} vs expected {tuple(v.shape)}"
            for k, v in module.state_dict().items() if tuple(state[k].shape) != tuple(v.shape)]


def load_as_float32(module: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load the module's own entries of ``state`` (floating ones as float32), strictly."""
    module.load_state_dict({k: state[k].float() if state[k].is_floating_point() else state[k]
                            for k in module.state_dict()}, strict=True)
