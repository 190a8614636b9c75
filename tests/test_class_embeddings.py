"""ClassEmbeddings: the recipe's combine rule, every way of building them, files, the classifier."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semalign_core import (
    ClassEmbeddings,
    CorruptFileError,
    DimensionMismatchError,
    Embeddings,
    Encoder,
    EncoderMismatchError,
    Fingerprint,
    InvalidInputError,
    PromptSet,
    Translator,
    ZeroShotClassifier,
)

pytest.importorskip("faiss")


class Words(Encoder):
    """Deterministic text encoder: the sum of one fixed random vector per word."""

    name = "test-words"
    modality = "text"
    dim = 16

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "bag-of-words", "none", self.dim)

    def encode_batch(self, items: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(items), self.dim))
        for row, text in enumerate(items):
            for word in re.findall(r"[a-z]+", text.lower()):
                seed = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                out[row] += np.random.default_rng(seed).normal(size=self.dim)
        return out.astype(np.float32)


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


PROMPTS = {"normal": ["clear lungs", "no acute findings"],
           "pneumonia": ["focal consolidation", "lobar pneumonia"]}
REPORTS = {"normal": ["the lungs are clear", "heart size normal lungs clear", "no effusion"],
           "pneumonia": ["right lower lobe consolidation", "patchy airspace opacity"]}


def test_the_recipe_rule_is_the_mean_of_unit_means_not_renormalised():
    enc = Words()
    prompts = ClassEmbeddings.from_prompts(PROMPTS, enc)
    reports = ClassEmbeddings.from_texts(REPORTS, enc, name="reports")
    both = prompts + reports
    expected = []
    for c in ("normal", "pneumonia"):
        p = _unit(_unit(enc.encode(PROMPTS[c], progress=False).vectors).mean(axis=0))
        r = _unit(_unit(enc.encode(REPORTS[c], progress=False).vectors).mean(axis=0))
        expected.append((p + r) / 2)
    np.testing.assert_allclose(both.vectors, expected, rtol=1e-5)
    np.testing.assert_allclose(both.mean_of_sources(), expected, rtol=1e-5)
    assert np.all(np.linalg.norm(both.vectors, axis=1) < 1 - 1e-3)  # sources disagree: shorter
    np.testing.assert_allclose(both.ensemble(), _unit(np.asarray(expected)), rtol=1e-5)
    np.testing.assert_allclose(both.with_rule("ensemble").vectors, both.ensemble())
    assert both.sources == ("prompts", "reports") and both.classes == ("normal", "pneumonia")
    assert both.texts["reports"]["pneumonia"] == REPORTS["pneumonia"]
    # one source: both rules give the unit mean (the PromptSet ensemble)
    ps = PromptSet(PROMPTS)
    np.testing.assert_allclose(prompts.vectors, ps.class_embeddings(enc), rtol=1e-5)
    np.testing.assert_allclose(prompts.ensemble(), prompts.vectors, rtol=1e-6)


def test_every_way_of_building_one_source_agrees():
    enc = Words()
    texts = [t for c in REPORTS for t in REPORTS[c]]
    labels = [c for c in REPORTS for _ in REPORTS[c]]
    by_mapping = ClassEmbeddings.from_texts(REPORTS, enc)
    by_labels = ClassEmbeddings.from_texts(texts, enc, labels=labels)
    ids = [f"r{i}" for i in range(len(texts))]  # cached embeddings keyed by report id
    cached = Embeddings(enc.encode(texts, progress=False).vectors, ids, enc.fingerprint)
    by_ids = ClassEmbeddings.from_texts({c: [i for i, lab in zip(ids, labels, strict=True)
                                             if lab == c] for c in REPORTS}, cached)
    by_vectors = ClassEmbeddings.from_vectors(
        {c: enc.encode(REPORTS[c], progress=False).vectors for c in REPORTS})
    for other in (by_labels, by_ids, by_vectors):
        np.testing.assert_allclose(other.vectors, by_mapping.vectors, rtol=1e-5)
    assert by_ids.fingerprint == enc.fingerprint and by_vectors.fingerprint is None
    templated = ClassEmbeddings.from_prompts({"normal": ["clear lungs"], "pneumonia": "pneumonia"},
                                             enc, templates=["a chest x-ray with {}.", "{}"])
    filled = PromptSet.from_templates({"normal": ["clear lungs"], "pneumonia": "pneumonia"},
                                      ["a chest x-ray with {}.", "{}"])
    np.testing.assert_allclose(templated.vectors, filled.class_embeddings(enc), rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_unit_means_ignore_text_order_and_norms(seed, n):
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(n, 5))
    base = ClassEmbeddings.from_vectors({"a": V, "b": V[:1]})
    perm = ClassEmbeddings.from_vectors({"a": V[rng.permutation(n)] * rng.uniform(0.1, 9, (n, 1)),
                                         "b": 3 * V[:1]})
    np.testing.assert_allclose(perm.vectors, base.vectors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(base.vectors, axis=1), 1.0, rtol=1e-5)


def test_combine_aligns_classes_and_refuses_what_does_not_fit():
    a = ClassEmbeddings.from_vectors({"x": [[1.0, 0.0]], "y": [[0.0, 1.0]]}, name="a")
    b = ClassEmbeddings.from_vectors({"y": [[1.0, 1.0]], "x": [[1.0, 0.0]]}, name="b")
    h = 0.5 * 2 ** -0.5
    np.testing.assert_allclose((a + b).vectors, [[1.0, 0.0], [h, 0.5 + h]])
    with pytest.raises(InvalidInputError, match="distinct"):
        a + a
    with pytest.raises(InvalidInputError, match="different classes"):
        a + ClassEmbeddings.from_vectors({"x": [[1.0, 0.0]]}, name="c")
    with pytest.raises(DimensionMismatchError):
        a + ClassEmbeddings.from_vectors({"x": [[1.0]], "y": [[1.0]]}, name="d")
    fp1, fp2 = Fingerprint("e1", "a", "w", 2), Fingerprint("e2", "a", "w", 2)
    with pytest.raises(EncoderMismatchError):
        ClassEmbeddings.from_vectors({"x": [[1.0, 0]]}, fingerprint=fp1).combine(
            ClassEmbeddings.from_vectors({"x": [[1.0, 0]]}, name="o", fingerprint=fp2))
    with pytest.raises(InvalidInputError, match="rule"):
        a.with_rule("median")
    with pytest.raises(InvalidInputError, match="cancel out"):
        ClassEmbeddings.from_vectors({"x": [[1.0, 0.0], [-1.0, 0.0]]})
    with pytest.raises(InvalidInputError, match="labels"):
        ClassEmbeddings.from_texts(["a", "b"], Words())
    with pytest.raises(DimensionMismatchError, match="labels"):
        ClassEmbeddings.from_texts(["a", "b"], Words(), labels=["x"])


def test_save_and_load_round_trip(tmp_path):
    enc = Words()
    ce = (ClassEmbeddings.from_prompts(PROMPTS, enc)
          + ClassEmbeddings.from_texts(REPORTS, enc, name="reports")).with_rule("ensemble")
    path = ce.save(tmp_path / "sub" / "classes.safetensors")
    back = ClassEmbeddings.load(path)
    np.testing.assert_array_equal(back.means, ce.means)
    np.testing.assert_array_equal(back.vectors, ce.vectors)
    assert (back.classes, back.sources, back.rule) == (ce.classes, ce.sources, "ensemble")
    assert back.fingerprint == enc.fingerprint and back.texts == ce.texts
    assert list(path.parent.iterdir()) == [path]  # written atomically: no temporary left
    damaged = bytearray(path.read_bytes())
    damaged[-5] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(damaged))
    with pytest.raises(CorruptFileError):
        ClassEmbeddings.load(tmp_path / "bad.safetensors")


def _fitted(enc: Words) -> Translator:
    rng = np.random.default_rng(0)
    Y = enc.encode([t for c in REPORTS for t in REPORTS[c]] * 8, progress=False).vectors
    Y = Y + 0.1 * rng.normal(size=Y.shape)
    X = Y @ rng.normal(size=(16, 24))
    ids = [str(i) for i in range(len(Y))]
    return Translator("test-lstsq-ce").fit(Embeddings(X.astype(np.float32), ids),
                                           Embeddings(Y.astype(np.float32), ids, enc.fingerprint))


@pytest.fixture
def lstsq(semalign_register_plugin):
    from semalign_core import Solver, hookimpl

    class Lstsq(Solver):
        name = "test-lstsq-ce"

        def __init__(self) -> None:
            pass

        def _fit(self, X, Y):  # type: ignore[no-untyped-def]
            self.coef_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], Y, rcond=None)[0]

        def _transform(self, X):  # type: ignore[no-untyped-def]
            return np.c_[X, np.ones(len(X))] @ self.coef_

    class Plugin:
        @hookimpl
        def register_solvers(self, register):  # type: ignore[no-untyped-def]
            register("test-lstsq-ce", Lstsq)

    semalign_register_plugin(Plugin(), "test-class-embeddings-solver")


@pytest.mark.parametrize("space", ["normalized", "centered", "raw"])
def test_the_classifier_scores_class_embeddings_in_its_space(lstsq, space):
    enc = Words()
    t = _fitted(enc)
    ce = ClassEmbeddings.from_prompts(PROMPTS, enc) + ClassEmbeddings.from_texts(
        REPORTS, enc, name="reports")
    images = np.random.default_rng(1).normal(size=(30, 24)).astype(np.float32)
    clf = ZeroShotClassifier(t, ce, space=space, device="cpu")
    Z = _unit(t.transform(images, space=space))
    C = _unit(t.transform_target(ce.vectors, space=space))
    np.testing.assert_allclose(clf.decision_scores(images), Z @ C.T, atol=1e-5)
    assert list(clf.classes_) == list(ce.classes)
    same = ZeroShotClassifier(t, ce.to_embeddings(), space=space, device="cpu")
    np.testing.assert_array_equal(same.predict(images), clf.predict(images))
    with pytest.raises(InvalidInputError, match="no prompts"):
        ZeroShotClassifier(t, ce, PROMPTS, device="cpu")
    other = ClassEmbeddings.from_vectors({"a": np.ones((1, 16))},
                                         fingerprint=Fingerprint("other", "x", "w", 16))
    with pytest.raises(EncoderMismatchError):
        ZeroShotClassifier(t, other, device="cpu")
