"""Every registered solver and anchor selector, whichever plugin provides it: conformance, and
every solver with every selector end to end (select -> fit -> translate held-out items); and
every registered image encoder with every text encoder, built with tiny random weights
(tiny_encoders.py), through select -> fit -> zero-shot."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from tiny_encoders import tiny_options

from semalign_core import (
    DimensionMismatchError,
    Translator,
    ZeroShotClassifier,
    get_anchor_selector,
    get_encoder,
    get_solver,
    list_anchor_selectors,
    list_solvers,
)
from semalign_core.plugins.manager import registry_entries
from semalign_core.testing import check_anchor_selector, check_solver

# Runs in the torch env, where every plugin is installed; the core env has none.
pytest.importorskip("semalign_solvers")
pytest.importorskip("semalign_anchors")

SOLVERS = list_solvers()
SELECTORS = list_anchor_selectors()


def _accepts_unequal_dims(name: str) -> bool:
    """Some solvers (identity, shifts) only map a space onto one of the same dimension."""
    rng = np.random.default_rng(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            get_solver(name).fit(rng.normal(size=(20, 6)), rng.normal(size=(20, 4)))
    except DimensionMismatchError:
        return False
    return True


def test_the_reference_components_are_registered():
    # The solver and anchor plugins are installed in every environment that runs these tests.
    assert {"affine", "linear", "orthogonal", "lstsq-ortho"} <= set(SOLVERS)
    assert {"random", "kmeans", "stratified", "fps"} <= set(SELECTORS)


@pytest.mark.parametrize("name", SOLVERS)
def test_solver_conformance(name):
    check_solver(get_solver(name), dims=(6, 6))
    if _accepts_unequal_dims(name):
        check_solver(get_solver(name), dims=(6, 4))
        check_solver(get_solver(name), dims=(3, 5), seed=1)


@pytest.mark.parametrize("name", SELECTORS)
def test_selector_conformance(name):
    check_anchor_selector(get_anchor_selector(name))


def _paired_spaces(seed: int = 0):
    """Two spaces related by a noisy rotation (same dim, so every solver applies), with an
    offset and per-dimension scales the preprocessing has to handle, and two classes."""
    rng = np.random.default_rng(seed)
    d, n = 12, 400
    labels = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, d)) + 1.5 * labels[:, None]
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = (X @ Q) * rng.uniform(0.5, 2.0, size=d) + 4.0 + 0.05 * rng.normal(size=(n, d))
    return X.astype(np.float32), Y.astype(np.float32), labels


@pytest.mark.parametrize("selector", SELECTORS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_with_every_selector(solver, selector):
    X, Y, labels = _paired_spaces()
    pool, held_out = np.arange(300), np.arange(300, 400)
    idx = get_anchor_selector(selector, seed=0).select(X[pool], 60, labels=labels[pool])
    anchors = pool[idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unregularised fit may warn; that is tested elsewhere
        t = Translator(solver).fit(X[anchors], Y[anchors])
    pred = t.transform(X[held_out])
    assert pred.shape == (100, 12) and pred.dtype == np.float32 and np.isfinite(pred).all()
    # Sane: better than predicting the anchors' target mean (the no-information baseline). The
    # default ridge of affine/linear is tuned for hundreds of dimensions and noisy pairs and
    # shrinks this small clean problem hard, so they must also be accurate with a small alpha.
    # Identity-style controls only need finite output.
    err = np.mean((pred - Y[held_out]) ** 2)
    baseline = np.mean((Y[anchors].mean(axis=0) - Y[held_out]) ** 2)
    if solver in ("affine", "linear", "orthogonal", "lstsq-ortho"):
        assert err < baseline, (solver, selector, err, baseline)
    if solver == "orthogonal":  # no shrinkage: the best orthogonal map is close to the truth
        assert err < 0.1 * baseline, (solver, selector, err, baseline)
    if solver in ("affine", "linear"):
        light = Translator(solver, solver_params={"alpha": 1.0}).fit(X[anchors], Y[anchors])
        assert np.mean((light.transform(X[held_out]) - Y[held_out]) ** 2) < 0.1 * baseline
    # And repeatable end to end.
    again = Translator(solver).fit(
        X[pool[get_anchor_selector(selector, seed=0).select(X[pool], 60, labels=labels[pool])]],
        Y[anchors])
    np.testing.assert_array_equal(again.transform(X[held_out]), pred)


# -- encoders: every image encoder x every text encoder, tiny random weights ----------------------
_ENTRIES = {entry.name: entry for entry in registry_entries("encoder").values()}
IMAGE_ENCODERS = sorted(name for name, e in _ENTRIES.items() if e.modality == "image")
TEXT_ENCODERS = sorted(name for name, e in _ENTRIES.items() if e.modality == "text")
CLASSES = ("dark", "bright")
_CAPTIONS = {"dark": ["a dark image", "the photo is dark", "a dark chest x-ray"],
             "bright": ["a bright image", "the photo is bright", "a bright chest x-ray"]}
PROMPTS = {"dark": ["a dark image", "a photo of a dark image"],
           "bright": ["a bright image", "a photo of a bright image"]}
N_ITEMS, N_POOL, N_ANCHORS = 24, 16, 8
_encoded: dict[str, Any] = {}


@pytest.fixture(scope="module")
def cross_items(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """24 items of two classes, alternating: a dark or bright PNG and a caption of its class."""
    pytest.importorskip("PIL")
    from PIL import Image

    root = tmp_path_factory.mktemp("cross-encoders")
    rng = np.random.default_rng(0)
    labels = np.array([CLASSES[i % 2] for i in range(N_ITEMS)])
    images, texts = [], []
    for i, label in enumerate(labels):
        low = 0 if label == "dark" else 155
        path = root / f"item{i:02d}.png"
        Image.fromarray(rng.integers(low, low + 100, (36, 36, 3), dtype=np.uint8)).save(path)
        images.append(str(path))
        texts.append(_CAPTIONS[label][i % 3])
    return {"images": images, "texts": texts, "labels": labels, "workdir": root / "models",
            "ids": [f"item{i:02d}" for i in range(N_ITEMS)]}


def _encoded_with_tiny_weights(name: str, cross_items: dict[str, Any]) -> tuple[Any, Any]:
    """The tiny random encoder registered as ``name`` and its embeddings of the items (once)."""
    if name not in _encoded:
        entry = _ENTRIES[name]
        cross_items["workdir"].mkdir(exist_ok=True)
        try:
            options = tiny_options(entry, cross_items["workdir"])
        except ImportError as exc:  # the plugin's own dependencies are not installed here
            _encoded[name] = f"{entry.plugin} needs {exc.name}"
        else:
            if options is None:
                _encoded[name] = f"no tiny-weights recipe for {entry.plugin} in tiny_encoders.py"
            else:
                encoder = get_encoder(name, **options)
                items = cross_items["images" if entry.modality == "image" else "texts"]
                _encoded[name] = (encoder, encoder.encode(items, ids=cross_items["ids"],
                                                          progress=False))
    if isinstance(_encoded[name], str):
        pytest.skip(_encoded[name])
    return _encoded[name]


def test_the_encoder_families_are_registered():
    if "semalign-torchvision" not in {e.plugin for e in _ENTRIES.values()}:
        pytest.skip("the encoder plugins are not installed in this environment")
    assert {"torchvision-squeezenet1-1", "clip-vit-b-32", "dinov2-vits14",
            "biovil-resnet50"} <= set(IMAGE_ENCODERS)
    assert {"clip-vit-b-32-text", "st-all-minilm-l6-v2-text", "biovil-cxr-bert-text"} <= set(
        TEXT_ENCODERS)


@pytest.mark.torch
@pytest.mark.parametrize("text_name", TEXT_ENCODERS)
@pytest.mark.parametrize("image_name", IMAGE_ENCODERS)
def test_every_image_encoder_with_every_text_encoder(image_name, text_name, cross_items):
    _, images = _encoded_with_tiny_weights(image_name, cross_items)
    text_encoder, texts = _encoded_with_tiny_weights(text_name, cross_items)
    labels = cross_items["labels"]
    pool, test = np.arange(N_POOL), np.arange(N_POOL, N_ITEMS)
    anchors = pool[get_anchor_selector("stratified", seed=0).select(
        images.vectors[pool], N_ANCHORS, labels=labels[pool])]

    def zero_shot() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        translator = Translator("affine").fit(images.subset(anchors), texts.subset(anchors))
        clf = ZeroShotClassifier(translator, text_encoder, PROMPTS)
        test_images = images.subset(test)
        return clf.predict_proba(test_images), clf.predict(test_images), clf.classes_

    proba, predicted, classes = zero_shot()
    assert sorted(classes) == sorted(CLASSES)
    assert proba.shape == (len(test), len(CLASSES)) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # Tiny random text towers can embed every prompt alike: an image then translates onto the
    # anchors' mean, its centred cosines are all zero and the classes tie (nothing to agree on).
    top2 = np.sort(proba, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 1e-9
    np.testing.assert_array_equal(predicted[decided], classes[proba.argmax(axis=1)][decided])
    again_proba, again_predicted, _ = zero_shot()  # select -> fit -> zero-shot is repeatable
    np.testing.assert_array_equal(again_proba, proba)
    np.testing.assert_array_equal(again_predicted, predicted)
