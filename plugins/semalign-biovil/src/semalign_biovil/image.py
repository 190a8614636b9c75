"""The BioViL / BioViL-T image encoder (torch is imported only when the encoder loads)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding.torch_batching import TorchImageEncoder
from semalign_core.encoding.weights import ResolvedWeights

from .checkpoints import IMAGE_CHECKPOINTS, check_choice, feature_dim, resolve_image_weights

__all__ = ["RANDOM_INIT", "BioVilImageEncoder"]

#: ``weights=`` value for a seeded random initialisation (tests, benchmarks).
RANDOM_INIT = "random"
_OUTPUTS = ("projected", "global")
_BACKBONES = ("resnet50", "resnet18")


def _positive_int(value: Any, label: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInputError(f"{label} must be a positive int, got {value!r}")
    return value


class BioVilImageEncoder(TorchImageEncoder):
    """The BioViL (or BioViL-T) chest X-ray image encoder.

    Parameters
    ----------
    model : {"biovil", "biovil-t"}
        BioViL (ResNet-50, crop 480) or BioViL-T (ResNet-50 + temporal layers, crop 448; encoded
        as a single image, the way BioViL-T handles a study without a prior image).
    weights : path-like or "random", optional
        ``None`` (default): the reference checkpoint of ``model`` (pinned revision, MD5
        verified), looked up in ``$SEMALIGN_WEIGHTS_DIR``, the Hugging Face hub cache and
        hi-ml-multimodal's download location, and downloaded only when online. A path: a local
        checkpoint in the same format (a ``torch.save``'d state dict or a ``.safetensors`` file),
        used as is. ``"random"``: a seeded random initialisation.
    output : {"projected", "global"}
        ``"projected"`` (default): the ``joint_dim``-d embedding in the joint image-text space
        (what hi-ml-multimodal's ``get_projected_global_embedding`` returns). ``"global"``: the
        average-pooled backbone feature before the projection (2048-d for BioViL, 512-d for
        BioViL-T).
    normalize : bool, optional
        L2-normalise the output. Default: ``True`` for ``"projected"`` (as the reference
        inference engine does), ``False`` for ``"global"``.
    resize, crop : int, optional
        Preprocessing sizes; default those of the checkpoint (512/480 for BioViL, 512/448 for
        BioViL-T). Changing them changes the embeddings (recorded in the fingerprint).
    backbone : {"resnet50", "resnet18"}
        The ResNet of a custom checkpoint (the published ones are ResNet-50).
    joint_dim : int
        Width of the joint space of a custom checkpoint (the published ones use 128).
    seed : int
        Seed of the random initialisation (``weights="random"`` only).
    device, batch_size, num_workers, autocast, skip_errors, progress
        See :class:`semalign_core.encoding.torch_batching.TorchImageEncoder`.

    Notes
    -----
    Preprocessing (see :class:`~semalign_biovil._image_model.ChestXrayTransform`): min-max
    intensity stretch to 8 bits, grayscale, resize the shorter side, center crop, scale to
    [0, 1], gray replicated to 3 channels; no ImageNet mean/std.
    """

    name = "biovil-image"
    image_mode = "RGB"  # the stretch runs over all channels, then to gray, as in the reference
    default_batch_size = 16

    def __init__(self, model: str = "biovil", *, weights: str | os.PathLike[str] | None = None,
                 output: str = "projected", normalize: bool | None = None,
                 resize: int | None = None, crop: int | None = None,
                 backbone: str = "resnet50", joint_dim: int = 128, seed: int = 0,
                 **options: Any) -> None:
        super().__init__(**options)
        self.model_key = check_choice(model, IMAGE_CHECKPOINTS, "model")
        self.output = check_choice(output, _OUTPUTS, "output")
        self.backbone = check_choice(backbone, _BACKBONES, "backbone")
        if normalize is not None and not isinstance(normalize, bool):
            raise InvalidInputError(f"normalize must be True, False or None, got {normalize!r}")
        self.normalize = (output == "projected") if normalize is None else normalize
        self.checkpoint = IMAGE_CHECKPOINTS[self.model_key]
        self.resize = _positive_int(resize, "resize") or self.checkpoint.resize
        self.crop = _positive_int(crop, "crop") or self.checkpoint.crop
        if self.crop > self.resize:
            raise InvalidInputError(f"crop ({self.crop}) must not exceed resize ({self.resize})")
        self.joint_dim = _positive_int(joint_dim, "joint_dim")
        if weights is None and (backbone != "resnet50" or joint_dim != 128):
            raise InvalidInputError(
                f"the published {self.model_key} checkpoint is a ResNet-50 with a 128-d joint "
                f"space; backbone= and joint_dim= are for your own checkpoints (weights=path) "
                f"or weights='random'")
        if isinstance(weights, str) and not weights:
            raise InvalidInputError("weights must be None, 'random' or a checkpoint path")
        self.weights = weights
        self.seed = int(seed)
        self._resolved: ResolvedWeights | None = None
        self._fingerprint: Fingerprint | None = None

    # -- weights -------------------------------------------------------------------------------
    def _resolve(self) -> ResolvedWeights | None:
        if self.weights == RANDOM_INIT:
            return None
        if self._resolved is None:
            self._resolved = resolve_image_weights(self.checkpoint, self.weights)
        return self._resolved

    @property
    def architecture(self) -> str:
        return f"{self.model_key}/{self.backbone}"

    # -- Encoder API ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            resolved = self._resolve()
            identity = resolved.identity if resolved else f"random-init:seed={self.seed}"
            dim = (self.joint_dim if self.output == "projected"
                   else feature_dim(self.backbone, self.checkpoint.multi_image))
            self._fingerprint = Fingerprint(
                encoder=self.name, architecture=self.architecture, weights=identity, dim=dim,
                preprocessing={"resize": self.resize, "crop": self.crop,
                               "interpolation": "bilinear", "intensity": "minmax-uint8",
                               "color": "gray-x3", "scale": "0-1", "mean_std": None},
                options={"output": self.output, "normalize": self.normalize,
                         "joint_dim": self.joint_dim,
                         "single_image": self.checkpoint.multi_image})
        return self._fingerprint

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.fingerprint.dim

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:
        import torch

        from ._image_model import BioVilImageNet, ChestXrayTransform

        resolved = self._resolve()
        multi = self.checkpoint.multi_image
        if resolved is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                net = BioVilImageNet(self.backbone, multi, self.joint_dim, self.output,
                                     self.normalize)
        else:
            from semalign_core.encoding import read_state_dict

            net = BioVilImageNet(self.backbone, multi, self.joint_dim, self.output,
                                 self.normalize)
            state = read_state_dict(resolved.path, unwrap=False)  # exactly as published
            net.load_reference_state(state, str(resolved.path))
        return net, ChestXrayTransform(self.resize, self.crop)
