"""The BioViL / BioViL-T image network and its preprocessing (imports torch: load lazily).

The module names (``encoder.encoder.*``, ``encoder.backbone_to_vit``,
``encoder.missing_previous_emb``, ``projector.model.{0,1,3}``) follow the published checkpoints'
state-dict layout, so those files load without any key renaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision import transforms

from semalign_core import CorruptFileError

from ._state import key_mismatch, load_as_float32, shape_mismatch, some
from .checkpoints import BACKBONE_WIDTH, MULTI_IMAGE_WIDTH, feature_dim

#: Checkpoint entries the encoder does not use: the unused ImageNet classifier of the ResNet,
#: and BioViL-T's temporal transformer, which only runs when a previous image is given.
IGNORED_PREFIXES = ("encoder.encoder.fc.", "encoder.vit_pooler.", "classifier.")


class _Trunk(nn.Module):
    """ResNet feature map; for BioViL-T also the 1x1 reduction and the missing-previous token."""

    def __init__(self, backbone: str, multi_image: bool) -> None:
        super().__init__()
        # torchvision's ResNet is the same network the reference wraps; the classifier is unused.
        self.encoder = getattr(torchvision.models, backbone)(weights=None)
        self.encoder.fc = nn.Identity()
        self.multi_image = multi_image
        if multi_image:
            self.backbone_to_vit = nn.Conv2d(BACKBONE_WIDTH[backbone], MULTI_IMAGE_WIDTH,
                                             kernel_size=1, bias=False)
            self.missing_previous_emb = nn.Parameter(torch.zeros(1, MULTI_IMAGE_WIDTH, 1, 1))
            nn.init.trunc_normal_(self.missing_previous_emb, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.encoder
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        x = r.layer4(r.layer3(r.layer2(r.layer1(x))))
        if not self.multi_image:
            return x
        x = self.backbone_to_vit(x)
        # Single-image inference: BioViL-T stands in a learned embedding for the absent prior
        # study, so its temporal transformer never runs.
        missing = self.missing_previous_emb.expand(x.shape[0], -1, x.shape[2], x.shape[3])
        return torch.cat([x, missing.to(x.dtype)], dim=1)


class _Projector(nn.Module):
    """Per-patch MLP into the joint space, as 1x1 convolutions (linear, BN, ReLU, linear)."""

    def __init__(self, in_dim: int, joint_dim: int) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(in_dim, joint_dim, kernel_size=1, bias=False),
            nn.BatchNorm2d(joint_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(joint_dim, joint_dim, kernel_size=1, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class BioVilImageNet(nn.Module):
    """ResNet trunk + projection; ``forward`` returns the requested global embedding.

    Parameters
    ----------
    backbone : {"resnet50", "resnet18"}
    multi_image : bool
        BioViL-T layout.
    joint_dim : int
        Width of the joint image-text space (128 for the published models).
    output : {"projected", "global"}
        ``"projected"``: the mean over patches of the projected patch embeddings (the joint
        space). ``"global"``: the average-pooled trunk feature (2048-d for ResNet-50 BioViL).
    normalize : bool
        L2-normalise the output.
    """

    def __init__(self, backbone: str, multi_image: bool, joint_dim: int, output: str,
                 normalize: bool) -> None:
        super().__init__()
        self.encoder = _Trunk(backbone, multi_image)
        self.projector = _Projector(feature_dim(backbone, multi_image), joint_dim)
        self.output = output
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.encoder(x)
        if self.output == "global":
            out = torch.flatten(nn.functional.adaptive_avg_pool2d(patches, 1), 1)
        else:
            # Project every patch, then average (not the projection of the average: the BN and
            # ReLU in between make the two differ).
            out = self.projector(patches).mean(dim=(2, 3))
        if self.normalize:
            out = nn.functional.normalize(out.float(), dim=1)
        return out

    def load_reference_state(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a checkpoint in the published layout, strictly.

        Every parameter of this network must be present with the right shape; the only extra
        entries allowed are the ones listed in :data:`IGNORED_PREFIXES`.
        """
        missing, extra = key_mismatch(self, state, IGNORED_PREFIXES)
        if missing or extra:
            if any(k.startswith("encoder.backbone_to_vit") for k in missing + extra):
                hint = "a BioViL-T checkpoint needs model='biovil-t', a BioViL one model='biovil'"
            else:
                hint = ("check backbone= ('resnet50' or 'resnet18'; the published models are "
                        "ResNet-50)")
            raise CorruptFileError(
                f"{source} is not a BioViL image checkpoint of this layout ({hint}): "
                f"missing {some(missing)}, unexpected {some(extra)}")
        wrong = shape_mismatch(self, state)
        if wrong:
            raise CorruptFileError(
                f"{source} does not match the network: {some(wrong)}. Check backbone= "
                f"('resnet50' or 'resnet18') and joint_dim= (128 for the published models).")
        load_as_float32(self, state)



def remap_to_uint8(array: np.ndarray) -> np.ndarray:
    """Stretch an image to 0..255 by its own minimum and maximum, truncating to uint8.

    This is the intensity scaling BioViL was trained with (hi-ml-multimodal's
    ``remap_to_uint8`` without percentiles); the arithmetic is done in the same order and
    precision (float64: subtract the minimum, divide by the new maximum, times 255, truncate) so
    the pixels match it exactly, including the values that land just below an integer. A
    constant image, for which the reference divides by zero, becomes all zeros.
    """
    out = array.astype(np.float64)
    out -= out.min()
    top = out.max()
    if top == 0:
        return np.zeros(array.shape, np.uint8)
    out /= top
    out *= 255
    return out.astype(np.uint8)


class ChestXrayTransform:
    """PIL image -> ``(3, crop, crop)`` float tensor in [0, 1], the BioViL inference pipeline.

    1. min-max stretch to uint8 (:func:`remap_to_uint8`) over all channels;
    2. to grayscale (Pillow's ``convert("L")``);
    3. resize the shorter side to ``resize`` (bilinear, antialiased: torchvision on PIL);
    4. center crop ``crop``;
    5. scale to [0, 1] (``ToTensor``), no mean/std normalisation;
    6. replicate the gray channel three times.

    Picklable, so DataLoader workers can run it.
    """

    def __init__(self, resize: int, crop: int) -> None:
        self.resize = resize
        self.crop = crop
        self._geometry = transforms.Compose([
            transforms.Resize(resize, interpolation=transforms.InterpolationMode.BILINEAR),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
        ])

    def __call__(self, image: Any) -> torch.Tensor:
        from PIL import Image

        stretched = remap_to_uint8(np.asarray(image))
        gray = Image.fromarray(stretched).convert("L")
        tensor = self._geometry(gray)
        return tensor.expand(3, -1, -1).contiguous()

    def __repr__(self) -> str:
        return f"ChestXrayTransform(resize={self.resize}, crop={self.crop})"
