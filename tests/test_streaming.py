"""Out-of-core translation and zero-shot over embedding shards (the local, streamed engine)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HashTextEncoder

from semalign_core import Embeddings, Fingerprint, InvalidInputError, Translator

pytest.importorskip("pyarrow")
pytest.importorskip("faiss")
import pyarrow.parquet as pq

from semalign_core.zeroshot import ZeroShotClassifier
from semalign_core.zeroshot.streaming import (
    classify_shards,
    iter_shard,
    translate_shards,
    write_embeddings_shard,
)

PROMPTS = {"normal": ["clear lungs", "no acute disease"],
           "pneumonia": ["focal consolidation", "lobar opacity in the right lung"]}
SOURCE_FP = Fingerprint("test-image", "linear", "none", 16)


def world(n: int = 900, seed: int = 0):
    rng = np.random.default_rng(seed)
    text = HashTextEncoder(16)
    anchors_x = rng.normal(size=(200, 16)).astype(np.float32)
    anchors_y = (anchors_x * 0.5 + 0.1 * rng.normal(size=(200, 16))).astype(np.float32)
    ids = [f"a{i}" for i in range(200)]
    translator = Translator("identity", source_norm="standard",
                            target_norm="center").fit(
        Embeddings(anchors_x, ids, SOURCE_FP), Embeddings(anchors_y, ids, text.fingerprint))
    X = rng.normal(size=(n, 16)).astype(np.float32)
    return translator, text, X, [f"x{i}" for i in range(n)]


def shards(tmp_path, X, ids, sizes):
    """The rows of X split into Parquet and safetensors shards, alternately."""
    paths, start = [], 0
    for i, size in enumerate(sizes):
        rows = slice(start, start + size)
        if i % 2:
            path = Embeddings(X[rows], ids[rows], SOURCE_FP).save(tmp_path / f"s{i}.safetensors")
        else:
            path = write_embeddings_shard(tmp_path / f"s{i}.parquet", ids[rows], X[rows])
        paths.append(path)
        start += size
    return paths


def read_vectors(paths):
    tables = [pq.read_table(p) for p in paths]
    ids = [i for t in tables for i in t.column("id").to_pylist()]
    V = np.concatenate([np.asarray(t.column("vector").to_pylist(), np.float32) for t in tables])
    return ids, V


def test_translated_shards_equal_transform(tmp_path):
    translator, _, X, ids = world()
    sources = shards(tmp_path / "in", X, ids, [400, 300, 200])
    out = translate_shards(translator, sources, tmp_path / "out", batch_size=128)
    assert [p.name for p in out] == ["s0.parquet", "s1.parquet", "s2.parquet"]
    got_ids, V = read_vectors(out)
    assert got_ids == ids
    np.testing.assert_allclose(V, translator.transform(X), rtol=1e-5, atol=1e-6)


def test_shards_are_read_in_batches(tmp_path):
    _, _, X, ids = world(n=300)
    path = write_embeddings_shard(tmp_path / "a.parquet", ids, X)
    sizes = [len(batch_ids) for batch_ids, _ in iter_shard(path, batch_size=128)]
    assert sizes == [128, 128, 44]


def test_classified_shards_equal_predict_proba(tmp_path):
    translator, text, X, ids = world()
    clf = ZeroShotClassifier(translator, text, PROMPTS, device="cpu", temperature=0.05)
    sources = shards(tmp_path / "in", X, ids, [500, 400])
    out = classify_shards(clf, sources, tmp_path / "out", batch_size=100)
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(p) for p in out]).to_pandas()
    proba = clf.predict_proba(X)
    assert table["id"].tolist() == ids
    np.testing.assert_allclose(table[["p_normal", "p_pneumonia"]].to_numpy(), proba,
                               rtol=1e-6, atol=1e-9)
    assert table["prediction"].tolist() == clf.predict(X).tolist()


def test_finished_shards_are_kept_and_bad_input_refused(tmp_path):
    translator, _, X, ids = world(n=200)
    sources = shards(tmp_path / "in", X, ids, [100, 100])
    out = translate_shards(translator, sources, tmp_path / "out")
    stamp = out[0].stat().st_mtime_ns
    out[1].unlink()  # as if the run had been killed before the second shard
    again = translate_shards(translator, sources, tmp_path / "out")
    assert again[0].stat().st_mtime_ns == stamp and again[1].is_file()
    with pytest.raises(InvalidInputError, match="embeddings shard"):
        translate_shards(translator, [tmp_path / "nope.parquet"], tmp_path / "o2")
    with pytest.raises(InvalidInputError, match="engine must be"):
        translate_shards(translator, sources, tmp_path / "o3", engine="dask")
    bad = tmp_path / "bad.parquet"
    pq.write_table(__import__("pyarrow").table({"x": [1]}), bad)
    with pytest.raises(InvalidInputError, match="lacks column"):
        translate_shards(translator, [bad], tmp_path / "o4")
    clf = ZeroShotClassifier(translator, HashTextEncoder(16), PROMPTS, device="cpu",
                             calibration="gmm")
    with pytest.raises(InvalidInputError, match="transductive"):
        classify_shards(clf, sources, tmp_path / "o5")
