"""semalign plugin: the BioViL / BioViL-T chest X-ray image encoders and the CXR-BERT text encoder.

Registered encoders (``semalign_core.get_encoder(name, **options)``):

``biovil-image`` (alias ``biovil``)
    BioViL image model: ResNet-50 + projection into the 128-d joint image-text space
    (``output="global"`` for the 2048-d backbone feature).
``biovil-t-image`` (alias ``biovil-t``)
    BioViL-T image model, single-image mode (crop 448).
``cxr-bert`` (alias ``cxr-bert-specialized``)
    CXR-BERT-specialized: 128-d projected text embeddings (``output="cls"`` for the 768-d CLS).
``biovil-t-text``
    The BioViL-T text model (CXR-BERT architecture, BioViL-T weights).

>>> from semalign_core import get_encoder
>>> enc = get_encoder("biovil-image", weights="random")
>>> enc.is_loaded, enc.dim
(False, 128)

Torch and transformers are imported only when an encoder loads, so listing plugins stays fast.
Prompt helpers for CheXpert findings are in :mod:`semalign_biovil.prompts`.
"""

from __future__ import annotations

from typing import Any

from semalign_core import hookimpl

__all__ = ["BioVilImageEncoder", "CXRBertEncoder", "register_encoders"]


def __getattr__(name: str) -> Any:  # lazy: the encoder modules pull in semalign's torch helpers
    if name == "BioVilImageEncoder":
        from .image import BioVilImageEncoder

        return BioVilImageEncoder
    if name == "CXRBertEncoder":
        from .text import CXRBertEncoder

        return CXRBertEncoder
    raise AttributeError(name)


def _preset(kind: str, model: str, label: str) -> Any:
    def factory(**options: Any) -> Any:
        if "model" in options and options["model"] != model:
            from semalign_core import InvalidInputError

            raise InvalidInputError(f"{label} is model={model!r}; use the other preset for "
                                    f"model={options['model']!r}")
        options["model"] = model
        if kind == "image":
            from .image import BioVilImageEncoder

            return BioVilImageEncoder(**options)
        from .text import CXRBertEncoder

        return CXRBertEncoder(**options)

    factory.__name__ = f"make_{label.replace('-', '_')}"
    return factory


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("biovil-image", _preset("image", "biovil", "biovil-image"), aliases=("biovil",),
             description="BioViL chest X-ray image encoder (ResNet-50, 128-d joint space; "
                         "output='global' for 2048-d)")
    register("biovil-t-image", _preset("image", "biovil-t", "biovil-t-image"),
             aliases=("biovil-t",),
             description="BioViL-T chest X-ray image encoder, single image (128-d joint space)")
    register("cxr-bert", _preset("text", "cxr-bert-specialized", "cxr-bert"),
             aliases=("cxr-bert-specialized",),
             description="CXR-BERT-specialized text encoder (128-d joint space with BioViL; "
                         "output='cls' for 768-d), no remote code")
    register("biovil-t-text", _preset("text", "biovil-t", "biovil-t-text"),
             description="BioViL-T text encoder (CXR-BERT architecture), no remote code")
