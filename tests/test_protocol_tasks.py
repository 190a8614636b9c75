"""The multilabel-zero-shot and retrieval tasks, and the k-shot probe curve, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

for _module in ("pydantic", "sklearn", "matplotlib", "faiss"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from test_experiment import _ridge, components, config, make_dataset, tiny  # noqa: E402, F401

from semalign_core.experiments.runner import run_experiment  # noqa: E402

FINDINGS = ("effusion", "edema")


def make_multilabel(root, n: int = 80, seed: int = 0):
    """Images whose left half is bright with effusion and top half with edema; each record's
    text says which findings are present ("no <finding>" otherwise)."""
    from PIL import Image

    from semalign_core.data.manifest import Manifest, Record

    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        present = [f for f in FINDINGS if rng.random() < 0.4]
        pixels = rng.normal(90, 15, (16, 16))
        if "effusion" in present:
            pixels[:, :8] += 90
        if "edema" in present:
            pixels[:8, :] += 90
        path = root / "img" / f"m{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        text = " ".join(f if f in present else f"no {f}" for f in FINDINGS)
        split = ("test", "validate", "train", "train")[i % 4]
        records.append(Record(f"m{i}", str(path), text, tuple(present), split, f"p{i}"))
    return Manifest(records).write(root / "multilabel.csv")


def _multilabel_config(tmp_path, **task):
    return config(tmp_path, {"kind": "multilabel-zero-shot", "findings": list(FINDINGS),
                             **task},
                  anchors={"dataset": {"manifest": "multilabel.csv", "split": "train"},
                           "count": [20, 40], "selector": {"name": "pick"}, "use_labels": False},
                  evaluation={"dataset": {"manifest": "multilabel.csv", "split": "test"},
                              "bootstrap": 50})


@pytest.mark.usefixtures("components")
def test_multilabel_zero_shot_writes_the_per_finding_table(tmp_path):
    make_multilabel(tmp_path)
    result = run_experiment(_multilabel_config(tmp_path))
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["task"] == "multilabel-zero-shot" and doc["classes"] == list(FINDINGS)
    run = doc["runs"][-1]["metrics"]
    assert {"macro_auroc", "auroc/effusion", "auroc/edema"} <= set(run)
    assert run["macro_auroc"]["estimate"] == pytest.approx(
        np.mean([run["auroc/effusion"]["estimate"], run["auroc/edema"]["estimate"]]))
    assert doc["summary"][-1]["metrics"]["macro_auroc"]["estimate"] > 0.8  # separable data
    assert "probe" in doc["baselines"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Per-finding results (2 seed(s), 40 anchors)" in summary
    assert "| effusion |" in summary and "| edema |" in summary
    assert "anchors_curve.png" in result.files


@pytest.mark.usefixtures("components")
def test_multilabel_inductive_thresholds_are_reported_separately(tmp_path):
    make_multilabel(tmp_path)
    val = {"manifest": "multilabel.csv", "split": "validate"}
    doc = run_experiment(_multilabel_config(
        tmp_path, thresholds={"dataset": val, "method": "mcc"})).document
    run = doc["runs"][-1]["metrics"]
    assert {"mcc/f1/effusion", "mcc/mcc/edema", "mcc/sensitivity/edema"} <= set(run)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "mcc F1" in summary and "inductive" in summary


def test_multilabel_config_errors(tmp_path):
    from semalign_core.experiments.config import ConfigError

    with pytest.raises(ConfigError, match="negatives"):
        _multilabel_config(tmp_path, findings=None, prompts={"edema": "edema"})
    with pytest.raises(ConfigError, match="either 'prompts'"):
        _multilabel_config(tmp_path, findings=None)


@pytest.mark.usefixtures("components")
def test_retrieval_with_class_relevance_beats_the_random_ranking(tmp_path):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "retrieval", "relevance": "label",
                            "texts": {"dataset": {"manifest": "manifest.csv", "split": "test"}},
                            "also_spaces": ["raw"]},
                 evaluation={"dataset": {"manifest": "manifest.csv", "split": "test"},
                             "bootstrap": 50, "baselines": ["chance"]})
    doc = run_experiment(cfg).document
    top = doc["summary"][-1]["metrics"]
    for d in ("i2t", "t2i"):
        assert top[f"{d}_R@1"]["estimate"] <= top[f"{d}_R@5"]["estimate"] \
            <= top[f"{d}_R@10"]["estimate"]
        assert top[f"{d}_median_rank"]["estimate"] >= 1
    chance = doc["baselines"]["chance"]["metrics"]
    assert top["i2t_mrr"]["estimate"] > chance["i2t_mrr"]["estimate"]
    assert "raw/i2t_R@1" in doc["runs"][0]["metrics"]
    assert "random ranking" in (tmp_path / "out" / "summary.md").read_text()


@pytest.mark.usefixtures("components")
def test_retrieval_item_relevance_counts_every_image_of_a_shared_report(tmp_path):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "retrieval"},
                 evaluation={"dataset": {"manifest": "manifest.csv", "split": "test"},
                             "bootstrap": 20})
    doc = run_experiment(cfg).document
    assert doc["data"]["evaluation"]["relevance"] == "item"
    assert doc["data"]["evaluation"]["without_text"] == 0
    assert 0 < doc["runs"][0]["metrics"]["i2t_mrr"]["estimate"] <= 1


@pytest.mark.usefixtures("components")
def test_retrieval_item_relevance_shared_reports_and_records_without_text(tmp_path):
    import csv

    make_dataset(tmp_path)
    path = tmp_path / "manifest.csv"
    rows = list(csv.DictReader(path.open()))
    tests = [r for r in rows if r["split"] == "test"]
    tests[0]["text"] = ""                    # no report: not a query
    tests[2]["text"] = tests[1]["text"]      # one report shared by two images (one study)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cfg = config(tmp_path, {"kind": "retrieval"},
                 evaluation={"dataset": {"manifest": "manifest.csv", "split": "test"},
                             "bootstrap": 20, "baselines": []})
    doc = run_experiment(cfg).document
    assert doc["data"]["evaluation"]["without_text"] == 1
    assert doc["data"]["evaluation"]["image_queries"] == len(tests) - 1


@pytest.mark.usefixtures("components")
def test_k_shot_probe_curve_in_results_and_anchors_plot(tmp_path):
    make_dataset(tmp_path)
    task = {"kind": "zero-shot", "positive_label": "pneumonia",
            "prompts": {"normal": ["clear lungs"], "pneumonia": ["focal consolidation"]}}
    cfg = config(tmp_path, task, evaluation={
        "dataset": {"manifest": "manifest.csv", "split": "test"}, "bootstrap": 20,
        "baselines": ["probe", "k-shot-probe"], "probe_shots": [1, 4]})
    result = run_experiment(cfg)
    doc = result.document
    assert {"probe", "probe-1-shot", "probe-4-shot"} == set(doc["baselines"])
    assert doc["baselines"]["probe-4-shot"]["anchors"] == "8"  # 4 per class x 2 classes
    from semalign_core.experiments.report import _k_shot_points

    assert [x for x, _ in _k_shot_points(doc, "auroc")] == [2, 8]
    assert (tmp_path / "out" / "anchors_curve.png").stat().st_size > 0
    assert "4-shot probe" in (tmp_path / "out" / "summary.md").read_text()
