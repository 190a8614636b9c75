"""semalign plugin: open_clip image and text encoders.

Image encoders are registered as ``clip`` / ``clip-<preset>``, text encoders as ``clip-text`` /
``clip-<preset>-text``. Torch and open_clip are imported only when an encoder loads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from semalign_core import hookimpl

__all__ = ["PRESETS", "ClipImageEncoder", "ClipTextEncoder", "register_encoders"]

#: Preset name (``clip-<arch>[-<tag>]``, the tag left out for OpenAI's weights) -> (open_clip
#: architecture, pretrained tag). Each preset registers an image encoder under that name and a
#: text encoder under ``<name>-text``.
PRESETS: dict[str, tuple[str, str]] = {
    "clip-vit-b-32": ("ViT-B-32", "openai"),
    "clip-vit-b-16": ("ViT-B-16", "openai"),
    "clip-vit-l-14": ("ViT-L-14", "openai"),
    "clip-rn50": ("RN50", "openai"),
    "clip-vit-b-32-laion2b": ("ViT-B-32", "laion2b_s34b_b79k"),
}


def __getattr__(name: str) -> Any:
    if name in ("ClipImageEncoder", "ClipTextEncoder"):
        from . import encoder

        return getattr(encoder, name)
    raise AttributeError(name)


def _make(tower: str, preset: tuple[str, str] | None = None, **options: Any) -> Any:
    from .encoder import ClipImageEncoder, ClipTextEncoder

    if preset is not None:
        options.setdefault("model", preset[0])
        options.setdefault("pretrained", preset[1])
    return (ClipImageEncoder if tower == "image" else ClipTextEncoder)(**options)


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("clip", partial(_make, "image"), aliases=("clip-image", "open-clip"),
             modality="image", summary="open_clip image tower (model=, pretrained= or weights=)")
    register("clip-text", partial(_make, "text"), aliases=("open-clip-text",), modality="text",
             summary="open_clip text tower (model=, pretrained= or weights=)")
    for name, arch_tag in PRESETS.items():
        label = f"{arch_tag[0]} / {arch_tag[1]}"
        register(name, partial(_make, "image", arch_tag), modality="image",
                 summary=f"open_clip {label} image tower")
        register(f"{name}-text", partial(_make, "text", arch_tag), modality="text",
                 summary=f"open_clip {label} text tower")
