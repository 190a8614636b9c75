"""``semalign run`` with ``engine: {name: ray, workers: 2}`` on real Kermany X-rays and the real
SqueezeNet weights: the same metrics and cached embeddings as the local engine, and
``results.json`` records the engine each encoding ran on.

A translation task (SqueezeNet at 224 px -> SqueezeNet at 160 px) is the smallest real task whose
every encoding goes through the engine: both sides encode images, so nothing falls back to the
local engine (prompts and class texts always encode locally)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from local_ray import local_ray

pytestmark = [pytest.mark.slow, pytest.mark.torch, pytest.mark.shared_data]

for _module in ("pydantic", "sklearn", "matplotlib", "torch", "torchvision"):
    pytest.importorskip(_module)

ENCODINGS = ("pool_source", "eval_source", "pool_target", "eval_target")
ENCODER = "torchvision-squeezenet1-1"


@pytest.fixture(scope="module")
def ray_cluster():
    yield from local_ray()


@pytest.fixture
def weights(shared) -> Path:
    from semalign_core import list_encoders

    path = shared / "models" / "squeezenet1_1_imagenet.safetensors"
    if ENCODER not in list_encoders(aliases=True) or not path.is_file():
        pytest.skip("the torchvision plugin or the SqueezeNet weights are missing")
    return path


def _manifest(shared: Path, folder: Path) -> Path:
    """16 train + 12 test Kermany images, half of each class, as a manifest CSV."""
    from semalign_core.data.manifest import Manifest, Record

    root = shared / "data" / "kermany-cxr"
    records = []
    for split, n in (("train", 8), ("test", 6)):
        for cls in ("normal", "pneumonia"):
            for path in sorted((root / split / cls).glob("*.jpeg"))[:n]:
                records.append(Record(f"{split}/{cls}/{path.stem}", str(path), None, (cls,),
                                      split))
    return Manifest(records).write(folder / "manifest.csv")


def _config(manifest: Path, weights: Path, engine: dict) -> dict:
    options = {"weights": str(weights), "device": "cpu", "autocast": False, "progress": False}
    return {
        "name": "ray-e2e",
        "encoders": {"source": {"name": ENCODER, "options": options},
                     "target": {"name": ENCODER,
                                "options": {**options, "resize": 180, "crop": 160}}},
        "anchors": {"dataset": {"manifest": str(manifest), "split": "train"}, "count": [8, 16],
                    "selector": {"name": "stratified"}},
        "translator": {"solver": "affine", "params": {"alpha": 10.0},
                       "source_norm": "l2", "target_norm": "center"},
        "task": {"kind": "translation"},
        "evaluation": {"dataset": {"manifest": str(manifest), "split": "test"},
                       "bootstrap": 20},
        "seeds": [0, 1],
        "batch_size": 4,
        "engine": engine,
    }


def _run(tmp_path: Path, name: str, config: dict) -> dict:
    from semalign_core.cli.main import main

    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    assert main(["run", str(path), "--output-dir", str(tmp_path / name), "--cache-dir",
                 str(tmp_path / f"{name}-cache"), "--quiet"]) == 0
    return json.loads((tmp_path / name / "results.json").read_text())


def _cached(config: dict, cache_dir: Path, split: str, side: str) -> tuple[tuple, np.ndarray]:
    """What the cache holds for one side of one split, read back by the local engine."""
    from semalign_core.data.readers import read_manifest
    from semalign_core.encoding.engines import encode_dataset

    manifest = read_manifest(config["anchors"]["dataset"]["manifest"]).filter(split=split)
    emb = encode_dataset(ENCODER, manifest.items("image"), cache_dir, ids=manifest.ids,
                         options=config["encoders"][side]["options"])
    assert emb.metadata["cache"]["misses"] == 0  # the run cached every item
    return emb.ids, emb.vectors


def _metrics(document: dict) -> dict:
    return {(r["anchors"], r["seed"], name): m["estimate"]
            for r in document["runs"] for name, m in r["metrics"].items()}


def test_semalign_run_on_ray_equals_the_local_engine(ray_cluster, shared, weights, tmp_path):
    manifest = _manifest(shared, tmp_path)
    local_cfg = _config(manifest, weights, {"name": "local"})
    # 4-item shards: every encoding is several Ray tasks, so both actors encode
    ray_cfg = _config(manifest, weights, {"name": "ray", "workers": 2, "shard_size": 4})
    local, distributed = _run(tmp_path, "local", local_cfg), _run(tmp_path, "ray", ray_cfg)

    assert distributed["config"]["engine"]["name"] == "ray"
    assert local["engine"] == {k: {"name": "local"} for k in ENCODINGS}
    assert distributed["engine"] == {k: {"name": "ray", "workers": 2} for k in ENCODINGS}
    sizes = {"pool_source": 16, "eval_source": 12, "pool_target": 16, "eval_target": 12}
    for doc in (local, distributed):
        assert {k: doc["cache"][k]["misses"] for k in ENCODINGS} == sizes
    assert {k: distributed["cache"][k]["shards_written"] for k in ENCODINGS} == {
        k: n // 4 for k, n in sizes.items()}
    assert distributed["fingerprints"] == local["fingerprints"]
    assert ([r["anchor_ids"] for r in distributed["runs"]]
            == [r["anchor_ids"] for r in local["runs"]])
    ours, theirs = _metrics(distributed), _metrics(local)
    assert ours.keys() == theirs.keys() and len(ours) == 2 * 2 * 6
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    for split in ("train", "test"):
        for side in ("source", "target"):
            ids, vectors = _cached(local_cfg, tmp_path / "local-cache", split, side)
            ray_ids, ray_vectors = _cached(ray_cfg, tmp_path / "ray-cache", split, side)
            assert ray_ids == ids and len(ids) == (16 if split == "train" else 12)
            np.testing.assert_allclose(ray_vectors, vectors, rtol=1e-5, atol=1e-5)
