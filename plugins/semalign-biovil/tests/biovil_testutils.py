"""Helpers shared by the BioViL plugin tests: small checkpoints in the published layouts,
written at run time. (A uniquely named module rather than conftest.py, so that importing it can
never pick up another plugin's conftest when several test directories run in one session.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: A tiny BERT vocabulary: the special tokens, report words, and every letter and digit alone
#: and as a continuation piece, so any lowercase ASCII word tokenises without [UNK].
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["no", "there", "is", "of", "evidence", "findings", "consistent", "with", "acute",
         "pneumonia", "pleural", "effusion", "cardiomegaly", "edema", "pulmonary",
         "consolidation", "atelectasis", "pneumothorax", "opacity", "lung", "the", "lungs", "are",
         "clear", "normal", "chest", "-", "ray", "right", "left", "lower", "lobe", "mild",
         "small", "cardiopulmonary", "process", "abnormality", ",", ".", "##ed", "##ing"]
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
TINY_VOCAB = SPECIAL_TOKENS + WORDS + CHARS + [f"##{c}" for c in CHARS]
assert len(set(TINY_VOCAB)) == len(TINY_VOCAB)

TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 48, "max_position_embeddings": 64, "projection_size": 16}


# -- reference-layout checkpoints written without hi-ml-multimodal -------------------------------
def write_vocab(directory: Path, tokens: Sequence[str] = TINY_VOCAB, *,
                tokenizer_config: dict[str, Any] | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    cfg = {"do_lower_case": True, "model_max_length": 512,
           "tokenizer_class": "CXRBertTokenizer"}
    cfg.update(tokenizer_config or {})
    (directory / "tokenizer_config.json").write_text(json.dumps(cfg))


def write_text_checkpoint(directory: Path, *, seed: int = 0, vocab: Sequence[str] = TINY_VOCAB,
                          fmt: str = "bin", **config: Any) -> Path:
    """A random CXR-BERT checkpoint directory in the published layout, built with plain
    transformers (BertForMaskedLM + a ``cls_projection_head``), as the hub repository holds it:
    config.json (model_type "cxr-bert", projection_size), vocab.txt, tokenizer_config.json,
    pytorch_model.bin or model.safetensors."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    cfg = {**TINY_BERT, **config, "vocab_size": len(vocab)}
    projection = cfg.pop("projection_size")
    torch.manual_seed(seed)
    mlm = BertForMaskedLM(BertConfig(**cfg))
    state = {k: v.clone().contiguous() for k, v in mlm.state_dict().items()}
    hidden = cfg["hidden_size"]
    gen = torch.Generator().manual_seed(seed + 1)
    state["cls_projection_head.dense_to_hidden.weight"] = torch.randn(projection, hidden,
                                                                      generator=gen) * 0.2
    state["cls_projection_head.dense_to_hidden.bias"] = torch.randn(projection, generator=gen)
    state["cls_projection_head.LayerNorm.weight"] = 1 + 0.1 * torch.randn(projection,
                                                                          generator=gen)
    state["cls_projection_head.LayerNorm.bias"] = 0.1 * torch.randn(projection, generator=gen)
    state["cls_projection_head.dense_to_output.weight"] = torch.randn(projection, projection,
                                                                      generator=gen) * 0.2
    state["cls_projection_head.dense_to_output.bias"] = torch.randn(projection, generator=gen)
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "bin":
        torch.save(state, directory / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file(state, str(directory / "model.safetensors"))
    config_json = {**cfg, "projection_size": projection, "model_type": "cxr-bert",
                   "architectures": ["CXRBertModel"],
                   "auto_map": {"AutoConfig": "configuration_cxrbert.CXRBertConfig",
                                "AutoModel": "modeling_cxrbert.CXRBertModel"}}
    (directory / "config.json").write_text(json.dumps(config_json))
    write_vocab(directory, vocab)
    return directory


def write_random_image_checkpoint(path: Path, *, multi_image: bool = False,
                                  backbone: str = "resnet50", seed: int = 0) -> Path:
    """A random BioViL image checkpoint in the published layout (the plugin's own network with
    non-trivial BatchNorm statistics, saved with torch.save plus an unused ``fc``)."""
    import torch
    from semalign_biovil._image_model import BioVilImageNet

    torch.manual_seed(seed)
    net = BioVilImageNet(backbone, multi_image, 128, "projected", True)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "running_var")):
            value.copy_(torch.rand_like(value) * 0.5 + (0.75 if "var" in key else -0.25))
    width = 2048 if backbone == "resnet50" else 512
    state["encoder.encoder.fc.weight"] = torch.zeros(1000, width)
    state["encoder.encoder.fc.bias"] = torch.zeros(1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
