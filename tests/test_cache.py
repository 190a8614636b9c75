"""The content-addressed embedding cache: hit, miss, resume, corruption."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HashTextEncoder

from semalign_core import Fingerprint, InvalidInputError
from semalign_core.encoding.cache import (
    CorruptShardWarning,
    EmbeddingCache,
    content_key,
    encode_cached,
)


class CountingEncoder(HashTextEncoder):
    """Counts the items it encodes; can fail after a number of batches (an interruption)."""

    def __init__(self, dim: int = 8, fail_after: int | None = None) -> None:
        super().__init__(dim)
        self.encoded = 0
        self.batches = 0
        self.fail_after = fail_after

    def encode_batch(self, items):
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.batches += 1
        self.encoded += len(items)
        return super().encode_batch(items)


TEXTS = [f"report number {i} with words {i % 7}" for i in range(23)]


def test_miss_then_hit(tmp_path):
    enc = CountingEncoder()
    first = encode_cached(enc, TEXTS, tmp_path, shard_size=10)
    assert enc.encoded == 23 and first.metadata["cache"]["misses"] == 23
    assert first.metadata["cache"]["shards_written"] == 3
    np.testing.assert_array_equal(first.vectors, enc.encode(TEXTS, progress=False).vectors)
    warm = CountingEncoder()
    second = encode_cached(warm, TEXTS, tmp_path)
    assert warm.encoded == 0 and warm.loads == 0  # a warm cache never loads the encoder
    assert second.metadata["cache"] == {"hits": 23, "misses": 0, "shards_written": 0,
                                        "corrupt_shards": []}
    np.testing.assert_array_equal(second.vectors, first.vectors)
    assert second.fingerprint == enc.fingerprint


def test_content_addressed_not_id_addressed(tmp_path):
    encode_cached(CountingEncoder(), TEXTS[:5], tmp_path, ids=list("abcde"))
    enc = CountingEncoder()
    out = encode_cached(enc, [TEXTS[0], TEXTS[0], "new text"], tmp_path, ids=["x", "y", "z"])
    assert enc.encoded == 1  # duplicates and known contents are not encoded again
    assert out.ids == ("x", "y", "z")
    np.testing.assert_array_equal(out.vectors[0], out.vectors[1])


def test_other_encoder_configuration_misses(tmp_path):
    encode_cached(CountingEncoder(dim=8), TEXTS, tmp_path)
    other = CountingEncoder(dim=16)
    encode_cached(other, TEXTS, tmp_path)
    assert other.encoded == len(TEXTS)


def test_interrupted_run_resumes(tmp_path):
    enc = CountingEncoder(fail_after=2)  # batch size 4 -> shard_size 4 gives one batch a shard
    with pytest.raises(KeyboardInterrupt):
        encode_cached(enc, TEXTS, tmp_path, shard_size=4)
    assert enc.encoded == 8
    resumed = CountingEncoder()
    out = encode_cached(resumed, TEXTS, tmp_path, shard_size=4)
    assert resumed.encoded == 23 - 8
    np.testing.assert_array_equal(out.vectors, CountingEncoder().encode(TEXTS,
                                                                        progress=False).vectors)


def _shards(tmp_path):
    return sorted(tmp_path.glob("*/shard-*.safetensors"))


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_shard_is_recomputed_not_used(tmp_path, damage):
    expected = encode_cached(CountingEncoder(), TEXTS, tmp_path, shard_size=10).vectors
    shard = _shards(tmp_path)[0]
    data = bytearray(shard.read_bytes())
    if damage == "flip":
        data[-5] ^= 0xFF  # inside the last vector's float bytes
    else:
        data = data[: len(data) // 2]
    shard.write_bytes(bytes(data))
    enc = CountingEncoder()
    with pytest.warns(CorruptShardWarning):
        out = encode_cached(enc, TEXTS, tmp_path, shard_size=10)
    assert 0 < enc.encoded < 23 and out.metadata["cache"]["corrupt_shards"] == [str(shard)]
    np.testing.assert_array_equal(out.vectors, expected)
    assert shard.with_suffix(".corrupt").exists()
    clean = CountingEncoder()
    encode_cached(clean, TEXTS, tmp_path)
    assert clean.encoded == 0


def test_image_keys_hash_file_bytes(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    assert content_key(a, "image") == content_key(str(b), "image")
    assert content_key(a, "image") != content_key("same bytes", "text")
    with pytest.raises(InvalidInputError, match="cannot read image"):
        content_key(tmp_path / "missing.png", "image")


def test_put_checks_shape(tmp_path):
    cache = EmbeddingCache(tmp_path, Fingerprint("x", "y", "z", 4))
    with pytest.raises(InvalidInputError, match="shape"):
        cache.put([content_key("t", "text")], np.zeros((1, 3), np.float32))
