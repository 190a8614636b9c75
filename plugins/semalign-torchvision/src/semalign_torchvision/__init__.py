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

#: Registered preset names (``torchvision-<arch>``, the torchvision name with ``_`` as ``-``)
#: -> torchvision model names.
PRESETS = {
    "torchvision-squeezenet1-1": "squeezenet1_1",
    "torchvision-resnet18": "resnet18",
    "torchvision-resnet50": "resnet50",
    "torchvision-densenet121": "densenet121",
    "torchvision-efficientnet-b0": "efficientnet_b0",
    "torchvision-convnext-tiny": "convnext_tiny",
    "torchvision-vit-b-16": "vit_b_16",
}
#: Names used before the naming rule (docs/writing-plugins.md); they keep working.
_ALIASES = {"torchvision-squeezenet1-1": ("squeezenet1_1", "squeezenet")}


def _aliases(name: str, arch: str) -> tuple[str, ...]:
    old = f"torchvision-{arch}"
    return ((old,) if old != name else ()) + _ALIASES.get(name, ())


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
    register("torchvision", _make, modality="image",
             summary="any torchvision classifier's penultimate features (model=, weights=)")
    for name, arch in PRESETS.items():
        register(name, partial(_make, arch), aliases=_aliases(name, arch), modality="image",
                 summary=f"{arch} penultimate features")
