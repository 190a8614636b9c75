"""The torchvision image encoder (no torch import at module level)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding.torch_batching import TorchImageEncoder
from semalign_core.encoding.weights import ResolvedWeights, resolve_weights

__all__ = ["RANDOM_INIT", "TorchvisionEncoder"]

#: ``weights=`` value for a seeded random initialisation (tests, benchmarks).
RANDOM_INIT = "random"
_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def _torch_hub_dir() -> Path:
    # Mirrors torch.hub.get_dir() without importing torch.
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "torch" / "hub"


class TorchvisionEncoder(TorchImageEncoder):
    """Any torchvision classification model as an image encoder (penultimate features).

    Parameters
    ----------
    model : str
        A torchvision model name (``torchvision.models.list_models()``), e.g.
        ``"squeezenet1_1"``, ``"resnet50"``, ``"vit_b_16"``.
    weights : str or path-like, optional
        A local state-dict file (``.safetensors``, or ``.pth``/``.pt`` read with
        ``torch.load(weights_only=True)``); a torchvision weights-enum member name such as
        ``"DEFAULT"`` or ``"IMAGENET1K_V1"`` (looked up in ``$SEMALIGN_WEIGHTS_DIR`` and the torch
        hub cache, downloaded only when online); or ``"random"`` for a seeded random
        initialisation. ``None`` means ``"DEFAULT"``.
    seed : int
        Seed of the random initialisation (``weights="random"`` only).
    resize, crop : int, optional
        Resize the shorter side to ``resize``, then center-crop ``crop``. Default: the values of
        the model's torchvision weights (256 / 224 for most models).
    mean, std : sequence of float, optional
        Normalisation; default the ImageNet values of the model's weights.
    interpolation : {"bilinear", "bicubic", "nearest"}, optional
        Resize interpolation; default that of the model's weights.
    device, batch_size, num_workers, autocast, skip_errors, progress
        See :class:`semalign_core.encoding.torch_batching.TorchImageEncoder`.

    Notes
    -----
    Features are the input of the final linear layer (``fc``, ``classifier[-1]``, ``heads.head``
    ...) after the model's own pooling; for SqueezeNet, which has no linear head,
    ``adaptive_avg_pool2d(model.features(x), 1)`` (512-d).
    """

    name = "torchvision"

    def __init__(self, model: str = "resnet50", *, weights: str | os.PathLike[str] | None = None,
                 seed: int = 0, resize: int | None = None, crop: int | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 interpolation: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        if not isinstance(model, str) or not model:
            raise InvalidInputError(f"model must be a torchvision model name, got {model!r}")
        if interpolation is not None and interpolation not in _INTERPOLATIONS:
            raise InvalidInputError(f"interpolation must be one of {_INTERPOLATIONS}, "
                                    f"got {interpolation!r}")
        for label, value in (("resize", resize), ("crop", crop)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidInputError(f"{label} must be a positive int, got {value!r}")
        self.arch = model
        self.weights = weights
        self.seed = int(seed)
        self._overrides = {"resize": resize, "crop": crop,
                           "mean": None if mean is None else [float(m) for m in mean],
                           "std": None if std is None else [float(s) for s in std],
                           "interpolation": interpolation}
        self._fingerprint: Fingerprint | None = None
        self._resolved: ResolvedWeights | None = None

    # -- weights -------------------------------------------------------------------------------
    def _is_path(self) -> bool:
        w = self.weights
        if isinstance(w, os.PathLike):
            return True
        return isinstance(w, str) and (os.sep in w or w.endswith(_SUFFIXES) or Path(w).exists())

    def _enum_member(self) -> Any:
        """The torchvision weights-enum member for ``weights`` (imports torchvision)."""
        import torchvision

        try:
            enum = torchvision.models.get_model_weights(self.arch)
        except (ValueError, KeyError) as exc:
            raise InvalidInputError(f"unknown torchvision model {self.arch!r} (or it has no "
                                    f"pretrained weights); pass a local file as weights=") from exc
        member = "DEFAULT" if self.weights is None else str(self.weights)
        try:
            return enum[member] if member != "DEFAULT" else enum.DEFAULT
        except KeyError as exc:
            raise InvalidInputError(
                f"{member!r} is not a weights name of torchvision {self.arch!r}; use one of "
                f"{[m.name for m in enum]}, 'DEFAULT', 'random' or a local file path") from exc

    def _resolve(self) -> ResolvedWeights | None:
        if self.weights == RANDOM_INIT:
            return None
        if self._resolved is None:
            model_name = f"torchvision/{self.arch}"
            if self._is_path():
                self._resolved = resolve_weights(model_name, path=self.weights, expect="file")
            else:
                member = self._enum_member()
                stems = [f"{self.arch}_{member.name}"]
                if self.weights in (None, "DEFAULT"):
                    stems.append(self.arch)
                names = [stem + suffix for stem in stems for suffix in _SUFFIXES]
                url = member.url
                cached = _torch_hub_dir() / "checkpoints" / os.path.basename(url)

                def download() -> str:
                    import torch.hub

                    torch.hub.load_state_dict_from_url(url, progress=self.progress,
                                                       check_hash=True)
                    return str(cached)

                self._resolved = resolve_weights(
                    f"{model_name} ({member})", names=names, local_caches=[cached],
                    download=download, download_host="download.pytorch.org", expect="file",
                    hint=f"torchvision's file for {member} is {url}")
        return self._resolved

    # -- preprocessing -------------------------------------------------------------------------
    def _preprocessing(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406],
                               "std": [0.229, 0.224, 0.225], "interpolation": "bilinear"}
        try:
            member = (self._enum_member() if not self._is_path() and self.weights != RANDOM_INIT
                      else self._default_member())
        except InvalidInputError:
            if not self._is_path() and self.weights != RANDOM_INIT:
                raise
            member = None
        if member is not None:
            preset = member.transforms()
            if all(hasattr(preset, a) for a in ("resize_size", "crop_size", "mean", "std")):
                cfg.update(resize=int(preset.resize_size[0]), crop=int(preset.crop_size[0]),
                           mean=[float(m) for m in preset.mean],
                           std=[float(s) for s in preset.std],
                           interpolation=preset.interpolation.value)
        cfg.update({k: v for k, v in self._overrides.items() if v is not None})
        cfg["color"] = "RGB"
        return cfg

    def _default_member(self) -> Any:
        import torchvision

        try:
            return torchvision.models.get_model_weights(self.arch).DEFAULT
        except (ValueError, KeyError, AttributeError):
            return None

    # -- Encoder API ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            resolved = self._resolve()
            identity = resolved.identity if resolved else f"random-init:seed={self.seed}"
            facts = self._facts(identity)
            self._fingerprint = Fingerprint(
                encoder=self.name, architecture=self.arch, weights=identity,
                dim=int(facts["dim"]), preprocessing=facts["preprocessing"],
                options={"features": "penultimate"})
        return self._fingerprint

    def _facts(self, identity: str) -> dict[str, Any]:
        """Output dimension and preprocessing. Working them out imports torch and torchvision
        (seconds); for a weights file or random init they depend only on the file, the options
        and the library versions, so they are memoised on disk and a warm cache in a fresh
        process never imports torch."""
        def compute() -> dict[str, Any]:
            from ._model import feature_dim

            pre = self._preprocessing()
            return {"preprocessing": pre, "dim": feature_dim(self.arch, pre["crop"])}

        if not (self._is_path() or self.weights == RANDOM_INIT):
            return compute()  # a torchvision weights name: resolving it imports torchvision
        from importlib.metadata import version

        from semalign_core.encoding import memoized

        key = {"facts": "semalign-torchvision", "arch": self.arch, "weights": identity,
               "overrides": self._overrides, "versions": [
                   version(d) for d in ("torch", "torchvision", "semalign-torchvision")]}
        return memoized(key, compute)

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.fingerprint.dim

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:
        import torch
        from torchvision import transforms

        from semalign_core.encoding import read_state_dict

        from ._model import build_classifier, feature_extractor, load_into

        pre = self.fingerprint.preprocessing
        resolved = self._resolve()
        if resolved is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = build_classifier(self.arch)
        else:
            model = build_classifier(self.arch)
            load_into(model, read_state_dict(resolved.path), str(resolved.path), self.arch)
        transform = transforms.Compose([
            transforms.Resize(pre["resize"],
                              interpolation=transforms.InterpolationMode(pre["interpolation"]),
                              antialias=True),
            transforms.CenterCrop(pre["crop"]),
            transforms.PILToTensor(),
            transforms.ConvertImageDtype(torch.float),
            transforms.Normalize(pre["mean"], pre["std"]),
        ])
        return feature_extractor(model, self.arch), transform
