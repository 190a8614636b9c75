"""open_clip image and text encoders (torch / open_clip are imported only when they load)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semalign_core import Fingerprint, InvalidInputError, MissingWeightsError
from semalign_core.encoding.torch_batching import TorchImageEncoder, TorchTextEncoder
from semalign_core.encoding.weights import HubRef, ResolvedWeights, resolve_weights

__all__ = ["RANDOM_INIT", "ClipImageEncoder", "ClipTextEncoder"]

RANDOM_INIT = "random"
HF_PREFIX = "hf-hub:"
_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_CONFIG = "open_clip_config.json"
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def _hub_download_dir(repo: str, revision: str | None) -> Callable[[], Path]:
    def download() -> Path:
        from huggingface_hub import hf_hub_download

        config = hf_hub_download(repo, _CONFIG, revision=revision)
        for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            try:
                hf_hub_download(repo, name, revision=revision)
                break
            except Exception:  # try the other format
                continue
        return Path(config).parent

    return download


class _ClipSpec:
    """What to build and from where: shared by the image and the text encoder."""

    def __init__(self, model: str, pretrained: str | None, weights: Any, revision: str | None,
                 seed: int) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidInputError(f"model must be an open_clip architecture or 'hf-hub:' id, "
                                    f"got {model!r}")
        self.model = model
        self.pretrained = pretrained
        self.weights = None if weights is None else os.fspath(weights)
        self.revision = revision
        self.seed = int(seed)
        self._resolved: ResolvedWeights | None = None
        self._config: dict[str, Any] | None = None

    @property
    def random_init(self) -> bool:
        return self.weights is None and self.pretrained in (None, RANDOM_INIT) \
            and not self.model.startswith(HF_PREFIX)

    def tag_cfg(self) -> dict[str, Any]:
        import open_clip

        if self.pretrained in (None, RANDOM_INIT) or self.model.startswith(HF_PREFIX):
            return {}
        cfg = open_clip.get_pretrained_cfg(self.model, self.pretrained)
        if not cfg and self.weights is None:
            tags = [t for m, t in open_clip.list_pretrained() if m == self.model]
            raise InvalidInputError(f"open_clip has no pretrained tag {self.pretrained!r} for "
                                    f"{self.model!r}; known tags: {tags}. For your own "
                                    f"checkpoint pass weights='/path/to/file'")
        return dict(cfg or {})

    def resolve(self) -> ResolvedWeights | None:
        if self.random_init:
            return None
        if self._resolved is not None:
            return self._resolved
        label = f"open_clip {self.model}" + (f" ({self.pretrained})" if self.pretrained else "")
        if self.weights is not None:
            self._resolved = resolve_weights(label, path=self.weights)
        elif self.model.startswith(HF_PREFIX):
            repo = self.model[len(HF_PREFIX):]
            short = repo.replace("/", "--")
            self._resolved = resolve_weights(
                label, names=[short, repo.rsplit("/", 1)[-1]],
                hub=HubRef(repo, revision=self.revision), expect="dir",
                download=_hub_download_dir(repo, self.revision))
        else:
            cfg = self.tag_cfg()
            stem = f"{self.model}_{self.pretrained}"
            hub = None
            if cfg.get("hf_hub"):
                # open_clip writes "org/repo/" (default file) or "org/repo/file.bin"
                parts = cfg["hf_hub"].split("/")
                repo = "/".join(parts[:2])
                filename = "/".join(parts[2:]) or "open_clip_pytorch_model.bin"
                hub = HubRef(repo, filename, revision=self.revision,
                             alternatives=("open_clip_model.safetensors",)
                             if filename == "open_clip_pytorch_model.bin" else ())

            def download() -> str:
                from open_clip.pretrained import download_pretrained

                return download_pretrained(cfg)

            self._resolved = resolve_weights(
                label, names=[stem + s for s in _SUFFIXES] + [stem], hub=hub,
                download=download if (cfg.get("url") or cfg.get("hf_hub")) else None,
                download_host="huggingface.co" if hub else None)
        if self._resolved.path.is_dir() and not (self._resolved.path / _CONFIG).is_file():
            raise MissingWeightsError(f"{self._resolved.path} has no {_CONFIG}; an open_clip "
                                      f"checkpoint directory needs one (see open_clip's "
                                      f"save_for_hf) or pass the weights file itself")
        return self._resolved

    def config(self) -> dict[str, Any]:
        """``{"model_cfg": ..., "preprocess_cfg": ...}`` without building the model."""
        if self._config is None:
            import open_clip
            from open_clip.transform import PreprocessCfg

            resolved = self.resolve()
            preprocess = {k: getattr(PreprocessCfg(), k) for k in _PREPROCESS_KEYS}
            if resolved is not None and resolved.path.is_dir():
                document = json.loads((resolved.path / _CONFIG).read_text())
                model_cfg = document["model_cfg"]
                preprocess.update({k: v for k, v in document.get("preprocess_cfg", {}).items()
                                   if k in _PREPROCESS_KEYS})
            else:
                model_cfg = open_clip.get_model_config(self.model)
                if model_cfg is None:
                    raise InvalidInputError(
                        f"unknown open_clip architecture {self.model!r}; use one of "
                        f"open_clip.list_models(), an 'hf-hub:org/repo' id, or a checkpoint "
                        f"directory as weights=")
                preprocess.update({k: v for k, v in self.tag_cfg().items()
                                   if k in _PREPROCESS_KEYS})
            vision = model_cfg.get("vision_cfg", {})
            preprocess["image_size"] = vision.get("image_size", 224)
            preprocess["context_length"] = model_cfg.get("text_cfg", {}).get("context_length")
            preprocess = {k: list(v) if isinstance(v, tuple) else v
                          for k, v in preprocess.items()}
            self._config = {"model_cfg": model_cfg, "preprocess_cfg": preprocess}
        return self._config

    def architecture(self) -> str:
        resolved = self.resolve()
        if resolved is not None and resolved.path.is_dir() and not \
                self.model.startswith(HF_PREFIX):
            return f"local-dir:{resolved.path.name}"
        return self.model

    def build(self) -> tuple[Any, Any, Any]:
        """``(model, preprocess, tokenizer)`` through open_clip's own factory functions."""
        import open_clip
        import torch

        resolved = self.resolve()
        if resolved is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model, _, preprocess = open_clip.create_model_and_transforms(self.model)
            return model, preprocess, open_clip.get_tokenizer(self.model)
        if resolved.path.is_dir():
            name = f"local-dir:{resolved.path}"
            model, _, preprocess = open_clip.create_model_and_transforms(name)
            return model, preprocess, open_clip.get_tokenizer(name)
        tag = self.tag_cfg()
        # A tag's file loaded by path loses the tag's settings; pass them on explicitly.
        model, _, preprocess = open_clip.create_model_and_transforms(
            self.model, pretrained=str(resolved.path),
            force_quick_gelu=bool(tag.get("quick_gelu", False)),
            image_mean=tag.get("mean"), image_std=tag.get("std"),
            image_interpolation=tag.get("interpolation"),
            image_resize_mode=tag.get("resize_mode"))
        return model, preprocess, open_clip.get_tokenizer(self.model)

    def fingerprint(self, encoder: str, tower: str, normalize: bool) -> Fingerprint:
        cfg = self.config()
        resolved = self.resolve()
        weights = resolved.identity if resolved else f"random-init:seed={self.seed}"
        pre = dict(cfg["preprocess_cfg"])
        if tower == "image":
            pre.pop("context_length", None)
        else:
            pre = {"tokenizer": "open_clip", "context_length": pre.get("context_length")}
        return Fingerprint(encoder=encoder, architecture=self.architecture(), weights=weights,
                           dim=int(cfg["model_cfg"]["embed_dim"]), preprocessing=pre,
                           options={"tower": tower, "pretrained": self.pretrained,
                                    "normalize": normalize})


