"""The cache index: runs merged logarithmically, reconciled with the shards on every open.

A property test drives random puts, quarantines, deletions and reopens and checks the cache
against a plain dict; the others check the cost of an update (no full rewrite per shard) and the
repairs after a writer is killed at each point between shard, run and merge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semalign_core import Fingerprint
from semalign_core.encoding import cache_index
from semalign_core.encoding.cache import CorruptShardWarning, EmbeddingCache
from semalign_core.encoding.cache_index import INDEX_NAME

FP = Fingerprint("index-prop", "arch", "w", 2)


def _index_files(folder):
    return sorted(p.name for p in folder.glob("index*.safetensors"))


def _keys(rng, n, prefix=None):
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if prefix is not None:  # force a shared 8-byte prefix (the index's search key)
        raw[:, :8] = prefix
    return raw


def _check(cache_dir, model):
    cache = EmbeddingCache(cache_dir, FP).open()
    keys = list(model)
    raw = np.frombuffer(b"".join(keys), np.uint8).reshape(-1, 32)
    vectors = np.zeros((len(raw), FP.dim), np.float32)
    found = cache.fetch(raw, lambda pos, v: vectors.__setitem__(pos, v))
    assert found.all() and len(cache) == len(model)
    np.testing.assert_array_equal(vectors, np.array([model[k] for k in keys]).reshape(-1, 2))
    absent = np.random.default_rng([7, len(model)]).integers(0, 256, (5, 32), dtype=np.uint8)
    assert not cache.fetch(absent).any()
    assert cache._index.runs <= math.log2(max(len(cache._index.shards), 1)) + 2
    assert len(_index_files(cache.path)) == cache._index.runs or not model


_OPS = st.lists(st.tuples(st.sampled_from(["put", "put", "put", "reopen", "delete", "corrupt",
                                           "lose_run", "dup_prefix"]),
                          st.integers(1, 6)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS, seed=st.integers(0, 2 ** 16))
def test_random_puts_drops_and_reopens_agree_with_a_dict(tmp_path_factory, ops, seed):
    cache_dir = tmp_path_factory.mktemp("prop")
    rng = np.random.default_rng(seed)
    model: dict[bytes, np.ndarray] = {}
    shard_keys: dict[str, list[bytes]] = {}
    cache = EmbeddingCache(cache_dir, FP).open()
    for op, size in ops:
        if op in ("put", "dup_prefix"):
            prefix = next(iter(model))[:8] if op == "dup_prefix" and model else None
            raw = _keys(rng, size, None if prefix is None else np.frombuffer(prefix, np.uint8))
            vectors = rng.normal(size=(size, 2)).astype(np.float32)
            shard = cache.put(raw, vectors)
            shard_keys[shard.name] = [bytes(k) for k in raw]
            model.update({bytes(k): v for k, v in zip(raw, vectors, strict=True)})
        elif op == "reopen":
            cache = EmbeddingCache(cache_dir, FP).open()
        elif op in ("delete", "corrupt") and shard_keys:
            name = sorted(shard_keys)[size % len(shard_keys)]
            path = cache.path / name
            if op == "delete":
                path.unlink()
            else:
                path.write_bytes(path.read_bytes()[:-3] + b"xyz")
            for k in shard_keys.pop(name):
                model.pop(k, None)
            with pytest.warns(CorruptShardWarning) if op == "corrupt" else _nothing():
                cache = EmbeddingCache(cache_dir, FP).load()
        elif op == "lose_run" and _index_files(cache.path):
            files = _index_files(cache.path)
            (cache.path / files[size % len(files)]).unlink()  # its shards are scanned again
            cache = EmbeddingCache(cache_dir, FP).open()
        _check(cache_dir, model)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_an_update_rewrites_only_a_logarithmic_share_of_the_index(tmp_path, monkeypatch):
    written = []
    original = cache_index.write_arrays
    monkeypatch.setattr(cache_index, "write_arrays",
                        lambda path, arrays, **kw: written.append(len(arrays["words"]))
                        or original(path, arrays, **kw))
    cache = EmbeddingCache(tmp_path, FP).open()
    rng = np.random.default_rng(0)
    shards, per = 64, 5
    for _ in range(shards):
        cache.put(_keys(rng, per), np.zeros((per, 2), np.float32))
    assert len(written) == shards  # one index file written per shard
    # A full rewrite per shard would write per * shards * (shards + 1) / 2 = 10400 rows.
    assert sum(written) <= per * shards * (math.log2(shards) + 1)
    assert len(cache) == shards * per and len(_index_files(tmp_path / FP.id)) == 1
    cache.put(_keys(rng, per), np.zeros((per, 2), np.float32))
    assert written[-1] == per and len(_index_files(tmp_path / FP.id)) == 2


def _filled(tmp_path, shards=7, per=3):
    rng = np.random.default_rng(1)
    cache = EmbeddingCache(tmp_path, FP).open()
    model = {}
    for _ in range(shards):
        raw, vectors = _keys(rng, per), rng.normal(size=(per, 2)).astype(np.float32)
        cache.put(raw, vectors)
        model.update({bytes(k): v for k, v in zip(raw, vectors, strict=True)})
    return cache.path, model


def test_writer_killed_between_shard_and_run_is_repaired_on_open(tmp_path, monkeypatch):
    folder, model = _filled(tmp_path)
    runs_before = _index_files(folder)
    monkeypatch.setattr(cache_index.ShardIndex, "append", lambda *a, **k: None)  # the kill
    raw = _keys(np.random.default_rng(9), 4)
    EmbeddingCache(tmp_path, FP).open().put(raw, np.ones((4, 2), np.float32))
    monkeypatch.undo()
    assert _index_files(folder) == runs_before  # the shard is on disk, no run lists it
    model.update({bytes(k): np.ones(2, np.float32) for k in raw})
    _check(tmp_path, model)  # found by scanning the unlisted shard ...
    assert _index_files(folder) == [INDEX_NAME]  # ... and compacted into one run


def test_a_merge_killed_before_removing_its_inputs_is_repaired_on_open(tmp_path):
    folder, model = _filled(tmp_path, shards=3)  # runs of 6 and 3 rows
    saved = {name: (folder / name).read_bytes() for name in _index_files(folder)}
    _filled_more = EmbeddingCache(tmp_path, FP).open()
    raw = _keys(np.random.default_rng(5), 3)
    _filled_more.put(raw, np.full((3, 2), 2.0, np.float32))  # merges everything into one run
    model.update({bytes(k): np.full(2, 2.0, np.float32) for k in raw})
    assert len(_index_files(folder)) == 1
    for name, data in saved.items():  # the inputs the merge would have removed
        (folder / name).write_bytes(data)
    assert len(_index_files(folder)) == 1 + len(saved) == 3
    _check(tmp_path, model)
    assert _index_files(folder) == [INDEX_NAME]


def test_stale_and_damaged_runs_cost_a_scan_never_a_wrong_answer(tmp_path):
    folder, model = _filled(tmp_path)
    stale = {name: (folder / name).read_bytes() for name in _index_files(folder)}
    rng = np.random.default_rng(3)
    cache = EmbeddingCache(tmp_path, FP).open()
    for _ in range(3):
        raw = _keys(rng, 3)
        cache.put(raw, np.full((3, 2), 3.0, np.float32))
        model.update({bytes(k): np.full(2, 3.0, np.float32) for k in raw})
    for name in _index_files(folder):
        (folder / name).unlink()
    for name, data in stale.items():  # an older index: the newer shards are not listed
        (folder / name).write_bytes(data)
    (folder / sorted(stale)[0]).write_bytes(b"damaged")
    _check(tmp_path, model)
    assert _index_files(folder) == [INDEX_NAME]


@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.integers(0, 5), max_size=40), shared_prefix=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_distinct_contents_agrees_with_a_dict(picks, shared_prefix, seed):
    from semalign_core.encoding.content import distinct_contents

    pool = _keys(np.random.default_rng(seed), 6)
    if shared_prefix:  # different keys with one 8-byte prefix: the full-key path
        pool[:, :8] = pool[0, :8]
    keys = pool[picks].reshape(-1, 32)
    first, inverse = distinct_contents(keys)
    seen: dict[bytes, int] = {}
    expected = [seen.setdefault(bytes(k), len(seen)) for k in keys]
    assert inverse.tolist() == expected
    assert first.tolist() == [expected.index(j) for j in range(len(seen))]
    np.testing.assert_array_equal(keys[first[inverse]], keys)


def test_writers_side_by_side_never_lose_each_others_runs(tmp_path, monkeypatch):
    folder, model = _filled(tmp_path, shards=2)
    a, b = EmbeddingCache(tmp_path, FP).open(), EmbeddingCache(tmp_path, FP).open()
    rng = np.random.default_rng(4)
    for step in range(12):  # two processes putting into one cache, interleaved
        raw, vectors = _keys(rng, 3), rng.normal(size=(3, 2)).astype(np.float32)
        (a if step % 2 else b).put(raw, vectors)
        model.update({bytes(k): v for k, v in zip(raw, vectors, strict=True)})
    reads = []
    original = EmbeddingCache._read_shard
    monkeypatch.setattr(EmbeddingCache, "_read_shard",
                        lambda self, shard: reads.append(shard.name) or original(self, shard))
    cache = EmbeddingCache(tmp_path, FP).open()
    assert reads == []  # every shard is listed by some run: none had to be scanned
    assert len(cache) == len(model) and _index_files(folder) == [INDEX_NAME]  # overlap dropped
    monkeypatch.undo()
    _check(tmp_path, model)
