"""Acceptance on real data: zero-shot normal vs. pneumonia on the 624 Kermany test images.

SqueezeNet 1.1 (ImageNet) image features translated into all-MiniLM-L6-v2 text space with 100
anchors from the 400 train images, over anchor seeds 0-4. The recipe is
:mod:`semalign_core.experiments.recipes` run by
:func:`semalign_core.experiments.runner.run_experiment` (the same
path as ``semalign demo`` and ``benchmarks/bench_zeroshot.py``); nothing in it was chosen on
the test split.

Measured (see docs/zeroshot.md): default argmax balanced accuracy 0.807 +- 0.023, AUROC
0.916 +- 0.012; with the opt-in transductive GMM threshold fitted to the unlabeled test batch,
balanced accuracy 0.824 +- 0.010 (AUROC unchanged). The default asserts the issue's bar
(>= 0.80 / >= 0.90 averaged over the five seeds). The margin on balanced accuracy is small
(0.007, inside seed-to-seed noise): a recipe change that costs a point fails this test, which is
what it is for.

Cold, the run encodes 1024 images and about 1500 report impressions (about a minute on two
CPU cores); the embeddings are cached in pytest's cache folder (or ``$SEMALIGN_ZEROSHOT_CACHE``)
keyed on the encoders' fingerprints and the items' content, so later runs take seconds.
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
SEEDS = (0, 1, 2, 3, 4)
N_ANCHORS = 100


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_zeroshot", _BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load_bench()


@pytest.fixture(scope="module")
def result(bench, warm_embedding_cache):
    from semalign_core.data.sources import find_shared_dir

    shared = find_shared_dir(required=False)
    if shared is None or not (shared / "data" / "kermany-cxr" / "labels.csv").is_file():
        pytest.skip("shared data not found (set SEMALIGN_SHARED_DIR)")
    if not (shared / "models" / "squeezenet1_1_imagenet.safetensors").is_file():
        pytest.skip("SqueezeNet weights missing from the shared models folder")
    pytest.importorskip("faiss")
    pytest.importorskip("sklearn")
    from semalign_core import list_anchor_selectors, list_encoders, list_solvers

    missing = ({"torchvision-squeezenet1_1", "all-minilm-l6-v2"} - set(list_encoders(aliases=True))
               | {"affine"} - set(list_solvers()) | {"stratified"} - set(list_anchor_selectors()))
    if missing:
        pytest.skip(f"plugins not installed: {sorted(missing)}")
    return bench.run_recipe([N_ANCHORS], SEEDS, shared_dir=shared, cache_dir=warm_embedding_cache)


@pytest.fixture(scope="module")
def scored(bench, result):
    y = np.asarray(result.curves["y_true"])
    runs = bench.per_seed(result, N_ANCHORS)
    return y, {v: bench.summarise(y, runs[v], n_resamples=0) for v in bench.VARIANTS}, runs


def test_evaluates_all_624_test_images_over_five_seeds(result, scored):
    y, summary, _ = scored
    assert len(y) == 624
    assert dict(zip(*np.unique(y, return_counts=True), strict=True)) == {"normal": 234,
                                                                         "pneumonia": 390}
    assert all(len(summary[v]["bacc"]) == len(SEEDS) for v in summary)
    assert result.document["classes"] == ["normal", "pneumonia"]


def test_default_inductive_recipe(scored):
    _, summary, _ = scored
    s = summary["inductive"]
    assert np.mean(s["auroc"]) >= 0.90, s["auroc"]
    assert np.mean(s["bacc"]) >= 0.80, s["bacc"]  # measured 0.807 +- 0.023
    assert min(s["bacc"]) >= 0.75, s["bacc"]


def test_gmm_calibrated_recipe_reaches_the_bar(scored):
    _, summary, runs = scored
    s, base = summary["gmm-calibrated"], summary["inductive"]
    assert np.mean(s["bacc"]) >= 0.80, s["bacc"]
    assert np.mean(s["auroc"]) >= 0.90, s["auroc"]
    # a threshold cannot change the ranking
    assert s["auroc"] == base["auroc"]
    # and here, under the train -> test shift, it helps on average
    assert np.mean(s["bacc"]) > np.mean(base["bacc"]), (s["bacc"], base["bacc"])
    # it only moved the threshold: predictions are the argmax's, cut elsewhere on one score
    for (pred, score), (pred0, score0) in zip(runs["gmm-calibrated"], runs["inductive"],
                                              strict=True):
        np.testing.assert_array_equal(score, score0)
        cut = score[pred == "pneumonia"].min()
        assert (score[pred == "normal"] < cut).all()
        np.testing.assert_array_equal(pred0 == "pneumonia", score > 0)


def test_recipe_fits_on_train_images_only(result):
    for run in result.document["runs"]:
        ids = run["anchor_ids"]
        assert len(ids) == N_ANCHORS
        assert all(i.startswith("train/") for i in ids), ids[:3]
        # stratified selector: as many normal as pneumonia anchors
        assert sum("/NORMAL/" in i.upper() for i in ids) == N_ANCHORS // 2


def test_warm_demo_imports_no_torch(result, warm_embedding_cache, tmp_path):
    """With every item cached (the ``result`` fixture filled the cache), ``semalign demo`` in a
    fresh process encodes nothing and needs no torch: the fingerprints come from the memoised
    encoder facts and no model is loaded. On a machine with GPU device nodes the precision of
    the fingerprint needs torch, so there the check does not apply."""
    import json
    import subprocess

    if any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")):
        pytest.skip("a GPU device node exists: the fingerprint asks torch for the precision")
    code = ("import sys; from semalign_core.cli import main; rc = main(sys.argv[1:]); "
            "print('torch imported:', 'torch' in sys.modules); sys.exit(rc)")
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-c", code, "demo", "--cache-dir",
                           str(warm_embedding_cache), "--output-dir", str(out), "--seeds", "1",
                           "--bootstrap", "20", "--quiet"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert all(stats["misses"] == 0 for stats in doc["cache"].values()), doc["cache"]
    assert "torch imported: False" in proc.stdout
