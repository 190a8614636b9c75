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


# -- the index: a warm request reads only the shards it needs ------------------------------------
def _filled_cache(tmp_path, n_shards: int = 6, per_shard: int = 5):
    from semalign_core.encoding.cache import content_key

    fp = Fingerprint("idx-test", "arch", "w", 3)
    cache = EmbeddingCache(tmp_path, fp)
    cache.load()
    texts = [f"text {i}" for i in range(n_shards * per_shard)]
    keys = [content_key(t, "text") for t in texts]
    vecs = np.arange(len(texts) * 3, dtype=np.float32).reshape(-1, 3)
    for s in range(n_shards):
        cache.put(keys[s * per_shard:(s + 1) * per_shard], vecs[s * per_shard:(s + 1) * per_shard])
    return fp, keys, vecs


def test_warm_lookup_reads_only_the_shards_holding_the_keys(tmp_path, monkeypatch):
    fp, keys, vecs = _filled_cache(tmp_path)
    assert list((tmp_path / fp.id).glob("index*.safetensors"))  # the index's run files
    reads = []
    original = EmbeddingCache._read_shard
    monkeypatch.setattr(EmbeddingCache, "_read_shard",
                        lambda self, shard: reads.append(shard.name) or original(self, shard))
    cache = EmbeddingCache(tmp_path, fp).load([keys[0], keys[1], keys[12]])
    assert len(set(reads)) == 2  # shards 0 and 2 of 6
    np.testing.assert_array_equal(cache.get(keys[12]), vecs[12])
    assert keys[29] in cache and len(reads) == 3  # its one shard, read to check the full key
    np.testing.assert_array_equal(cache.get(keys[29]), vecs[29])
    assert len(reads) == 3 and "0" * 64 not in cache and len(cache) == 30


def test_index_is_rebuilt_from_the_shards_when_missing_stale_or_damaged(tmp_path):
    fp, keys, _vecs = _filled_cache(tmp_path)
    folder = tmp_path / fp.id
    for run in folder.glob("index*.safetensors"):
        run.write_bytes(b"garbage")  # damaged: rebuilt from the shards, never trusted
    index = folder / "index.safetensors"  # what the repair writes
    cache = EmbeddingCache(tmp_path, fp).load(keys[:1])
    assert all(k in cache for k in keys) and len(cache) == 30
    # a shard written without the index (a writer killed in between) is picked up
    stale = index.read_bytes()
    extra = EmbeddingCache(tmp_path, fp).load([])
    from semalign_core.encoding.cache import content_key
    new_key = content_key("late", "text")
    extra.put([new_key], np.ones((1, 3), np.float32))
    index.write_bytes(stale)
    reopened = EmbeddingCache(tmp_path, fp).load([new_key])
    np.testing.assert_array_equal(reopened.get(new_key), np.ones(3, np.float32))
    # a shard that is gone is forgotten
    for shard in folder.glob("shard-*.safetensors"):
        shard.unlink()
    assert keys[0] not in EmbeddingCache(tmp_path, fp).load([keys[0]])


def test_a_damaged_shard_found_through_the_index_is_quarantined(tmp_path):
    fp, keys, _vecs = _filled_cache(tmp_path)
    cache = EmbeddingCache(tmp_path, fp).load([])
    shard = tmp_path / fp.id / cache._index.locate([keys[7]])[0][0]
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.warns(CorruptShardWarning):
        cache = EmbeddingCache(tmp_path, fp).load([keys[7]])
    assert keys[7] not in cache and keys[0] in cache and cache.corrupt
    assert shard.with_suffix(".corrupt").exists()
