"""The CXR-BERT text encoder (torch and transformers are imported only when it loads)."""

from __future__ import annotations

import os
from typing import Any

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding.torch_batching import TorchTextEncoder
from semalign_core.encoding.weights import ResolvedWeights

from .checkpoints import TEXT_CHECKPOINTS, check_choice, resolve_text_weights

__all__ = ["CXRBertEncoder"]

_OUTPUTS = ("projected", "cls")


class CXRBertEncoder(TorchTextEncoder):
    """CXR-BERT-specialized (or the BioViL-T text model), without remote code.

    The plugin builds a plain ``transformers.BertModel`` and the CLS projection head from the
    checkpoint's ``config.json`` and weights; nothing from the hub is executed, so it works with
    transformers 4 and 5 alike. Tokenisation is BERT WordPiece over the checkpoint's own
    ``vocab.txt``.

    Parameters
    ----------
    model : {"cxr-bert-specialized", "biovil-t"}
        Which published checkpoint ``weights=None`` means: CXR-BERT-specialized
        (``microsoft/BiomedVLP-CXR-BERT-specialized``, the text half of BioViL) or the BioViL-T
        text model (``microsoft/BiomedVLP-BioViL-T``).
    weights : path-like, optional
        ``None`` (default): the published checkpoint at its pinned revision, looked up in
        ``$SEMALIGN_WEIGHTS_DIR/<repo name>``, then the Hugging Face hub cache, downloaded only
        when online. A path: a local checkpoint directory in the same layout
        (``config.json`` with ``projection_size``, ``vocab.txt``, ``pytorch_model.bin`` or
        ``model.safetensors``, optionally ``tokenizer_config.json``).
    output : {"projected", "cls"}
        ``"projected"`` (default): the embedding in the joint image-text space (128-d).
        ``"cls"``: the last layer's ``[CLS]`` hidden state (768-d), before the projection.
    normalize : bool, optional
        L2-normalise the output. Default: ``True`` for ``"projected"`` (as the reference
        ``get_embeddings_from_prompt``), ``False`` for ``"cls"``.
    truncate : bool
        Cut texts longer than the model's 512 tokens instead of raising
        :class:`~semalign_core.errors.InvalidInputError`.
    device, batch_size, autocast
        See :class:`semalign_core.encoding.torch_batching.TorchTextEncoder`.

    Notes
    -----
    Like the reference inference engine, trailing ``!``, ``?`` and ``.`` are stripped from each
    text and texts containing special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``) are
    refused.
    """

    name = "cxr-bert"
    default_batch_size = 64

    def __init__(self, model: str = "cxr-bert-specialized", *,
                 weights: str | os.PathLike[str] | None = None, output: str = "projected",
                 normalize: bool | None = None, truncate: bool = False,
                 **options: Any) -> None:
        super().__init__(**options)
        self.model_key = check_choice(model, TEXT_CHECKPOINTS, "model")
        self.output = check_choice(output, _OUTPUTS, "output")
        if normalize is not None and not isinstance(normalize, bool):
            raise InvalidInputError(f"normalize must be True, False or None, got {normalize!r}")
        self.normalize = (output == "projected") if normalize is None else normalize
        if isinstance(weights, str) and not weights:
            raise InvalidInputError("weights must be None or a checkpoint directory")
        self.weights = weights
        self.truncate = bool(truncate)
        self.checkpoint = TEXT_CHECKPOINTS[self.model_key]
        self._resolved: ResolvedWeights | None = None
        self._fingerprint: Fingerprint | None = None

    def _resolve(self) -> ResolvedWeights:
        if self._resolved is None:
            self._resolved = resolve_text_weights(self.checkpoint, self.weights)
        return self._resolved

    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            from ._text_model import read_text_config

            resolved = self._resolve()
            config = read_text_config(resolved.path)
            dim = config["projection_size"] if self.output == "projected" else config[
                "hidden_size"]
            self._fingerprint = Fingerprint(
                encoder=self.name, architecture=f"{self.model_key}/bert", weights=resolved.identity,
                dim=int(dim),
                preprocessing={"tokenizer": "wordpiece:vocab.txt", "strip_trailing": "!?.",
                               "truncate": self.truncate},
                options={"output": self.output, "normalize": self.normalize})
        return self._fingerprint

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.fingerprint.dim

    def _build(self) -> None:
        from ._text_model import WordPieceTokenizer, load_text_net

        directory = self._resolve().path
        net = load_text_net(directory, self.output, self.normalize)
        max_length = int(net.bert.config.max_position_embeddings)
        self._tokenizer = WordPieceTokenizer(directory, max_length, truncate=self.truncate)
        if self._tokenizer.vocab_size > net.bert.config.vocab_size:
            from semalign_core import CorruptFileError

            raise CorruptFileError(
                f"{directory / 'vocab.txt'} has {self._tokenizer.vocab_size} entries but the "
                f"model's embedding table only {net.bert.config.vocab_size}: the vocabulary does "
                f"not belong to these weights")
        self._net = net.to(self._device)

    @property
    def tokenizer(self) -> Any:
        """The WordPiece tokenizer (loads the encoder)."""
        self.load()
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The underlying torch module (loads the encoder)."""
        self.load()
        return self._net

    def _encode_texts(self, texts: list[str]) -> Any:
        ids, mask = self._tokenizer(texts)
        return self._net(ids.to(self._device), mask.to(self._device))
