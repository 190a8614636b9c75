"""The reference checkpoints (pinned revisions, checksums) and how their files are read.

Nothing here imports torch at module level.

Reference checkpoints
---------------------
- BioViL image: ``biovil_image_resnet50_proj_size_128.pt`` in
  ``microsoft/BiomedVLP-CXR-BERT-specialized`` at ``v1.1``, MD5
  ``02ce6ee460f72efd599295f440dbb453``.
- BioViL-T image: ``biovil_t_image_model_proj_size_128.pt`` in ``microsoft/BiomedVLP-BioViL-T``
  at ``v1.0``, MD5 ``a83080e2f23aa584a4f2b24c39b1bb64``.
- CXR-BERT-specialized: the model directory (``config.json``, ``vocab.txt``, weights) of
  ``microsoft/BiomedVLP-CXR-BERT-specialized`` at ``v1.1``.
- BioViL-T text: the model directory of ``microsoft/BiomedVLP-BioViL-T`` at ``v1.0``.

The revisions are the tags hi-ml-multimodal 0.2.2 pins (``CXR_BERT_COMMIT_TAG``,
``BIOVIL_T_COMMIT_TAG``). The image files are verified against the MD5 sums hi-ml-multimodal
publishes for them, the only checksums the authors publish.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semalign_core import CorruptFileError, InvalidInputError, MissingWeightsError
from semalign_core.encoding import cached_file_digest
from semalign_core.encoding.weights import HubRef, ResolvedWeights, resolve_weights

__all__ = [
    "IMAGE_CHECKPOINTS",
    "TEXT_CHECKPOINTS",
    "ImageCheckpoint",
    "TextCheckpoint",
    "file_md5",
    "resolve_image_weights",
    "resolve_text_weights",
]


@dataclass(frozen=True)
class ImageCheckpoint:
    """A published image checkpoint.

    Attributes
    ----------
    key : str
        ``"biovil"`` or ``"biovil-t"``.
    repo_id, revision, filename : str
        Where it lives on the Hugging Face hub.
    md5 : str
        Its published MD5 sum; every copy found outside an explicit ``weights=`` path is checked
        against it.
    resize, crop : int
        The preprocessing it was trained with.
    multi_image : bool
        BioViL-T: the backbone feeds a 1x1 convolution and is concatenated with the learned
        "missing previous image" embedding before the projection.
    """

    key: str
    repo_id: str
    revision: str
    filename: str
    md5: str
    resize: int
    crop: int
    multi_image: bool

    @property
    def hub(self) -> HubRef:
        return HubRef(self.repo_id, self.filename, revision=self.revision)


@dataclass(frozen=True)
class TextCheckpoint:
    """A published CXR-BERT checkpoint (a Hugging Face model directory)."""

    key: str
    repo_id: str
    revision: str

    @property
    def dirname(self) -> str:
        """The directory name looked for under ``$SEMALIGN_WEIGHTS_DIR``."""
        return self.repo_id.split("/", 1)[1]


IMAGE_CHECKPOINTS: dict[str, ImageCheckpoint] = {
    "biovil": ImageCheckpoint(
        key="biovil", repo_id="microsoft/BiomedVLP-CXR-BERT-specialized", revision="v1.1",
        filename="biovil_image_resnet50_proj_size_128.pt",
        md5="02ce6ee460f72efd599295f440dbb453", resize=512, crop=480, multi_image=False),
    "biovil-t": ImageCheckpoint(
        key="biovil-t", repo_id="microsoft/BiomedVLP-BioViL-T", revision="v1.0",
        filename="biovil_t_image_model_proj_size_128.pt",
        md5="a83080e2f23aa584a4f2b24c39b1bb64", resize=512, crop=448, multi_image=True),
}

TEXT_CHECKPOINTS: dict[str, TextCheckpoint] = {
    "cxr-bert-specialized": TextCheckpoint(
        key="cxr-bert-specialized", repo_id="microsoft/BiomedVLP-CXR-BERT-specialized",
        revision="v1.1"),
    "biovil-t": TextCheckpoint(key="biovil-t", repo_id="microsoft/BiomedVLP-BioViL-T",
                               revision="v1.0"),
}

#: Files of a text checkpoint directory fetched from the hub (the image ``.pt`` files that share
#: the repository are not needed for text and are skipped).
TEXT_FILES = ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
              "pytorch_model.bin", "model.safetensors")
TEXT_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

#: Width of BioViL-T's per-patch feature before the projection: the 1x1-convolved backbone
#: feature and the learned "missing previous image" embedding, 256 channels each.
MULTI_IMAGE_WIDTH = 256
#: Channels of the last ResNet stage.
BACKBONE_WIDTH = {"resnet50": 2048, "resnet18": 512}


def feature_dim(backbone: str, multi_image: bool) -> int:
    """Width of the pooled (pre-projection) image feature."""
    return 2 * MULTI_IMAGE_WIDTH if multi_image else BACKBONE_WIDTH[backbone]


def file_md5(path: str | os.PathLike[str]) -> str:
    """Hex MD5 of a file (the published checksums are MD5), cached per (path, size, mtime)."""
    return cached_file_digest(path, "md5")


# -- resolution ----------------------------------------------------------------------------------
def resolve_image_weights(checkpoint: ImageCheckpoint, path: str | os.PathLike[str] | None = None,
                          *, verify: bool = True) -> ResolvedWeights:
    """Find an image checkpoint: explicit ``path``, ``$SEMALIGN_WEIGHTS_DIR/<filename>``, the hub
    cache, hi-ml-multimodal's own download location (the system temp dir), then a download.

    Anything but an explicit ``path`` must match the published MD5 (``verify=True``): a file under
    the reference name that is not the reference checkpoint would otherwise be used silently.

    Raises
    ------
    MissingWeightsError
        Offline (or the hub unreachable) and no copy is found; within about two seconds.
    CorruptFileError
        A copy was found but its checksum differs from the published one.
    """
    resolved = resolve_weights(
        f"{checkpoint.key} image model ({checkpoint.repo_id}@{checkpoint.revision})",
        path=path, names=(checkpoint.filename,), hub=checkpoint.hub,
        local_caches=[Path(tempfile.gettempdir()) / checkpoint.filename], expect="file",
        hint=f"The reference file is {checkpoint.filename} in the hub repository "
             f"{checkpoint.repo_id} (revision {checkpoint.revision}); any local file in the same "
             f"format can be passed as weights=.")
    if verify and resolved.source != "explicit":
        actual = file_md5(resolved.path)
        if actual != checkpoint.md5:
            raise CorruptFileError(
                f"{resolved.path} (found via {resolved.source}) has MD5 {actual}, but the "
                f"published {checkpoint.filename} has MD5 {checkpoint.md5}: the file is "
                f"truncated, corrupted or not the reference checkpoint. Delete it and download "
                f"again, or pass your own checkpoint explicitly as weights='/path/to/file'.")
    return resolved


def _missing_text_files(directory: Path) -> list[str]:
    missing = [name for name in ("config.json", "vocab.txt") if not (directory / name).is_file()]
    if not any((directory / name).is_file() for name in TEXT_WEIGHT_FILES):
        missing.append(" or ".join(TEXT_WEIGHT_FILES))
    return missing


def resolve_text_weights(checkpoint: TextCheckpoint,
                         path: str | os.PathLike[str] | None = None) -> ResolvedWeights:
    """Find a CXR-BERT checkpoint directory (same order as :func:`resolve_image_weights`).

    Raises
    ------
    MissingWeightsError
        Nothing found offline, or the directory lacks ``config.json``, ``vocab.txt`` or the
        weights.
    """
    hub = HubRef(checkpoint.repo_id, None, revision=checkpoint.revision)

    def download() -> str:
        from huggingface_hub import snapshot_download

        return snapshot_download(checkpoint.repo_id, revision=checkpoint.revision,
                                 allow_patterns=list(TEXT_FILES))

    resolved = resolve_weights(
        f"{checkpoint.key} text model ({checkpoint.repo_id}@{checkpoint.revision})",
        path=path, names=(checkpoint.dirname,), hub=hub, download=download, expect="dir",
        hint="A CXR-BERT checkpoint is a Hugging Face model directory with config.json, "
             "vocab.txt and pytorch_model.bin (or model.safetensors).")
    missing = _missing_text_files(resolved.path)
    if missing:
        raise MissingWeightsError(
            f"the CXR-BERT checkpoint directory {resolved.path} (found via {resolved.source}) "
            f"lacks {', '.join(missing)}. Pass weights= a complete directory, or fetch the "
            f"files once while online: `hf download {checkpoint.repo_id} --revision "
            f"{checkpoint.revision} {' '.join(TEXT_FILES[:3])} pytorch_model.bin`.")
    return resolved


# -- reading -------------------------------------------------------------------------------------
def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, naming the file on failure."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path} must hold a JSON object")
    return data


def check_choice(value: Any, choices: Mapping[str, Any] | tuple[str, ...], label: str) -> str:
    """Validate a string option against its allowed values."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidInputError(f"{label} must be one of {sorted(choices)}, got {value!r}")
    return value
