"""The :class:`~semalign_core.Encoder` contract, one named check per rule."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..encoding.encoder import MODALITIES, Encoder
from ..errors import InvalidInputError
from ._common import Check, CheckOptions

__all__ = ["ENCODER_CHECKS", "sample_items"]

SAMPLE_TEXTS = ("a frontal chest x-ray", "patchy opacity in the right lower lobe",
                "no pleural effusion or pneumothorax", "the heart size is normal")
_sample_dir: Path | None = None


def _sample_images() -> list[str]:
    """Four small seeded RGB PNGs, written once per process (needs Pillow)."""
    global _sample_dir
    if _sample_dir is None:
        try:
            from PIL import Image
        except ImportError as exc:
            raise InvalidInputError("the built-in sample images need Pillow; install it or "
                                    "pass items= (image paths your encoder reads)") from exc
        folder = Path(tempfile.mkdtemp(prefix="semalign-conformance-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        rng = np.random.default_rng(0)
        for i in range(4):
            pixels = rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"sample{i}.png")
        _sample_dir = folder
    return sorted(str(p) for p in _sample_dir.glob("sample*.png"))


def sample_items(encoder: Encoder, options: CheckOptions) -> list[Any]:
    """The items the checks encode: ``options.items`` (for this modality) or built-in samples."""
    items = options.items
    if isinstance(items, dict):
        items = items.get(encoder.modality)
    if items is None:
        items = _sample_images() if encoder.modality == "image" else list(SAMPLE_TEXTS)
    items = list(items)
    if len(items) < 3:
        raise InvalidInputError(f"the encoder checks need at least 3 sample items, got "
                                f"{len(items)}")
    return items


def _name(encoder: Encoder) -> str:
    return type(encoder).__name__


def _encode(encoder: Encoder, items: Sequence[Any], **kwargs: Any) -> Embeddings:
    return encoder.encode(items, progress=False, **kwargs)


def check_attributes(encoder: Encoder, options: CheckOptions) -> None:
    name = _name(encoder)
    assert isinstance(encoder, Encoder), f"{name} must subclass semalign_core.Encoder"
    assert encoder.modality in MODALITIES, \
        f"{name}.modality must be one of {MODALITIES}, got {encoder.modality!r}"
    assert isinstance(encoder.default_batch_size, int) and encoder.default_batch_size > 0, \
        f"{name}.default_batch_size must be a positive int"


def check_lazy_loading(encoder: Encoder, options: CheckOptions) -> None:
    name = _name(encoder)
    if options.expect_unloaded:
        assert not encoder.is_loaded, f"{name} must not load weights before first use"
    _encode(encoder, sample_items(encoder, options)[:1])
    assert encoder.is_loaded, f"{name}.encode must load the weights"


def check_fingerprint(encoder: Encoder, options: CheckOptions) -> None:
    name = _name(encoder)
    fp = encoder.fingerprint
    assert isinstance(fp, Fingerprint), f"{name}.fingerprint must be a Fingerprint"
    assert fp == encoder.fingerprint, f"{name}.fingerprint must be stable"
    assert isinstance(encoder.dim, int) and encoder.dim == fp.dim > 0, \
        f"{name}.dim ({encoder.dim}) must equal fingerprint.dim ({fp.dim}) and be positive"
    emb = _encode(encoder, sample_items(encoder, options))
    assert emb.fingerprint == fp, f"{name}.encode must stamp its fingerprint on the Embeddings"


def check_shape(encoder: Encoder, options: CheckOptions) -> None:
    items = sample_items(encoder, options)
    emb = _encode(encoder, items)
    assert isinstance(emb, Embeddings), f"{_name(encoder)}.encode must return Embeddings"
    assert emb.vectors.shape == (len(items), encoder.dim), \
        f"{_name(encoder)}.encode returned shape {emb.vectors.shape}, expected " \
        f"{(len(items), encoder.dim)}"


def check_dtype(encoder: Encoder, options: CheckOptions) -> None:
    vectors = _encode(encoder, sample_items(encoder, options)).vectors
    assert vectors.dtype == np.float32, f"{_name(encoder)} must produce float32, got " \
                                        f"{vectors.dtype}"
    assert np.isfinite(vectors).all(), f"{_name(encoder)} produced NaN or inf"


def check_deterministic(encoder: Encoder, options: CheckOptions) -> None:
    items = sample_items(encoder, options)
    np.testing.assert_allclose(_encode(encoder, items).vectors, _encode(encoder, items).vectors,
                               atol=options.atol,
                               err_msg=f"{_name(encoder)} must be deterministic")


def check_batch_size_invariance(encoder: Encoder, options: CheckOptions) -> None:
    items = sample_items(encoder, options)
    np.testing.assert_allclose(
        _encode(encoder, items, batch_size=1).vectors, _encode(encoder, items).vectors,
        atol=options.atol, err_msg=f"{_name(encoder)} output must not depend on the batch size")


def check_order(encoder: Encoder, options: CheckOptions) -> None:
    items = sample_items(encoder, options)
    # The same batch size both ways: batch-size dependence is check_batch_size_invariance's.
    reversed_out = _encode(encoder, items[::-1]).vectors
    np.testing.assert_allclose(reversed_out[::-1], _encode(encoder, items).vectors,
                               atol=options.atol,
                               err_msg=f"{_name(encoder)} must keep the input order")


def check_empty_input(encoder: Encoder, options: CheckOptions) -> None:
    empty = _encode(encoder, [])
    assert empty.vectors.shape == (0, encoder.dim), \
        f"{_name(encoder)} must encode an empty list to shape (0, {encoder.dim}), got " \
        f"{empty.vectors.shape}"


def check_save_load(encoder: Encoder, options: CheckOptions) -> None:
    emb = _encode(encoder, sample_items(encoder, options))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "embeddings.safetensors"
        try:
            emb.save(path)
        except Exception as exc:
            raise AssertionError(f"{_name(encoder)}'s embeddings cannot be saved (is every "
                                 f"fingerprint field JSON-serialisable?): {exc}") from exc
        loaded = Embeddings.load(path)
    assert loaded.fingerprint == emb.fingerprint, \
        f"{_name(encoder)}'s fingerprint must survive a save/load round trip"
    np.testing.assert_array_equal(loaded.vectors, emb.vectors)
    assert list(loaded.ids) == list(emb.ids)


#: In order: ``check_encoder`` runs them on one encoder, so the lazy-loading check comes first.
ENCODER_CHECKS = tuple(Check(name, function) for name, function in [
    ("attributes", check_attributes),
    ("lazy_loading", check_lazy_loading),
    ("fingerprint", check_fingerprint),
    ("shape", check_shape),
    ("dtype", check_dtype),
    ("deterministic", check_deterministic),
    ("batch_size_invariance", check_batch_size_invariance),
    ("order", check_order),
    ("empty_input", check_empty_input),
    ("save_load", check_save_load),
])
