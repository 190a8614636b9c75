"""DINOv2 image encoders through transformers (torch is imported only when they load)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding import quiet_model_loading
from semalign_core.encoding.torch_batching import TorchImageEncoder
from semalign_core.encoding.weights import HubRef, ResolvedWeights, resolve_weights

__all__ = ["POOLINGS", "SIZES", "Dinov2Encoder"]

#: Size name -> (hub repo, hidden size).
SIZES: dict[str, tuple[str, int]] = {
    "vits14": ("facebook/dinov2-small", 384),
    "vitb14": ("facebook/dinov2-base", 768),
    "vitl14": ("facebook/dinov2-large", 1024),
    "vitg14": ("facebook/dinov2-giant", 1536),
}
_SIZE_ALIASES = {"small": "vits14", "s": "vits14", "base": "vitb14", "b": "vitb14",
                 "large": "vitl14", "l": "vitl14", "giant": "vitg14", "g": "vitg14"}
POOLINGS = ("cls", "mean", "cls+mean")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _pooling_module(model: Any, pooling: str, registers: int) -> Any:
    import torch
    from torch import nn

    class Pooled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            tokens = self.backbone(pixel_values=x).last_hidden_state  # after the final norm
            cls = tokens[:, 0]
            if pooling == "cls":
                return cls
            patches = tokens[:, 1 + registers:].mean(dim=1)  # register tokens are not patches
            return patches if pooling == "mean" else torch.cat([cls, patches], dim=1)

    return Pooled()


class Dinov2Encoder(TorchImageEncoder):
    """DINOv2 ViT-S/B/L/g-14 image features (transformers ``Dinov2Model``).

    Parameters
    ----------
    model : {"vits14", "vitb14", "vitl14", "vitg14"} or str
        The size (``"small"``/``"base"``/``"large"``/``"giant"`` also work), or a hub id of a
        DINOv2 checkpoint in transformers format.
    weights : path-like, optional
        A local checkpoint directory in transformers format (``config.json`` +
        ``model.safetensors``, as written by ``save_pretrained``).
    revision : str, optional
        Hub revision.
    pooling : {"cls", "mean", "cls+mean"}
        The CLS token (default), the mean of the patch tokens, or both concatenated (the DINOv2
        linear-probe recipe; twice the width). All are taken after the final layer norm.
    resize, crop : int
        Shorter side resized to ``resize`` (bicubic), then center crop ``crop``: 256 / 224.
    device, batch_size, num_workers, autocast, skip_errors, progress
        See :class:`semalign_core.encoding.torch_batching.TorchImageEncoder`.
    """

    name = "dinov2"

    def __init__(self, model: str = "vits14", *, weights: str | os.PathLike[str] | None = None,
                 revision: str | None = None, pooling: str = "cls", resize: int = 256,
                 crop: int = 224, **options: Any) -> None:
        super().__init__(**options)
        if pooling not in POOLINGS:
            raise InvalidInputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        for label, value in (("resize", resize), ("crop", crop)):
            if not isinstance(value, int) or value < 14:
                raise InvalidInputError(f"{label} must be an int >= 14, got {value!r}")
        size = _SIZE_ALIASES.get(model, model)
        if size not in SIZES and "/" not in size and weights is None:
            raise InvalidInputError(f"unknown DINOv2 model {model!r}; use one of {list(SIZES)}, "
                                    f"a hub id, or weights= a local checkpoint directory")
        self.size = size
        self.weights = weights
        self.revision = revision
        self.pooling = pooling
        self.resize = resize
        self.crop = crop
        self._resolved: ResolvedWeights | None = None
        self._fingerprint: Fingerprint | None = None

    def _repo(self) -> str:
        return SIZES[self.size][0] if self.size in SIZES else self.size

    def _resolve(self) -> ResolvedWeights:
        if self._resolved is None:
            repo = self._repo()
            if self.weights is not None:
                self._resolved = resolve_weights(f"DINOv2 {self.size}", path=self.weights,
                                                 expect="dir")
            else:
                short = repo.rsplit("/", 1)[-1]
                self._resolved = resolve_weights(
                    f"DINOv2 {repo}", names=[short, f"dinov2_{self.size}"],
                    hub=HubRef(repo, revision=self.revision), expect="dir")
            if not (self._resolved.path / "config.json").is_file():
                raise InvalidInputError(f"{self._resolved.path} is not a transformers checkpoint "
                                        f"directory (no config.json); save one with "
                                        f"Dinov2Model.save_pretrained")
        return self._resolved

    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            resolved = self._resolve()
            config = json.loads((resolved.path / "config.json").read_text())
            width = int(config["hidden_size"])
            architecture = self._repo() if self.weights is None else \
                f"dinov2:{config.get('model_type', 'dinov2')}-{width}"
            self._fingerprint = Fingerprint(
                encoder=self.name, architecture=architecture, weights=resolved.identity,
                dim=width * (2 if self.pooling == "cls+mean" else 1),
                preprocessing={"resize": self.resize, "crop": self.crop,
                               "interpolation": "bicubic", "mean": list(IMAGENET_MEAN),
                               "std": list(IMAGENET_STD)},
                options={"pooling": self.pooling})
        return self._fingerprint

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.fingerprint.dim

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:
        from torchvision import transforms
        from transformers import AutoModel

        path = self._resolve().path
        with quiet_model_loading():  # no "Loading weights" bar unless the user asked for bars
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
        registers = int(getattr(model.config, "num_register_tokens", 0) or 0)
        transform = transforms.Compose([
            transforms.Resize(self.resize, interpolation=transforms.InterpolationMode.BICUBIC,
                              antialias=True),
            transforms.CenterCrop(self.crop),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])
        return _pooling_module(model, self.pooling, registers), transform
