"""Build any registered encoder with tiny random weights, the way each plugin's own tests do.

One recipe per plugin (the distribution that registered the name): the options that turn its
encoder into a seconds-cheap random model, writing whatever files that needs (a tiny open_clip
config, a tiny DINOv2 / BERT / CXR-BERT checkpoint) once per session under ``workdir``. A plugin
without a recipe here is skipped by the cross-plugin tests with its name, not silently.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semalign_core import get_encoder
from semalign_core.plugins.manager import RegistryEntry

REPO = Path(__file__).resolve().parent.parent
TINY_CLIP = "semalign-tiny-clip"
_TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
_WORDS = ["a", "an", "the", "image", "photo", "of", "dark", "bright", "chest", "x-ray", "lungs",
          "clear", "with", "pneumonia", "normal", "and", "is", "are", "shows", "no"]


def _once(workdir: Path, name: str, build: Callable[[Path], Any]) -> Path:
    path = workdir / name
    if not path.exists():
        build(path)
    return path


def _torchvision(entry: RegistryEntry, workdir: Path) -> dict[str, Any]:
    arch = get_encoder(entry.name).arch
    options: dict[str, Any] = {"weights": "random", "device": "cpu"}
    # ViTs only take their training resolution; every CNN runs on a 32-pixel crop.
    return options if arch.startswith("vit") else {**options, "resize": 40, "crop": 32}


def _clip(entry: RegistryEntry, workdir: Path) -> dict[str, Any]:
    import open_clip

    def write_config(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / f"{TINY_CLIP}.json").write_text(json.dumps(_TINY_CLIP_CFG))

    open_clip.add_model_config(_once(workdir, "clip-config", write_config))
    return {"model": TINY_CLIP, "pretrained": None, "device": "cpu", "seed": 0}


def _dinov2(entry: RegistryEntry, workdir: Path) -> dict[str, Any]:
    def write(folder: Path) -> None:
        import torch
        import transformers

        config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=64,
                                           patch_size=14, image_size=518)
        torch.manual_seed(0)
        transformers.Dinov2Model(config).eval().save_pretrained(folder)

    return {"weights": str(_once(workdir, "dinov2", write)), "device": "cpu"}


def _sentence_transformers(entry: RegistryEntry, workdir: Path) -> dict[str, Any]:
    def write(folder: Path) -> None:
        import sentence_transformers as st
        import torch
        import transformers

        bert = folder / "bert"
        bert.mkdir(parents=True)
        (folder / "vocab.txt").write_text(
            "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS]) + "\n")
        tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
        config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32,
                                         num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=37, max_position_embeddings=64)
        torch.manual_seed(0)
        transformers.BertModel(config).eval().save_pretrained(bert)
        tokenizer.save_pretrained(bert)
        try:  # sentence-transformers >= 6 moved the modules
            from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
        except ImportError:
            from sentence_transformers.models import Pooling, Transformer
        word = Transformer(str(bert), max_seq_length=32)
        pool = Pooling(32, pooling_mode="mean")
        st.SentenceTransformer(modules=[word, pool], device="cpu").save(str(folder / "st"))

    return {"model": str(_once(workdir, "sentence-transformers", write) / "st"), "device": "cpu"}


def _biovil(entry: RegistryEntry, workdir: Path) -> dict[str, Any]:
    if entry.modality == "image":
        return {"weights": "random", "backbone": "resnet18", "resize": 40, "crop": 32,
                "device": "cpu"}
    # The plugin's own writer of a random CXR-BERT checkpoint in the published layout.
    spec = importlib.util.spec_from_file_location(
        "biovil_testutils", REPO / "plugins" / "semalign-biovil" / "tests" / "biovil_testutils.py")
    assert spec is not None and spec.loader is not None
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    return {"weights": str(_once(workdir, "cxr-bert", utils.write_text_checkpoint)),
            "device": "cpu"}


RECIPES: dict[str, Callable[[RegistryEntry, Path], dict[str, Any]]] = {
    "semalign-torchvision": _torchvision,
    "semalign-clip": _clip,
    "semalign-dinov2": _dinov2,
    "semalign-sentence-transformers": _sentence_transformers,
    "semalign-biovil": _biovil,
    "semalign-example": lambda entry, workdir: {},
}


def tiny_options(entry: RegistryEntry, workdir: Path) -> dict[str, Any] | None:
    """Options that make ``entry`` a tiny random model, or ``None`` if no recipe is known."""
    recipe = RECIPES.get(entry.plugin)
    return None if recipe is None else recipe(entry, workdir)
