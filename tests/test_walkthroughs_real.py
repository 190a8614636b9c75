"""The stitching and retrieval walkthroughs of docs/zeroshot.md, on the shared data.

Runs the functions of ``benchmarks/bench_stitching.py`` and ``benchmarks/bench_methods.py`` (the
scripts whose output the docs quote) and asserts the claims the docs make from them, not the
exact numbers. Embeddings are cached in pytest's cache folder (the same one as
``test_zeroshot_real.py``: the cache is keyed on the encoders' fingerprints, so the two share it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytestmark = [pytest.mark.slow, pytest.mark.torch, pytest.mark.shared_data]

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SEEDS = range(5)


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def embeddings(request):
    from semalign_core.data.sources import find_shared_dir

    shared = find_shared_dir(required=False)
    if shared is None or not (shared / "data" / "kermany-cxr" / "labels.csv").is_file():
        pytest.skip("shared data not found (set SEMALIGN_SHARED_DIR)")
    for module in ("torch", "torchvision", "sentence_transformers", "sklearn", "faiss",
                   "semalign_solvers"):
        pytest.importorskip(module)
    env = os.environ.get("SEMALIGN_ZEROSHOT_CACHE")
    cache = Path(env) if env else Path(request.config.cache.mkdir("semalign-zeroshot-real"))
    return _module("cxr_embeddings").load(shared, cache)


def test_stitching_walkthrough_matches_zero_shot_and_the_full_probe(embeddings):
    from semalign_core.evaluation import auroc, linear_probe, probe_curve

    bench = _module("bench_stitching")
    e = embeddings
    runs = [bench.stitch_and_zero_shot(e, 100, seed) for seed in SEEDS]
    auc = {m: np.mean([auroc(e.test_y, r[m][1], pos_label="pneumonia") for r in runs])
           for m in ("stitching", "zero-shot")}
    assert auc["stitching"] >= 0.88, auc  # docs: 0.920 +- 0.014
    assert abs(auc["stitching"] - auc["zero-shot"]) < 0.03, auc
    full = linear_probe(e.train_x, e.train_y, e.test_x, e.test_y, n_resamples=1)
    assert abs(full.metrics["auroc"].estimate - auc["stitching"]) < 0.03
    curve = probe_curve(e.train_x, e.train_y, e.test_x, e.test_y, shots=(1, 16), seeds=SEEDS,
                        n_resamples=1)
    shot = {k: np.mean([r.metrics["auroc"].estimate for r in curve if r.shots == k])
            for k in (1, 16)}
    assert shot[1] < shot[16] < auc["stitching"], (shot, auc)


def test_retrieval_walkthrough_beats_chance_and_methods_rank_as_documented(embeddings):
    from semalign_core.evaluation import auroc, random_retrieval_ranks, retrieval_from_ranks

    bench = _module("bench_methods")
    e = embeddings
    out = {name: [bench.run_one(e, make, 100, seed) for seed in SEEDS]
           for name, make in bench.methods().items()}

    def mean(name, key, metric):
        return np.mean([retrieval_from_ranks(r[key])[metric] for r in out[name]])

    keys = out["affine"][0]["held_keys"]
    chance = retrieval_from_ranks(random_retrieval_ranks(len(keys), query_keys=e.test_y,
                                                         candidate_keys=keys, n_draws=20))
    assert mean("affine", "i2r", "R@1") > chance["R@1"] + 0.3
    assert mean("affine", "i2r", "R@1") > mean("relative", "i2r", "R@1")   # docs: 0.855 / 0.786
    assert mean("relative", "r2i", "R@1") > mean("affine", "r2i", "R@1")   # docs: 0.934 / 0.700
    zs = {n: np.mean([auroc(e.test_y, r["score"], pos_label="pneumonia") for r in runs])
          for n, runs in out.items()}
    assert zs["cca"] < zs["affine"] and abs(zs["relative"] - zs["affine"]) < 0.02, zs