_DOC_PARAMS = """
    Parameters
    ----------
    model : str
        An open_clip architecture (``"ViT-B-32"``, ``open_clip.list_models()``), or an
        ``"hf-hub:org/repo"`` id.
    pretrained : str, optional
        An open_clip pretrained tag for ``model`` (``"openai"``, ``"laion2b_s34b_b79k"``...);
        ``None`` or ``"random"`` with no ``weights`` gives a seeded random initialisation.
    weights : path-like, optional
        A local checkpoint: a state-dict file (``.safetensors``/``.pt``/``.bin``) for ``model``,
        or a directory with ``open_clip_config.json`` + weights (open_clip's hub layout).
    revision : str, optional
        Hub revision for ``hf-hub:`` ids and tags stored on the hub.
    normalize : bool
        L2-normalise the outputs of ``encode_image`` / ``encode_text``. Default ``False``:
        the raw projections, exactly what open_clip returns.
    seed : int
        Seed of the random initialisation.
"""


class _ClipTower:
    """What the image and the text encoder share: options, the spec, the fingerprint."""

    name: str
    tower: str

    def __init__(self, model: str = "ViT-B-32", pretrained: str | None = "openai", *,
                 weights: str | os.PathLike[str] | None = None, revision: str | None = None,
                 normalize: bool = False, seed: int = 0, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[call-arg]
        self.spec = _ClipSpec(model, pretrained, weights, revision, seed)
        self.normalize = bool(normalize)
        self._fingerprint: Fingerprint | None = None

    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            self._fingerprint = self.spec.fingerprint(self.name, self.tower, self.normalize)
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self.fingerprint.dim


class ClipImageEncoder(_ClipTower, TorchImageEncoder):
    __doc__ = ("open_clip image tower: ``model.encode_image(preprocess(image))``.\n"
               + _DOC_PARAMS + "    device, batch_size, num_workers, autocast, skip_errors, "
               "progress\n        See :class:`semalign_core.encoding.TorchImageEncoder`.\n")

    name = "clip"
    tower = "image"

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:
        model, preprocess, _ = self.spec.build()
        return model, preprocess

    def _forward(self, model: Any, batch: Any) -> Any:
        return model.encode_image(batch, normalize=self.normalize)


class ClipTextEncoder(_ClipTower, TorchTextEncoder):
    __doc__ = ("open_clip text tower: ``model.encode_text(tokenizer(texts))``.\n"
               + _DOC_PARAMS + "    device, batch_size, autocast\n        See "
               ":class:`semalign_core.encoding.torch_batching.TorchTextEncoder`.\n")

    name = "clip-text"
    tower = "text"
    default_batch_size = 128

    def _build(self) -> None:
        model, _, tokenizer = self.spec.build()
        self._model = model.eval().to(self._device)
        self._tokenizer = tokenizer

    def _encode_texts(self, texts: list[str]) -> Any:
        tokens = self._tokenizer(texts).to(self._device)
        return self._model.encode_text(tokens, normalize=self.normalize)
