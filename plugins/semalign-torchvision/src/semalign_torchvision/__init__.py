"""semalign plugin: torchvision classification models as image encoders.

>>> from semalign_core import get_encoder
>>> enc = get_encoder("torchvision", model="squeezenet1_1", weights="random")
>>> enc.is_loaded
False

Torch is imported only when an encoder loads, so listing plugins stays fast.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from semalign_core import hookimpl

__all__ = ["PRESETS", "TorchvisionEncoder", "register_encoders"]

#: Registered shortcut names -> torchvision model names.
PRESETS = {
    "torchvision-squeezenet1_1": "squeezenet1_1",
    "torchvision-resnet18": "resnet18",
    "torchvision-resnet50": "resnet50",
    "torchvision-densenet121": "densenet121",
    "torchvision-efficientnet_b0": "efficientnet_b0",
    "torchvision-convnext_tiny": "convnext_tiny",
    "torchvision-vit_b_16": "vit_b_16",
}
_ALIASES = {"torchvision-squeezenet1_1": ("squeezenet1_1", "squeezenet")}


def __getattr__(name: str) -> Any:  # lazy: the encoder module pulls in semalign's torch helpers
    if name == "TorchvisionEncoder":
        from .encoder import TorchvisionEncoder

        return TorchvisionEncoder
    raise AttributeError(name)


def _make(arch: str | None = None, **options: Any) -> Any:
    from .encoder import TorchvisionEncoder

    if arch is not None:
        if "model" in options and options["model"] != arch:
            from semalign_core import InvalidInputError

            raise InvalidInputError(f"this preset is torchvision {arch!r}; use the "
                                    f"'torchvision' encoder to choose model={options['model']!r}")
        options["model"] = arch
    return TorchvisionEncoder(**options)


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("torchvision", _make,
             description="any torchvision classifier's penultimate features (model=, weights=)")
    for name, arch in PRESETS.items():
        register(name, partial(_make, arch), aliases=_ALIASES.get(name, ()),
                 description=f"torchvision {arch} penultimate features")
