"""semalign plugin: the BioViL / BioViL-T chest X-ray image encoders and the CXR-BERT text encoder.

Registered encoders (``semalign_core.get_encoder(name, **options)``):

``biovil-resnet50`` (aliases ``biovil-image``, ``biovil``)
    BioViL image model: ResNet-50 + projection into the 128-d joint image-text space
    (``output="global"`` for the 2048-d backbone feature).
``biovil-resnet50-t`` (aliases ``biovil-t-image``, ``biovil-t``)
    BioViL-T image model, single-image mode (crop 448).
``biovil-cxr-bert-text`` (aliases ``cxr-bert``, ``cxr-bert-specialized``)
    CXR-BERT-specialized: 128-d projected text embeddings (``output="cls"`` for the 768-d CLS).
``biovil-cxr-bert-t-text`` (alias ``biovil-t-text``)
    The BioViL-T text model (CXR-BERT architecture, BioViL-T weights).

>>> from semalign_core import get_encoder
>>> enc = get_encoder("biovil-resnet50", weights="random")
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
    # Family biovil; the arch is the network (resnet50 image, cxr-bert text), the tag -t marks
    # the BioViL-T weights. The aliases are the names used before that rule and keep working.
    register("biovil-resnet50", _preset("image", "biovil", "biovil-resnet50"),
             aliases=("biovil-image", "biovil"), modality="image",
             summary="BioViL chest X-ray image encoder (128-d joint space; output='global' "
                     "for 2048-d)")
    register("biovil-resnet50-t", _preset("image", "biovil-t", "biovil-resnet50-t"),
             aliases=("biovil-t-image", "biovil-t"), modality="image",
             summary="BioViL-T chest X-ray image encoder, single image (128-d joint space)")
    register("biovil-cxr-bert-text", _preset("text", "cxr-bert-specialized",
                                             "biovil-cxr-bert-text"),
             aliases=("cxr-bert", "cxr-bert-specialized"), modality="text",
             summary="CXR-BERT-specialized text encoder (128-d joint space with BioViL; "
                     "output='cls' for 768-d)")
    register("biovil-cxr-bert-t-text", _preset("text", "biovil-t", "biovil-cxr-bert-t-text"),
             aliases=("biovil-t-text",), modality="text",
             summary="BioViL-T text encoder (CXR-BERT architecture, BioViL-T weights)")
