"""Acceptance on real data: zero-shot normal vs. pneumonia on the 624 Kermany test images.

SqueezeNet 1.1 (ImageNet) image features translated into all-MiniLM-L6-v2 text space with 100
anchors from the 400 train images, averaged over 5 anchor seeds. The recipe is the one in
benchmarks/bench_zeroshot.py (tuned on train-only cross-validation); this test runs exactly it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub call would otherwise hang for 30 s
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytestmark = [pytest.mark.slow, pytest.mark.torch, pytest.mark.shared_data]

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_zeroshot.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_zeroshot", _BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load_bench()


@pytest.fixture(scope="module")
def data(bench, request):
    shared = bench.shared_dir()
    if not (shared / "data" / "kermany-cxr" / "labels.csv").is_file():
        pytest.skip(f"shared data not found at {shared} (set SEMALIGN_SHARED_DIR)")
    if not (shared / "models" / "squeezenet1_1_imagenet.safetensors").is_file():
        pytest.skip("SqueezeNet weights missing from the shared models folder")
    pytest.importorskip("faiss")
    pytest.importorskip("sklearn")
    from semalign_core import list_encoders, list_solvers

    needed = {"torchvision-squeezenet1_1", "all-minilm-l6-v2"}
    missing = needed - set(list_encoders())
    if missing or "affine" not in list_solvers():
        pytest.skip(f"encoder/solver plugins not installed: {sorted(missing) or ['affine']}")
    # embeddings are kept between runs (encoding takes minutes on CPU): in pytest's cache
    # folder, or where $SEMALIGN_ZEROSHOT_CACHE says (e.g. the benchmark's cache)
    env = os.environ.get("SEMALIGN_ZEROSHOT_CACHE")
    cache = Path(env) if env else Path(request.config.cache.mkdir("semalign-zeroshot-real"))
    return bench.prepare(shared, cache)


def test_zero_shot_reaches_the_acceptance_bar(bench, data):
    from semalign_core.metrics import auroc, balanced_accuracy

    out = bench.evaluate_zero_shot(data, 100, seeds=range(5), recipe=bench.Recipe())
    bacc = [balanced_accuracy(y, p) for y, p, _ in out["per_seed"]]
    auc = [auroc(y, s) for y, _, s in out["per_seed"]]
    assert len(data.test) == 624
    assert np.mean(bacc) >= 0.80, bacc
    assert np.mean(auc) >= 0.90, auc


def test_recipe_fits_on_train_images_only(bench, data):
    clf, anchors = bench.fit_zero_shot(data, 100, seed=0)
    assert len(anchors) == 100 and anchors.max() < len(data.train)
    # stratified: as many normal as pneumonia anchors
    counts = dict(zip(*np.unique(data.y_train[anchors], return_counts=True), strict=True))
    assert counts == {"normal": 50, "pneumonia": 50}
    assert clf.translator.n_anchors_ == 100
    assert clf.translator.source_fingerprint_ == data.test.fingerprint
