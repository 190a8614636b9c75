"""semalign plugin: DINOv2 image encoders (transformers ``Dinov2Model``).

Registered as ``dinov2`` (``model="vits14"``...) and ``dinov2-vits14`` / ``-vitb14`` /
``-vitl14`` / ``-vitg14``. Torch and transformers are imported only when an encoder loads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from semalign_core import hookimpl

__all__ = ["Dinov2Encoder", "register_encoders"]

_SIZES = ("vits14", "vitb14", "vitl14", "vitg14")


def __getattr__(name: str) -> Any:
    if name == "Dinov2Encoder":
        from .encoder import Dinov2Encoder

        return Dinov2Encoder
    raise AttributeError(name)


def _make(size: str | None = None, **options: Any) -> Any:
    from .encoder import Dinov2Encoder

    if size is not None:
        options.setdefault("model", size)
    return Dinov2Encoder(**options)


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("dinov2", _make, modality="image",
             summary="DINOv2 ViT-14 image features (model=, pooling=)")
    for size in _SIZES:
        register(f"dinov2-{size}", partial(_make, size), modality="image",
                 summary=f"DINOv2 {size} (facebook/dinov2-*) image features")
