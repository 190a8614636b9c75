"""PromptSet, LabelIndex and ZeroShotClassifier on synthetic spaces with a known answer."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import semalign_core.zeroshot.classifier as zs
import semalign_core.zeroshot.label_index as label_index
from semalign_core import (
    CorruptFileError,
    DimensionMismatchError,
    Embeddings,
    Encoder,
    EncoderMismatchError,
    Fingerprint,
    InvalidInputError,
    NotFittedError,
    Solver,
    Translator,
)
from semalign_core.evaluation.metrics import auroc, balanced_accuracy
from semalign_core.zeroshot.classifier import (
    LabelIndex,
    PromptSet,
    ZeroShotClassifier,
    ensemble_embedding,
)

faiss = pytest.importorskip("faiss")


# -- test doubles ------------------------------------------------------------------------------
class HashedBowEncoder(Encoder):
    """Deterministic text encoder: sum of one fixed random vector per lower-cased word."""

    name = "test-hashed-bow"
    modality = "text"

    def __init__(self, dim: int = 32, salt: str = "") -> None:
        self.dim = dim
        self.salt = salt

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "bag-of-words", f"salt:{self.salt}", self.dim)

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256((self.salt + word).encode()).digest()[:8], "little")
        return np.random.default_rng(seed).normal(size=self.dim)

    def encode_batch(self, items: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(items), self.dim))
        for row, text in enumerate(items):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row] += self._word(word)
        return out.astype(np.float32)


class LstsqSolver(Solver):
    """Affine least squares; exact when the target is an affine image of the source."""

    name = "test-lstsq"

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        Xa = np.hstack([X, np.ones((len(X), 1))])
        self.coef_ = np.linalg.lstsq(Xa, Y, rcond=None)[0]

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((len(X), 1))]) @ self.coef_


CLASSES = {"normal": ["no acute findings", "clear lungs"],
           "pneumonia": ["pneumonia", "consolidation"],
           "effusion": ["pleural effusion"]}
TEMPLATES = ["a chest x-ray showing {finding}.", "{} is seen."]


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def world() -> dict:
    """Target = text space; images' target vectors sit on a class prompt plus small noise;
    the source (image) space is a random linear image (48-d) of the target (32-d)."""
    rng = np.random.default_rng(0)
    text = HashedBowEncoder(32)
    prompts = PromptSet.from_templates(CLASSES, TEMPLATES)
    raw = prompts.embed(text).astype(np.float64)
    row = {t: i for i, t in enumerate(prompts.texts())}
    M = rng.normal(size=(32, 48))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = rng.integers(0, len(CLASSES), size=n)
        Y = np.empty((n, 32))
        for i, c in enumerate(y):
            options = prompts.prompts[prompts.classes[c]]
            Y[i] = raw[row[options[rng.integers(len(options))]]]
        Y += 0.05 * rng.normal(size=Y.shape) * np.abs(Y).mean()
        return Y @ M, Y, np.asarray(prompts.classes)[y]

    X_anchor, Y_anchor, _ = sample(300)
    X_test, Y_test, y_test = sample(240)
    src_fp = Fingerprint("test-image", "linear", "none", 48)
    anchors_src = Embeddings(X_anchor.astype(np.float32), [f"a{i}" for i in range(300)], src_fp)
    anchors_tgt = Embeddings(Y_anchor.astype(np.float32), [f"a{i}" for i in range(300)],
                             text.fingerprint)
    translator = Translator(LstsqSolver()).fit(anchors_src, anchors_tgt)
    images = Embeddings(X_test.astype(np.float32), [f"x{i}" for i in range(240)], src_fp)
    return {"text": text, "prompts": prompts, "translator": translator, "images": images,
            "labels": y_test, "Y_test": Y_test, "src_fp": src_fp}


# -- PromptSet ---------------------------------------------------------------------------------
def test_prompt_set_from_templates_fills_every_term_and_template():
    ps = PromptSet.from_templates({"a": ["x", "y"], "b": "z"}, ["{finding} here", "see {}"])
    assert ps.classes == ("a", "b")
    assert ps.prompts["a"] == ("x here", "y here", "see x", "see y")
    assert ps.prompts["b"] == ("z here", "see z")
    assert not ps.is_multilabel and ps.negatives is None
    assert PromptSet.from_dict(ps.to_dict()) == ps


def test_prompt_set_multilabel_and_texts_are_unique():
    ps = PromptSet.from_templates(["edema", "effusion"], "{} is present.",
                                  negative_templates=["no {}.", "no {} is present."])
    assert ps.is_multilabel
    assert ps.negatives["edema"] == ("no edema.", "no edema is present.")
    assert len(ps.texts()) == len(set(ps.texts())) == 6
    shared = PromptSet({"a": ["p", "q"], "b": ["q"]})  # a text shared by two classes: once
    assert shared.texts() == ("p", "q")


@pytest.mark.parametrize("bad, match", [
    ({}, "empty"),
    ({"a": []}, "no prompts"),
    ({"a": ["p", "p"]}, "twice"),
    ({"a": [""]}, "non-empty"),
    ([("a", "p"), ("a", "q")], "duplicate class name"),
    ({"": "p"}, "non-empty"),
])
def test_prompt_set_rejects_bad_prompts(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        PromptSet(bad)


def test_prompt_set_rejects_bad_templates_and_negatives():
    with pytest.raises(InvalidInputError, match="duplicate class name"):
        PromptSet.from_templates(["a", "a"], "{}")
    with pytest.raises(InvalidInputError, match="no placeholder"):
        PromptSet.from_templates(["a", "b"], "a chest x-ray")
    with pytest.raises(InvalidInputError, match="placeholder"):
        PromptSet.from_templates(["a"], "{other}")
    with pytest.raises(InvalidInputError, match="missing negatives"):
        PromptSet({"a": "p", "b": "q"}, negatives={"a": "no p"})
    with pytest.raises(InvalidInputError, match="single string"):
        PromptSet.from_templates("ab", "{}")


def test_ensemble_is_mean_of_normalised_prompts_renormalised():
    V = np.array([[3.0, 0.0], [0.0, 0.5]])
    expected = np.array([1.0, 1.0]) / np.sqrt(2)  # norms do not weigh the prompts
    np.testing.assert_allclose(ensemble_embedding(V), expected, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="cancel out"):
        ensemble_embedding(np.array([[1.0, 0.0], [-2.0, 0.0]]))


def test_class_embeddings_from_encoder_and_precomputed_agree():
    text = HashedBowEncoder(16)
    ps = PromptSet(CLASSES)
    from_encoder = ps.class_embeddings(text)
    pre = Embeddings(text.encode(list(ps.texts()), progress=False).vectors[::-1],
                     list(ps.texts())[::-1])  # any order: looked up by id
    np.testing.assert_allclose(ps.class_embeddings(pre), from_encoder, rtol=1e-6)
    V = ps.embed(text)
    manual = _unit(np.stack([_unit(V[[ps.texts().index(t) for t in ps.prompts[c]]]).mean(0)
                             for c in ps.classes]))
    np.testing.assert_allclose(from_encoder, manual, rtol=1e-5)
    with pytest.raises(InvalidInputError, match="no precomputed embedding"):
        ps.class_embeddings(pre.subset([0, 1]))


# -- LabelIndex --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_label_index_matches_brute_force_argmax(data):
    n_labels = data.draw(st.integers(1, 12))
    dim = data.draw(st.integers(1, 10))
    floats = st.floats(-10, 10, allow_nan=False, width=32)
    E = data.draw(hnp.arrays(np.float32, (n_labels, dim), elements=floats))
    Q = data.draw(hnp.arrays(np.float32, (data.draw(st.integers(0, 20)), dim), elements=floats))
    index = LabelIndex([f"L{i}" for i in range(n_labels)], E, device="cpu")
    brute = Q.astype(np.float64) @ E.astype(np.float64).T
    tol = 1e-4 * (1.0 + np.abs(brute).max(initial=0.0))
    labels, scores = index.search(Q, k=1)
    idx = np.array([int(label[1:]) for label in labels[:, 0]], dtype=np.int64)
    # the chosen label scores the maximum (exact ties may pick any of the tied labels)
    np.testing.assert_allclose(brute[np.arange(len(Q)), idx], brute.max(axis=1, initial=-1e30)
                               if len(Q) else [], atol=tol)
    np.testing.assert_allclose(scores[:, 0], brute.max(axis=1) if len(Q) else [], atol=tol)
    np.testing.assert_allclose(index.scores(Q), brute, atol=tol)
    k = data.draw(st.integers(1, n_labels))
    _, top = index.search(Q, k=k)
    assert (np.diff(top, axis=1) <= tol).all()  # best first


@pytest.mark.parametrize("n_labels", [1, 2, 14, 64, 300])
def test_blas_and_faiss_backends_give_the_same_results(n_labels, monkeypatch):
    rng = np.random.default_rng(n_labels)
    E = rng.normal(size=(n_labels, 24)).astype(np.float32)
    Q = rng.normal(size=(5000, 24)).astype(np.float32)  # more than one BLAS tile
    labels = [f"L{i}" for i in range(n_labels)]
    auto = LabelIndex(labels, E, device="cpu")
    assert auto.backend_ == ("blas" if n_labels <= label_index.BLAS_MAX_LABELS else "faiss")
    monkeypatch.setattr(label_index, "BLAS_MAX_LABELS", 0)
    flat = LabelIndex(labels, E, device="cpu")
    monkeypatch.setattr(label_index, "BLAS_MAX_LABELS", 10**6)
    blas = LabelIndex(labels, E, device="cpu")
    assert (flat.backend_, blas.backend_) == ("faiss", "blas")
    for k in sorted({1, min(3, n_labels), n_labels}):
        (i_f, s_f), (i_b, s_b) = flat.search_indices(Q, k), blas.search_indices(Q, k)
        np.testing.assert_allclose(s_b, s_f, rtol=1e-5, atol=1e-5)
        if k <= 3:  # the best few of random scores have no near-ties
            np.testing.assert_array_equal(i_b, i_f)
        else:  # deep in a long ranking, float32 rounding may swap two near-equal neighbours
            np.testing.assert_array_equal(np.sort(i_b, axis=1), np.sort(i_f, axis=1))
    np.testing.assert_allclose(blas.scores(Q), flat.scores(Q), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(blas.scores(Q), Q.astype(np.float64) @ E.T.astype(np.float64),
                               rtol=1e-4, atol=1e-4)
    assert blas.search_indices(Q[:0], 1)[0].shape == (0, 1)
    bad = Q[:3].copy()
    bad[1, 5] = np.nan
    for index in (flat, blas):
        with pytest.raises(InvalidInputError, match="NaN"):
            index.search(bad)


def test_label_index_remembers_prompts_and_round_trips(tmp_path):
    text = HashedBowEncoder(16)
    ps = PromptSet.from_templates(CLASSES, TEMPLATES)
    index = LabelIndex.from_prompts(ps, text, device="cpu")
    assert index.labels == ps.classes and index.prompts == ps.prompts
    path = index.save(tmp_path / "labels.safetensors")
    from safetensors import safe_open  # the file is plain safetensors: no pickle anywhere

    with safe_open(str(path), framework="numpy") as fh:
        assert set(fh.keys()) == {"embeddings"}
    loaded = LabelIndex.load(path, device="cpu")
    assert loaded.labels == index.labels and loaded.prompts == index.prompts
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    Q = np.random.default_rng(1).normal(size=(9, 16)).astype(np.float32)
    np.testing.assert_array_equal(loaded.search(Q, 2)[0], index.search(Q, 2)[0])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary behind


def test_label_index_load_rejects_damaged_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CorruptFileError):
        LabelIndex.load(bad)
    other = Embeddings(np.eye(2, dtype=np.float32), ["a", "b"]).save(tmp_path / "e.safetensors")
    with pytest.raises(CorruptFileError, match="expected 'semalign.label_index'"):
        LabelIndex.load(other)


def test_label_index_rejects_bad_input():
    E = np.eye(3, dtype=np.float32)
    with pytest.raises(InvalidInputError, match="duplicate"):
        LabelIndex(["a", "a", "b"], E)
    with pytest.raises(DimensionMismatchError, match="3 embeddings"):
        LabelIndex(["a", "b"], E)
    with pytest.raises(InvalidInputError, match="at least one label"):
        LabelIndex([], np.zeros((0, 3), np.float32))
    index = LabelIndex(["a", "b", "c"], E, device="cpu")
    with pytest.raises(DimensionMismatchError, match="3-d label"):
        index.search(np.ones((1, 4), np.float32))
    for k in (0, 4, 1.5):
        with pytest.raises(InvalidInputError, match="k must be"):
            index.search(np.ones((1, 3), np.float32), k=k)
    with pytest.raises(InvalidInputError, match="device"):
        LabelIndex(["a", "b", "c"], E, device="gpu")
    with pytest.raises(InvalidInputError, match="NaN"):
        index.search(np.full((1, 3), np.nan, np.float32))


# -- device selection (covered on CPU with a fake GPU) --------------------------------------------
class _FakeGpuIndex:
    """Stands in for a GPU flat IP index: a CPU index that records its use."""

    def __init__(self, dim: int) -> None:
        self.inner = faiss.IndexFlatIP(dim)
        self.searches = 0

    def add(self, x):
        self.inner.add(x)

    def search(self, x, k):
        self.searches += 1
        return self.inner.search(x, k)


@pytest.fixture
def fake_gpu(monkeypatch):
    made = []

    def factory(faiss_module, dim):
        made.append(_FakeGpuIndex(dim))
        return made[-1], object()

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(label_index, "_make_gpu_index", factory)
    return made


def test_auto_device_uses_gpu_when_faiss_sees_one(fake_gpu):
    E = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    gpu = LabelIndex(list("abcde"), E, device="auto")
    assert gpu.device_ == "cuda" and len(fake_gpu) == 1
    cpu = LabelIndex(list("abcde"), E, device="cpu")
    assert cpu.device_ == "cpu" and len(fake_gpu) == 1
    Q = np.random.default_rng(1).normal(size=(7, 8)).astype(np.float32)
    np.testing.assert_array_equal(gpu.search(Q, 3)[0], cpu.search(Q, 3)[0])
    assert fake_gpu[0].searches == 1
    assert (gpu.backend_, cpu.backend_) == ("faiss-gpu", "blas")  # the GPU even for 5 labels
    assert LabelIndex(list("abcde"), E, device="cuda").device_ == "cuda"


def test_gpu_scores_fall_back_to_dense_product_beyond_the_gpu_k_limit(fake_gpu, monkeypatch):
    monkeypatch.setattr(label_index, "_GPU_MAX_K", 2)
    E = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    index = LabelIndex(list("abcde"), E, device="auto")
    Q = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    np.testing.assert_allclose(index.scores(Q), Q @ E.T, rtol=1e-5)
    assert fake_gpu[0].searches == 0


def test_cpu_only_machine_falls_back_and_cuda_raises(monkeypatch):
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 0, raising=False)
    E = np.eye(2, dtype=np.float32)
    assert LabelIndex(["a", "b"], E, device="auto").device_ == "cpu"
    with pytest.raises(InvalidInputError, match="sees no GPU"):
        LabelIndex(["a", "b"], E, device="cuda")


def test_broken_gpu_runtime_counts_as_no_gpu(monkeypatch):
    def broken():
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(faiss, "get_num_gpus", broken)
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    assert LabelIndex(["a"], np.ones((1, 2), np.float32)).device_ == "cpu"


def test_missing_faiss_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"semalign-core\[faiss\]"):
        LabelIndex(["a"], np.ones((1, 2), np.float32))


@pytest.mark.skipif(label_index._faiss_num_gpus(faiss) == 0,
                    reason="FAISS sees no GPU on this machine")
def test_real_gpu_index_matches_cpu():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(50, 64)).astype(np.float32)
    Q = rng.normal(size=(1000, 64)).astype(np.float32)
    gpu = LabelIndex([str(i) for i in range(50)], E, device="cuda")
    cpu = LabelIndex([str(i) for i in range(50)], E, device="cpu")
    assert gpu.device_ == "cuda"
    np.testing.assert_allclose(gpu.scores(Q), cpu.scores(Q), rtol=1e-4, atol=1e-4)
    agree = (gpu.search(Q, 1)[0] == cpu.search(Q, 1)[0]).mean()
    assert agree > 0.999


# -- ZeroShotClassifier ------------------------------------------------------------------------
def test_known_answer_is_perfect(world):
    clf = ZeroShotClassifier(world["translator"], world["text"], world["prompts"], device="cpu")
    y = world["labels"]
    assert (clf.predict(world["images"]) == y).all()
    assert balanced_accuracy(y, clf.predict(world["images"])) == 1.0
    proba = clf.predict_proba(world["images"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert auroc(y, proba, labels=clf.classes_) == 1.0
    assert list(clf.classes_) == list(CLASSES)


def test_scores_are_cosines_in_the_chosen_space(world):
    t, text, ps = world["translator"], world["text"], world["prompts"]
    clf = ZeroShotClassifier(t, text, ps, space="normalized", device="cpu")
    Z = _unit(t.transform(world["images"].vectors, space="normalized").astype(np.float64))
    P = t.transform_target(ps.embed(text)).astype(np.float64)
    C = np.stack([ensemble_embedding(P[[ps.texts().index(p) for p in ps.prompts[c]]])
                  for c in ps.classes])
    expected = Z @ C.T
    np.testing.assert_allclose(clf.decision_scores(world["images"]), expected, atol=1e-5)
    logits = expected / 0.05
    soft = np.exp(logits - logits.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    proba = ZeroShotClassifier(t, text, ps, temperature=0.05, space="normalized",
                               device="cpu").predict_proba(world["images"])
    np.testing.assert_allclose(proba, soft, atol=1e-5)
    # raw space: translated into the text encoder's own space, prompts not preprocessed
    raw = ZeroShotClassifier(t, text, ps, space="raw", device="cpu")
    Zr = _unit(t.transform(world["images"].vectors).astype(np.float64))
    Cr = ps.class_embeddings(text).astype(np.float64)
    np.testing.assert_allclose(raw.decision_scores(world["images"]), Zr @ Cr.T, atol=1e-5)
    # centred space: both sides minus the target anchors' mean, whatever the target normaliser
    centred = ZeroShotClassifier(t, text, ps, space="centered", device="cpu")
    Zc = _unit(t.transform(world["images"].vectors).astype(np.float64) - t.target_mean_)
    Pc = ps.embed(text).astype(np.float64) - t.target_mean_
    Cc = ps.class_embeddings(Pc).astype(np.float64)
    np.testing.assert_allclose(centred.decision_scores(world["images"]), Zc @ Cc.T, atol=1e-5)
    with pytest.warns(DeprecationWarning, match="space='normalized'"):
        old = ZeroShotClassifier(t, text, ps, space="target", device="cpu")
    assert old.space == "normalized"
    np.testing.assert_array_equal(old.decision_scores(world["images"]),
                                  clf.decision_scores(world["images"]))
    with pytest.raises(InvalidInputError, match="space must be one of"):
        ZeroShotClassifier(t, text, ps, space="preprocessed", device="cpu")
    # the default is the translator's comparison space: centred, whatever its target normaliser
    default = ZeroShotClassifier(t, text, ps, device="cpu")
    assert default.space == t.comparison_space == "centered"
    np.testing.assert_array_equal(default.decision_scores(world["images"]),
                                  centred.decision_scores(world["images"]))


def test_streams_in_batches_with_identical_results(world, monkeypatch):
    t = world["translator"]
    whole = ZeroShotClassifier(t, world["text"], world["prompts"], device="cpu")
    small = ZeroShotClassifier(t, world["text"], world["prompts"], batch_size=7, device="cpu")
    sizes: list[int] = []
    original = Translator.iter_transform

    def spy(self, *args, **kwargs):
        for chunk in original(self, *args, **kwargs):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(Translator, "iter_transform", spy)
    np.testing.assert_allclose(small.decision_scores(world["images"]),
                               whole.decision_scores(world["images"]), atol=1e-6)
    assert sorted(sizes)[-1] == 240 and sorted(sizes)[-2] == 7  # one whole pass, 7-row chunks
    sizes.clear()
    predicted = small.predict(world["images"])
    assert max(sizes) == 7 and sum(sizes) == 240
    np.testing.assert_array_equal(predicted, whole.predict(world["images"]))
    empty = small.predict_proba(np.zeros((0, 48), np.float32))
    assert empty.shape == (0, 3)
    assert small.predict(np.zeros((0, 48), np.float32)).shape == (0,)


def test_precomputed_prompt_and_class_embeddings(world):
    t, text, ps = world["translator"], world["text"], world["prompts"]
    reference = ZeroShotClassifier(t, text, ps, device="cpu").decision_scores(world["images"])
    prompt_emb = text.encode(list(ps.texts()), ids=list(ps.texts()), progress=False)
    via_prompts = ZeroShotClassifier(t, prompt_emb, ps, device="cpu")
    np.testing.assert_allclose(via_prompts.decision_scores(world["images"]), reference,
                               atol=1e-6)
    # one precomputed vector per class: ids are the class names
    one_each = Embeddings(prompt_emb.vectors[[ps.texts().index(ps.prompts[c][0])
                                              for c in ps.classes]], ps.classes,
                          text.fingerprint)
    per_class = ZeroShotClassifier(t, one_each, space="normalized", device="cpu")
    assert list(per_class.classes_) == list(ps.classes)
    Z = _unit(t.transform(world["images"].vectors, space="normalized").astype(np.float64))
    C = _unit(t.transform_target(one_each.vectors).astype(np.float64))
    np.testing.assert_allclose(per_class.decision_scores(world["images"]), Z @ C.T, atol=1e-5)
    with pytest.raises(InvalidInputError, match="prompts are required"):
        ZeroShotClassifier(t, text)


def test_rebuilds_class_embeddings_when_the_translator_is_refitted(world):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 48)).astype(np.float32)
    Y = rng.normal(size=(100, 32)).astype(np.float32)
    t = Translator(LstsqSolver()).fit(X, Y)
    clf = ZeroShotClassifier(t, world["text"], world["prompts"], device="cpu")
    before = clf.decision_scores(X[:5])
    t.fit(X, Y + 3.0)  # moves the target normaliser (mean)
    fresh = ZeroShotClassifier(t, world["text"], world["prompts"], device="cpu")
    np.testing.assert_allclose(clf.decision_scores(X[:5]), fresh.decision_scores(X[:5]))
    assert not np.allclose(before, fresh.decision_scores(X[:5]))


def _multilabel_classifier() -> tuple[ZeroShotClassifier, PromptSet, HashedBowEncoder]:
    text = HashedBowEncoder(24)
    ps = PromptSet.from_templates(["edema", "effusion", "pneumothorax"], "{} is present",
                                  negative_templates="no {}")
    emb = ps.embed(text)
    t = Translator("identity", source_norm="none",
                   target_norm="none").fit(emb, emb)
    return ZeroShotClassifier(t, text, ps, space="raw", device="cpu"), ps, text


def test_multilabel_known_answer():
    clf, ps, text = _multilabel_classifier()
    pos = text.encode([ps.prompts[f][0] for f in ps.classes], progress=False).vectors
    neg = text.encode([ps.negatives[f][0] for f in ps.classes], progress=False).vectors
    p_pos, p_neg = clf.predict_proba(pos), clf.predict_proba(neg)
    assert (np.diag(p_pos) > 0.5).all() and (np.diag(p_neg) < 0.5).all()
    np.testing.assert_array_equal(np.diag(clf.predict(pos)), 1)
    np.testing.assert_array_equal(np.diag(clf.predict(neg)), 0)
    # the probability is the softmax over (positive, negative) similarities
    Z = _unit(pos.astype(np.float64))
    P = ps.class_embeddings(text).astype(np.float64)
    N = ps.class_embeddings(text, negative=True).astype(np.float64)
    sp, sn = (Z @ P.T) / clf.temperature, (Z @ N.T) / clf.temperature
    np.testing.assert_allclose(p_pos, np.exp(sp) / (np.exp(sp) + np.exp(sn)), atol=1e-5)
    assert clf.negative_index is not None and clf.negative_index.prompts == ps.negatives


@settings(max_examples=40, deadline=None)
@given(X=hnp.arrays(np.float32, st.tuples(st.integers(0, 8), st.just(24)),
                    elements=st.floats(-1e3, 1e3, width=32)),
       temperature=st.floats(1e-4, 10.0))
def test_multilabel_probabilities_lie_in_unit_interval(X, temperature):
    clf, _, _ = _multilabel_classifier()
    clf.temperature = temperature
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()


# -- errors ------------------------------------------------------------------------------------
def test_unfitted_translator_is_refused(world):
    with pytest.raises(NotFittedError, match="not fitted"):
        ZeroShotClassifier(Translator(LstsqSolver()), world["text"], world["prompts"])


def test_dimension_mismatch_is_refused(world):
    rng = np.random.default_rng(0)
    t = Translator(LstsqSolver()).fit(rng.normal(size=(50, 8)), rng.normal(size=(50, 32)))
    with pytest.raises(DimensionMismatchError, match="32-d target vectors but the prompt"):
        ZeroShotClassifier(t, HashedBowEncoder(16), world["prompts"])
    pre = Embeddings(np.ones((3, 16), np.float32), list(CLASSES))
    with pytest.raises(DimensionMismatchError):
        ZeroShotClassifier(t, pre)


def test_wrong_text_encoder_is_refused(world):
    with pytest.raises(EncoderMismatchError, match="target encoder"):
        ZeroShotClassifier(world["translator"], HashedBowEncoder(32, salt="other"),
                           world["prompts"])


def test_images_from_another_encoder_are_refused(world):
    clf = ZeroShotClassifier(world["translator"], world["text"], world["prompts"], device="cpu")
    other = Embeddings(world["images"].vectors, world["images"].ids,
                       Fingerprint("other-image", "linear", "none", 48))
    with pytest.raises(EncoderMismatchError):
        clf.predict(other)
    with pytest.raises(DimensionMismatchError):
        clf.predict(np.ones((2, 40), np.float32))


@pytest.mark.parametrize("kwargs, match", [
    ({"space": "text"}, "space"),
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"batch_size": 0}, "batch_size"),
    ({"device": "tpu"}, "device"),
])
def test_bad_options_are_refused(world, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        ZeroShotClassifier(world["translator"], world["text"], world["prompts"], **kwargs)


def test_bad_text_source_is_refused(world):
    class ImageEncoder(HashedBowEncoder):
        modality = "image"

    with pytest.raises(InvalidInputError, match="text encoder"):
        ZeroShotClassifier(world["translator"], ImageEncoder(32), world["prompts"])
    with pytest.raises(InvalidInputError, match="text_encoder must be"):
        ZeroShotClassifier(world["translator"], np.ones((3, 32)), world["prompts"])


def test_importing_the_core_modules_loads_neither_torch_nor_faiss_nor_sklearn():
    code = ("import sys, semalign_core.zeroshot.classifier, semalign_core.zeroshot.stitching, "
            "semalign_core.evaluation.metrics; "
            "print(sorted(m for m in ('torch', 'faiss', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# -- opt-in transductive calibration (calibration="gmm") ---------------------------------------
def _bimodal(rng: np.random.Generator, n_low: int, n_high: int, low: float = -1.0,
             high: float = 3.0, sd_low: float = 0.3, sd_high: float = 0.3) -> np.ndarray:
    return np.concatenate([rng.normal(low, sd_low, n_low), rng.normal(high, sd_high, n_high)])


def test_gmm_threshold_lands_in_the_valley_between_two_modes():
    rng = np.random.default_rng(1)
    cal = zs.gmm_threshold(_bimodal(rng, 300, 300))
    # equal weights and spreads: equal posteriors at the midpoint of the means
    assert cal.between_means
    assert cal.means[0] == pytest.approx(-1.0, abs=0.06)
    assert cal.means[1] == pytest.approx(3.0, abs=0.06)
    assert cal.threshold == pytest.approx(1.0, abs=0.1)
    assert cal.weights[0] == pytest.approx(0.5, abs=0.03)
    assert cal.n_items == 600 and cal.method == "gmm"


def test_gmm_threshold_matches_the_closed_form_tie_of_the_fitted_components():
    rng = np.random.default_rng(2)
    cal = zs.gmm_threshold(_bimodal(rng, 500, 150, low=0.0, high=2.0, sd_low=0.25,
                                    sd_high=0.5))
    t, (m0, m1), (s0, s1), (w0, w1) = cal.threshold, cal.means, cal.stds, cal.weights

    def weighted_density(x, m, s, w):
        return w * np.exp(-(x - m) ** 2 / (2 * s * s)) / s

    # the two weighted densities are equal at the threshold, which lies between the means
    assert m0 < t < m1
    assert weighted_density(t, m0, s0, w0) == pytest.approx(weighted_density(t, m1, s1, w1),
                                                            rel=1e-6)
    # the wider high component reaches further down: the cut moves toward the narrow one
    assert t < (m0 + m1) / 2
    # equal spreads, the low class three times as frequent: the cut moves above the midpoint
    heavy = zs.gmm_threshold(_bimodal(np.random.default_rng(2), 450, 150, low=0.0, high=2.0,
                                      sd_low=0.4, sd_high=0.4))
    assert heavy.threshold > sum(heavy.means) / 2 + 0.05


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16))
def test_gmm_threshold_is_equivariant_to_affine_rescaling(scale, shift, seed):
    s = _bimodal(np.random.default_rng(seed), 80, 60)
    base = zs.gmm_threshold(s).threshold
    moved = zs.gmm_threshold(scale * s + shift).threshold
    assert moved == pytest.approx(scale * base + shift, rel=1e-5, abs=1e-6 * scale)


def test_gmm_threshold_is_deterministic_and_refuses_bad_input():
    s = _bimodal(np.random.default_rng(3), 60, 60)
    assert zs.gmm_threshold(s, random_state=7) == zs.gmm_threshold(s, random_state=7)
    with pytest.raises(InvalidInputError, match="at least 20"):
        zs.gmm_threshold(s[:19])
    with pytest.raises(InvalidInputError, match="1-D"):
        zs.gmm_threshold(s.reshape(-1, 2))
    with pytest.raises(InvalidInputError, match="NaN"):
        zs.gmm_threshold(np.r_[s, np.nan])
    with pytest.raises(InvalidInputError, match="equal"):
        zs.gmm_threshold(np.full(50, 0.3))
    with pytest.raises(InvalidInputError, match="random_state"):
        zs.gmm_threshold(s, random_state=0.5)


@pytest.fixture(scope="module")
def shifted() -> dict:
    """Two classes in a 2-d text space; the deployment images are shifted toward 'pneumonia',
    so argmax misclassifies many normal images while the ranking stays perfect."""
    fp = Fingerprint("test-text", "toy", "none", 2)
    classes = Embeddings(np.eye(2, dtype=np.float32), ["normal", "pneumonia"], fp)
    t = Translator("identity", source_norm="none",
                   target_norm="none").fit(np.eye(2), np.eye(2))
    rng = np.random.default_rng(4)
    # angle in the first quadrant: score difference sin - cos > 0 means 'pneumonia';
    # normal images cluster at 52 degrees (past the 45-degree argmax boundary), pneumonia at 80
    angles = np.r_[rng.normal(52, 2.0, 150), rng.normal(80, 2.0, 150)]
    X = np.column_stack([np.cos(np.radians(angles)), np.sin(np.radians(angles))])
    y = np.array(["normal"] * 150 + ["pneumonia"] * 150)
    return {"translator": t, "classes": classes, "X": X.astype(np.float32), "y": y}


def test_gmm_calibration_fixes_a_shifted_threshold(shifted):
    t, C, X, y = shifted["translator"], shifted["classes"], shifted["X"], shifted["y"]
    plain = ZeroShotClassifier(t, C, device="cpu")
    assert plain.threshold_ == 0.0
    assert balanced_accuracy(y, plain.predict(X)) < 0.6  # nearly every image says pneumonia
    clf = ZeroShotClassifier(t, C, device="cpu", calibration="gmm")
    assert clf.fit_calibration(X) is clf  # no labels passed: transductive
    assert 0.0 < clf.threshold_ == clf.calibration_.threshold
    assert balanced_accuracy(y, clf.predict(X)) == 1.0
    # the threshold is kept: other batches from the same deployment use it unchanged
    np.testing.assert_array_equal(clf.predict(X[::7]), clf.predict(X)[::7])
    # ranking unchanged; predict_proba and decision_function agree with predict
    S = clf.decision_scores(X)
    np.testing.assert_allclose(clf.decision_function(X), S[:, 1] - S[:, 0] - clf.threshold_,
                               atol=1e-6)
    assert auroc(y, clf.decision_function(X)) == auroc(y, plain.decision_function(X)) == 1.0
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[(proba[:, 1] >= 0.5).astype(int)],
                                  clf.predict(X))
    assert "calibration='gmm'" in repr(clf)


def test_gmm_calibration_equals_gmm_threshold_on_the_score_difference(shifted):
    t, C, X = shifted["translator"], shifted["classes"], shifted["X"]
    clf = ZeroShotClassifier(t, C, device="cpu", calibration="gmm", random_state=3,
                             batch_size=16).fit_calibration(X)
    S = clf.decision_scores(X).astype(np.float64)
    assert clf.calibration_ == zs.gmm_threshold(S[:, 1] - S[:, 0], random_state=3)
    again = ZeroShotClassifier(t, C, device="cpu", calibration="gmm",
                               random_state=3).fit_calibration(X)
    assert again.threshold_ == clf.threshold_  # deterministic (chunking does not matter)


def test_gmm_calibration_error_paths(shifted, world):
    t, C, X = shifted["translator"], shifted["classes"], shifted["X"]
    clf = ZeroShotClassifier(t, C, device="cpu", calibration="gmm")
    for call in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(NotFittedError, match="fit_calibration"):
            call(X)
    with pytest.raises(NotFittedError):
        _ = clf.threshold_
    with pytest.raises(InvalidInputError, match="at least 20"):
        clf.fit_calibration(X[:10])
    with pytest.raises(InvalidInputError, match="calibration='none'"):
        ZeroShotClassifier(t, C, device="cpu").fit_calibration(X)
    with pytest.raises(InvalidInputError, match="calibration must be one of"):
        ZeroShotClassifier(t, C, device="cpu", calibration="platt")
    with pytest.raises(InvalidInputError, match="random_state"):
        ZeroShotClassifier(t, C, device="cpu", calibration="gmm", random_state="0")
    # three classes: one threshold cannot cut them, so it is refused up front
    with pytest.raises(InvalidInputError, match="exactly two classes"):
        ZeroShotClassifier(world["translator"], world["text"], world["prompts"],
                           calibration="gmm")
    multi, _, _ = _multilabel_classifier()
    with pytest.raises(InvalidInputError, match="multi-label"):
        ZeroShotClassifier(multi.translator, multi.text_encoder, multi.prompt_set,
                           calibration="gmm")
    with pytest.raises(InvalidInputError, match="two classes"):
        _ = ZeroShotClassifier(world["translator"], world["text"], world["prompts"]).threshold_


def test_refitting_the_translator_invalidates_the_calibration(shifted):
    C, X = shifted["classes"], shifted["X"]
    t = Translator("identity", source_norm="none",
                   target_norm="none").fit(np.eye(2), np.eye(2))
    clf = ZeroShotClassifier(t, C, device="cpu", calibration="gmm").fit_calibration(X)
    clf.predict(X)
    t.fit(np.eye(2), np.eye(2))
    with pytest.raises(NotFittedError, match="refitted"):
        clf.predict(X)
    clf.fit_calibration(X)
    assert clf.predict(X).shape == (len(X),)


# -- the folded (d_x x K) form -----------------------------------------------------------------
class LinearLstsq(LstsqSolver):
    name = "test-lstsq-linear"

    def linear_map(self):  # type: ignore[no-untyped-def]
        return self.coef_[:-1], self.coef_[-1]


@pytest.mark.parametrize("n_classes", [2, 3, 14])
@pytest.mark.parametrize("src,tgt,space", [("standard", "standard", "normalized"),
                                           ("center", "center+l2", "normalized"),
                                           ("standard", "standard+l2", "normalized"),
                                           ("none", "standard", "raw"),
                                           ("standard", "standard", "centered"),
                                           ("l2", "standard", "normalized")])
def test_folded_predictions_equal_the_general_path(n_classes, src, tgt, space):
    rng = np.random.default_rng(n_classes)
    C = rng.normal(size=(n_classes, 20))
    y = rng.integers(0, n_classes, size=800)
    Y = C[y] + 0.6 * rng.normal(size=(800, 20)) + 2.0
    X = (Y @ rng.normal(size=(20, 30)) + 0.3 * rng.normal(size=(800, 30))).astype(np.float32)
    names = [f"c{i}" for i in range(n_classes)]
    t = Translator(LinearLstsq(), source_norm=src, target_norm=tgt).fit(
        X[:400], Y[:400].astype(np.float32))
    clf = ZeroShotClassifier(t, Embeddings(C.astype(np.float32) + 2.0, names), device="cpu",
                             space=space)
    general = clf.classes_[clf.decision_scores(X[400:]).argmax(axis=1)]  # translate + cosines
    assert (clf._folded is None) == (src == "l2")  # an l2 source step is not one affine map
    np.testing.assert_array_equal(clf.predict(X[400:]), general)
    assert len(set(general)) > 1
    np.testing.assert_array_equal(clf.predict(X[400:401]), general[:1])
    assert clf.predict(X[:0]).shape == (0,)


def test_folded_multilabel_predictions_equal_the_general_path():
    text = HashedBowEncoder(24)
    ps = PromptSet.from_templates(["edema", "effusion", "pneumothorax"], "{} is present",
                                  negative_templates="no {}")
    emb = ps.embed(text)
    rng = np.random.default_rng(1)
    X = (emb[rng.integers(0, len(emb), 300)] + 0.5 * rng.normal(size=(300, 24))).astype(
        np.float32)
    t = Translator(LinearLstsq()).fit(X, X @ rng.normal(size=(24, 24)).astype(np.float32))
    clf = ZeroShotClassifier(t, text, ps, device="cpu")
    general = (clf.predict_proba(X) >= 0.5).astype(np.int64)
    assert clf._folded is not None
    np.testing.assert_array_equal(clf.predict(X), general)
    assert 0 < general.mean() < 1


def test_folded_predict_refuses_bad_images_like_the_general_path():
    rng = np.random.default_rng(2)
    C = rng.normal(size=(2, 8)).astype(np.float32)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    t = Translator(LinearLstsq()).fit(X, X @ rng.normal(size=(6, 8)).astype(np.float32))
    clf = ZeroShotClassifier(t, Embeddings(C, ["a", "b"]), device="cpu")
    bad = X.copy()
    bad[4, 2] = np.inf
    with pytest.raises(InvalidInputError, match=r"NaN or inf \(first at index \(4, 2\)\)"):
        clf.predict(bad)
    with pytest.raises(InvalidInputError, match="floating-point"):
        clf.predict(X.astype(np.int32))
    with pytest.raises(DimensionMismatchError):
        clf.predict(X[:, :5])
