"""Torch-side pieces (imported only when an encoder loads): penultimate-feature wrappers."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semalign_core import InvalidInputError


class SqueezeNetFeatures(nn.Module):
    """SqueezeNet's penultimate features: ``adaptive_avg_pool2d(model.features(x), 1)``.

    SqueezeNet has no linear classifier (its head is a 1x1 conv to the classes), so the
    "penultimate" representation is the pooled output of its feature extractor (512-d).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.features = model.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)


class PenultimateFeatures(nn.Module):
    """The model with its final ``nn.Linear`` replaced by the identity.

    Every other torchvision classifier ends in a linear layer (``fc``, ``classifier[-1]``,
    ``heads.head``, ``head``) that is also the last ``nn.Linear`` registered in the module, so
    replacing that one gives the input of the classification layer whatever the family.
    """

    def __init__(self, model: nn.Module, arch: str) -> None:
        super().__init__()
        last = None
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                last = name
        if last is None:
            raise InvalidInputError(f"torchvision model {arch!r} has no final nn.Linear layer; "
                                    f"it is not a supported classification model")
        parent_name, _, child = last.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, nn.Identity())
        self.model = model
        self.replaced = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if not isinstance(out, torch.Tensor):  # GoogLeNet/Inception namedtuples in train mode
            out = out[0]
        return torch.flatten(out, 1)


def build_classifier(arch: str) -> nn.Module:
    import torchvision

    try:
        return torchvision.models.get_model(arch, weights=None)
    except ValueError as exc:
        available = torchvision.models.list_models(module=torchvision.models)
        raise InvalidInputError(f"unknown torchvision model {arch!r}; available: "
                                f"{', '.join(available)}") from exc


def feature_extractor(model: nn.Module, arch: str) -> nn.Module:
    if arch.startswith("squeezenet"):
        return SqueezeNetFeatures(model)
    return PenultimateFeatures(model, arch)


def feature_dim(arch: str, crop: int) -> int:
    """Output dimension, from a shape-only forward pass on the meta device (no weights)."""
    try:
        with torch.device("meta"):
            net = feature_extractor(build_classifier(arch), arch).eval()
            out = net(torch.empty(1, 3, crop, crop))
    except InvalidInputError:
        raise
    except Exception:  # some models cannot be built on meta; fall back to a CPU forward
        net = feature_extractor(build_classifier(arch), arch).eval()
        with torch.inference_mode():
            out = net(torch.zeros(1, 3, crop, crop))
    return int(out.shape[1])


def load_into(model: nn.Module, state: dict[str, Any], source: str, arch: str) -> None:
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise InvalidInputError(f"weights {source} do not fit torchvision {arch!r}: {exc}. "
                                f"Check model= matches the checkpoint") from exc
    if result.missing_keys or result.unexpected_keys:
        raise InvalidInputError(
            f"weights {source} do not fit torchvision {arch!r}: missing "
            f"{list(result.missing_keys)[:5]}, unexpected {list(result.unexpected_keys)[:5]} "
            f"({len(result.missing_keys)} missing, {len(result.unexpected_keys)} unexpected). "
            f"Check model= matches the checkpoint")
