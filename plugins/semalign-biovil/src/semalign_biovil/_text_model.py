"""CXR-BERT without remote code: a plain ``transformers.BertModel`` plus the projection head,
and a WordPiece tokenizer built straight from the checkpoint's ``vocab.txt`` (imports torch).

Why not ``AutoModel.from_pretrained(..., trust_remote_code=True)``: the checkpoint's remote code
subclasses APIs that changed in transformers 5, and executing code from the hub is a risk. Why
not ``BertTokenizer(vocab_file=...)``: in transformers 5 that argument is silently ignored and
every word maps to ``[UNK]``. The ``tokenizers`` library's ``BertWordPieceTokenizer`` given the
vocabulary itself is stable across versions and is what the fast BERT tokenizer runs anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semalign_core import CorruptFileError, InvalidInputError
from semalign_core.encoding import read_state_dict

from ._state import key_mismatch, load_as_float32, shape_mismatch, some
from .checkpoints import TEXT_WEIGHT_FILES, read_json

#: BertConfig fields taken from the checkpoint's config.json (the rest is CXR-BERT specific or
#: irrelevant to inference).
_BERT_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "hidden_act", "hidden_dropout_prob",
                "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                "initializer_range", "layer_norm_eps", "pad_token_id", "position_embedding_type")
#: Checkpoint entries that inference does not use: the masked-language-model head, the pooler,
#: and a buffer older transformers versions saved.
_IGNORED_PREFIXES = ("cls.predictions.", "bert.pooler.", "bert.embeddings.position_ids")
SPECIALS = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_SPECIAL_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                     "cls_token": "[CLS]", "mask_token": "[MASK]"}


class ProjectionHead(nn.Module):
    """CLS hidden state -> joint space: linear, GELU, LayerNorm, linear."""

    def __init__(self, hidden_size: int, projection_size: int) -> None:
        super().__init__()
        self.dense_to_hidden = nn.Linear(hidden_size, projection_size)
        self.LayerNorm = nn.LayerNorm(projection_size, eps=1e-12)
        self.dense_to_output = nn.Linear(projection_size, projection_size)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.dense_to_hidden(cls))
        return self.dense_to_output(self.LayerNorm(x))


def read_text_config(directory: Path) -> dict[str, Any]:
    """The checkpoint's config.json, checked for what CXR-BERT needs."""
    config = read_json(directory / "config.json")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if not isinstance(config.get(key), int):
            raise CorruptFileError(f"{directory / 'config.json'} lacks an integer {key!r}; is "
                                   f"this a BERT checkpoint?")
    if not isinstance(config.get("projection_size"), int):
        raise CorruptFileError(
            f"{directory / 'config.json'} has no 'projection_size': this is a plain BERT "
            f"checkpoint, not CXR-BERT (which adds a projection head into the joint space)")
    return config


