"""Issue 11, item 2: the compute dtype (autocast) is part of the fingerprint, hence of the cache
key and of the translator's encoder check."""

from __future__ import annotations

import numpy as np
import pytest

from semalign_core import EncoderMismatchError, Fingerprint, InvalidInputError, Translator
from semalign_core.encoding import TorchImageEncoder
from semalign_core.encoding.cache import encode_cached

torch = pytest.importorskip("torch")


class _Transform:
    """Picklable PIL image -> 3x16x16 tensor."""

    def __call__(self, image):
        array = np.asarray(image.convert("RGB").resize((16, 16)), np.float32) / 255.0
        return torch.from_numpy(array.transpose(2, 0, 1).copy())


class TinyConvEncoder(TorchImageEncoder):
    """A seeded random 2-layer conv net: cheap, deterministic, sensitive to precision."""

    name = "test-tiny-conv"

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "tiny-conv", "random-init:seed=0", 8)

    def _build(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3),
                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        return model, _Transform()


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _encoder(autocast):
    return TinyConvEncoder(device="cpu", autocast=autocast, progress=False)


def test_the_fingerprint_records_the_compute_dtype():
    assert _encoder(False).fingerprint.precision == "float32"
    assert _encoder("auto").fingerprint.precision == "float32"  # autocast is CUDA-only by default
    assert _encoder("bfloat16").fingerprint.precision == "bfloat16"
    assert _encoder(True).fingerprint.precision == "bfloat16"
    assert _encoder(False).fingerprint.id != _encoder("bfloat16").fingerprint.id
    assert "bfloat16" in _encoder("bfloat16").fingerprint.describe()
    loaded = _encoder("bfloat16").load()
    assert loaded.fingerprint.precision == "bfloat16" == loaded.precision


def test_bf16_vectors_are_not_served_to_a_float32_request(tmp_path, images):
    bf16 = encode_cached(_encoder("bfloat16"), images, tmp_path / "cache")
    exact = _encoder(False)
    served = encode_cached(exact, images, tmp_path / "cache")
    assert served.metadata["cache"]["hits"] == 0 and served.metadata["cache"]["misses"] == 6
    np.testing.assert_array_equal(served.vectors, exact.encode(images).vectors)
    assert not np.array_equal(served.vectors, bf16.vectors)  # they do differ
    assert served.fingerprint.precision == "float32" and bf16.fingerprint.precision == "bfloat16"


def test_a_translator_refuses_vectors_of_another_precision(images):
    from semalign_core import Embeddings

    bf16 = _encoder("bfloat16").encode(images)
    exact = _encoder(False).encode(images)
    translator = Translator("identity", source_norm="none",
                            target_norm="none")
    translator.fit(bf16, Embeddings(bf16.vectors, bf16.ids))
    translator.transform(bf16)
    with pytest.raises(EncoderMismatchError, match="float32"):
        translator.transform(exact)


def test_fingerprints_validate_precision_and_read_old_dicts_as_float32():
    with pytest.raises(InvalidInputError, match="precision"):
        Fingerprint("e", "a", "w", 3, precision="int8")
    old = {"encoder": "e", "architecture": "a", "weights": "w", "dim": 3}
    assert Fingerprint.from_dict(old).precision == "float32"
