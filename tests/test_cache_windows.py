"""A cached run is planned in windows (``cache_run.WINDOW_SHARDS`` shards of items): no plan ever
holds more than one window of keys, yet the result, the statistics and the cache are those of
one plan over all items, and a content that recurs in a later window is a hit there, never
encoded twice."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HashTextEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from semalign_core.encoding import cache_run
from semalign_core.encoding.cache_run import encode_cached


class CountingEncoder(HashTextEncoder):
    """Remembers every text it encodes."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__(dim)
        self.seen: list[str] = []

    def encode_batch(self, items):
        self.seen += list(items)
        return super().encode_batch(items)


@pytest.fixture
def plan_sizes(monkeypatch):
    """The number of keys of every CachePlan opened, in order."""
    sizes: list[int] = []
    original = cache_run.CachePlan.__init__

    def spy(self, run, start, keys):
        sizes.append(len(keys))
        original(self, run, start, keys)

    monkeypatch.setattr(cache_run.CachePlan, "__init__", spy)
    return sizes


def test_windows_bound_each_plan_and_keep_one_runs_result(monkeypatch, plan_sizes, tmp_path):
    monkeypatch.setattr(cache_run, "WINDOW_SHARDS", 2)
    texts = [f"report {i % 37}" for i in range(100)]  # 37 contents, each recurring
    encoder = CountingEncoder()
    calls = []
    out = encode_cached(encoder, texts, tmp_path / "cache", shard_size=5,
                        on_shard=lambda *a: calls.append(a))
    assert plan_sizes == [10] * 10  # windows of 2 shards of 5 items
    assert sorted(encoder.seen) == sorted(set(texts))  # each content encoded once, in all
    assert out.metadata["cache"]["misses"] == 37 and out.metadata["cache"]["hits"] == 63
    assert calls[-1] == (37, 37) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    np.testing.assert_array_equal(out.vectors, HashTextEncoder(8).encode(texts).vectors)
    assert out.ids == tuple(str(i) for i in range(100))


@settings(max_examples=30, deadline=None)
@given(contents=st.lists(st.integers(0, 30), min_size=0, max_size=80),
       shard=st.integers(1, 7), window_shards=st.integers(1, 4),
       cached=st.lists(st.integers(0, 30), max_size=10))
def test_any_windowing_equals_plain_encoding(tmp_path_factory, contents, shard, window_shards,
                                             cached):
    texts = [f"finding {c}" for c in contents]
    warm = [f"finding {c}" for c in cached]
    folder = tmp_path_factory.mktemp("cache")
    if warm:
        encode_cached(HashTextEncoder(8), warm, folder)
    original = cache_run.WINDOW_SHARDS
    cache_run.WINDOW_SHARDS = window_shards  # hypothesis runs examples without fixtures
    try:
        encoder = CountingEncoder()
        out = encode_cached(encoder, texts, folder, shard_size=shard)
    finally:
        cache_run.WINDOW_SHARDS = original
    assert sorted(encoder.seen) == sorted(set(texts) - set(warm))
    assert out.metadata["cache"]["misses"] == len(set(texts) - set(warm))
    # A hit is an item whose content was cached before its window (copies of a miss within
    # one window are neither hits nor misses).
    size, known, hits = window_shards * shard, set(warm), 0
    for lo in range(0, len(texts), size):
        hits += sum(t in known for t in texts[lo:lo + size])
        known |= set(texts[lo:lo + size])
    assert out.metadata["cache"]["hits"] == hits
    expected = HashTextEncoder(8).encode(texts).vectors if texts else np.zeros((0, 8))
    np.testing.assert_array_equal(out.vectors, expected)


def test_skipped_items_in_several_windows_are_left_out(monkeypatch, tmp_path):
    from PIL import Image

    from semalign_core import Embeddings, Encoder, Fingerprint
    from semalign_core.encoding.images import load_images

    class Pixels(Encoder):
        """Mean RGB; skips unreadable files as the torch plugins' ``skip_errors`` does."""

        name, modality, dim = "test-pixels", "image", 3

        @property
        def fingerprint(self):
            return Fingerprint("test-pixels", "mean-rgb", "none", 3)

        def encode_batch(self, items):
            return np.array([np.asarray(i, np.float32).mean(axis=(0, 1)) for i in items])

        def encode(self, items, *, ids=None, batch_size=None, progress=False):
            images, skipped = load_images(items, skip_errors=True)
            gone = {s.index for s in skipped}
            kept = [i for i in range(len(items)) if i not in gone]
            return Embeddings(self.encode_batch(images).reshape(-1, 3),
                              [ids[i] for i in kept], self.fingerprint,
                              {"skipped": [{"index": s.index, "reason": s.reason}
                                           for s in skipped]})

    monkeypatch.setattr(cache_run, "WINDOW_SHARDS", 1)
    paths = []
    for i in range(7):
        path = tmp_path / f"img{i}.png"
        if i in (1, 5):  # one unreadable image in the first window, one in the third
            path.write_bytes(b"not an image")
        else:
            Image.new("RGB", (4, 4), (i, 2 * i, 3 * i)).save(path)
        paths.append(path)
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        out = encode_cached(Pixels(), paths, tmp_path / "cache", shard_size=2)
    assert out.ids == tuple(str(p) for i, p in enumerate(paths) if i not in (1, 5))
    assert out.metadata["skipped"] == [str(paths[1]), str(paths[5])]
    np.testing.assert_allclose(out.vectors[:, 0], [0, 2, 3, 4, 6])