class CXRBertNet(nn.Module):
    """BERT encoder + CLS projection head; ``forward`` returns the requested embedding."""

    def __init__(self, config: Mapping[str, Any], output: str, normalize: bool) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        bert_config = BertConfig(**{k: config[k] for k in _BERT_FIELDS if k in config})
        self.bert = BertModel(bert_config, add_pooling_layer=False)
        self.cls_projection_head = ProjectionHead(config["hidden_size"],
                                                  config["projection_size"])
        self.output = output
        self.normalize = normalize

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        out = hidden[:, 0, :]
        if self.output == "projected":
            out = self.cls_projection_head(out)
        if self.normalize:
            out = nn.functional.normalize(out.float(), dim=1)
        return out

    def load_reference_state(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a CXR-BERT state dict (``bert.*`` + ``cls_projection_head.*``), strictly."""
        missing, extra = key_mismatch(self, state, _IGNORED_PREFIXES)
        if missing or extra:
            raise CorruptFileError(f"{source} is not a CXR-BERT checkpoint matching its "
                                   f"config.json: missing {some(missing)}, unexpected "
                                   f"{some(extra)}")
        wrong = shape_mismatch(self, state)
        if wrong:
            raise CorruptFileError(f"{source} does not match its config.json: {some(wrong)}")
        load_as_float32(self, state)



def load_text_net(directory: Path, output: str, normalize: bool) -> CXRBertNet:
    config = read_text_config(directory)
    net = CXRBertNet(config, output, normalize)
    weights = next(directory / n for n in TEXT_WEIGHT_FILES if (directory / n).is_file())
    net.load_reference_state(read_state_dict(weights, unwrap=False), str(weights))
    return net.eval()


class WordPieceTokenizer:
    """BERT WordPiece tokenisation from a checkpoint directory's ``vocab.txt``.

    Reads ``do_lower_case``, ``strip_accents``, ``tokenize_chinese_chars`` and the special
    tokens from ``tokenizer_config.json`` when present (BERT defaults otherwise: lowercase,
    ``[CLS]``/``[SEP]``/``[PAD]``/``[UNK]``/``[MASK]``).

    Parameters
    ----------
    directory : Path
        The checkpoint directory.
    max_length : int
        The model's ``max_position_embeddings``.
    truncate : bool
        Cut longer inputs to ``max_length`` tokens instead of raising.
    """

    def __init__(self, directory: Path, max_length: int, truncate: bool = False) -> None:
        from tokenizers.implementations import BertWordPieceTokenizer
        from tokenizers.models import WordPiece

        vocab_path = directory / "vocab.txt"
        try:
            vocab = WordPiece.read_file(str(vocab_path))
        except Exception as exc:
            raise CorruptFileError(f"cannot read the vocabulary {vocab_path}: {exc}") from exc
        cfg_path = directory / "tokenizer_config.json"
        cfg = read_json(cfg_path) if cfg_path.is_file() else {}
        specials = {}
        for key in SPECIALS:
            value = cfg.get(key, _SPECIAL_DEFAULTS[key])
            if isinstance(value, Mapping):  # an AddedToken serialised as a dict
                value = value.get("content", _SPECIAL_DEFAULTS[key])
            specials[key] = str(value)
        absent = [t for k, t in specials.items() if k != "mask_token" and t not in vocab]
        if absent:
            raise CorruptFileError(f"{vocab_path} lacks the special token(s) {absent}; it is not "
                                   f"a BERT vocabulary")
        self.vocab_size = len(vocab)
        self.lowercase = bool(cfg.get("do_lower_case", True))
        self.specials = specials
        self.max_length = max_length
        self.truncate = truncate
        self._tok = BertWordPieceTokenizer(
            vocab, lowercase=self.lowercase, strip_accents=cfg.get("strip_accents"),
            handle_chinese_chars=bool(cfg.get("tokenize_chinese_chars", True)),
            clean_text=True, **specials)
        self.unk_id = vocab[specials["unk_token"]]
        self._tok.enable_padding(pad_id=vocab[specials["pad_token"]],
                                 pad_token=specials["pad_token"])
        if truncate:
            self._tok.enable_truncation(max_length)
        # [MASK] is a legitimate input (masked-token queries); the others would corrupt the
        # sequence structure the model was trained on.
        self._forbidden = [t for k, t in specials.items() if k != "mask_token"]

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """Refuse special tokens; strip trailing ``!?.`` as the reference inference does
        (the model was trained on sentence-final-punctuation-free phrases)."""
        for text in texts:
            found = [t for t in self._forbidden if t in text]
            if found:
                raise InvalidInputError(f"the text {text!r} contains the special token(s) "
                                        f"{found}; remove them")
        return [t.rstrip("!?.") for t in texts]

    def tokens(self, text: str) -> list[str]:
        """The word pieces of one text, with ``[CLS]``/``[SEP]`` (no padding)."""
        return self._tok.encode(self.prepare([text])[0]).tokens

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask, padded to the longest text of the batch."""
        encodings = self._tok.encode_batch(self.prepare(texts))
        if not self.truncate:
            for text, enc in zip(texts, encodings, strict=True):
                if len(enc.ids) > self.max_length and sum(enc.attention_mask) > self.max_length:
                    raise InvalidInputError(
                        f"the text {text[:60]!r}... is {sum(enc.attention_mask)} tokens long, "
                        f"more than the model's {self.max_length}; shorten it or build the "
                        f"encoder with truncate=True")
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        return ids, mask
