"""The experiment runner and its report, with tiny offline encoders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from helpers import HashTextEncoder

from semalign_core import Encoder, Fingerprint, InvalidInputError, hookimpl

for _module in ("pydantic", "sklearn", "matplotlib", "faiss"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from semalign_core.experiments.config import parse_config  # noqa: E402
from semalign_core.experiments.runner import (  # noqa: E402
    pair_by_label,
    run_experiment,
    seed_interval,
    split_texts,
)


class TinyImageEncoder(Encoder):
    """Grayscale thumbnail pixels: a weight-free image encoder (``side`` x ``side``)."""

    name = "tiny-image"
    modality = "image"
    default_batch_size = 64

    def __init__(self, side: int = 8, flip: bool = False) -> None:
        self.side = side
        self.flip = flip
        self.dim = side * side

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("tiny-image", f"thumb{self.side}", "none", self.dim,
                           options={"flip": self.flip})

    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        from PIL import Image

        out = []
        for item in items:
            with Image.open(item) as im:
                thumb = np.asarray(im.convert("L").resize((self.side, self.side)), np.float32)
            out.append((thumb[:, ::-1] if self.flip else thumb).ravel() / 255.0)
        return np.stack(out)


class TinyPlugin:
    @hookimpl
    def register_encoders(self, register):
        register("tiny-image", TinyImageEncoder)
        register("tiny-text", HashTextEncoder)


@pytest.fixture
def tiny(semalign_register_plugin):
    semalign_register_plugin(TinyPlugin(), "tiny-encoders")


def make_dataset(root, n_per_class: int = 30, seed: int = 0):
    """Images whose brightness pattern depends on the class, with class-specific texts."""
    from PIL import Image

    from semalign_core.data.manifest import Manifest, Record

    rng = np.random.default_rng(seed)
    words = {"normal": "clear lungs no consolidation", "pneumonia": "focal consolidation opacity"}
    records = []
    for cls_index, cls in enumerate(("normal", "pneumonia")):
        for i in range(n_per_class):
            pixels = rng.normal(100, 20, (16, 16))
            pixels[:, :8] += 80 * cls_index
            path = root / "img" / f"{cls}-{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
            split = "test" if i % 3 == 0 else "train"
            records.append(Record(f"{cls}-{i}", str(path), f"{words[cls]} case {i}", (cls,),
                                  split, f"patient-{cls}-{i // 2}"))
    return Manifest(records).write(root / "manifest.csv")


def config(tmp_path, task, **overrides):
    cfg = {
        "encoders": {"source": {"name": "tiny-image"}, "target": {"name": "tiny-text",
                                                                  "options": {"dim": 32}}},
        "anchors": {"dataset": {"manifest": "manifest.csv", "split": "train"}, "count": [8, 20],
                    "selector": {"name": "pick"}},
        "translator": _ridge(),
        "task": task,
        "evaluation": {"dataset": {"manifest": "manifest.csv", "split": "test"},
                       "bootstrap": 50},
        "seeds": [0, 1],
        "output_dir": "out",
    }
    cfg.update(overrides)
    return parse_config(cfg, base_dir=tmp_path)


class PickPlugin:
    """A seeded random selector registered for these tests (no plugin dependency)."""

    @hookimpl
    def register_anchor_selectors(self, register):
        from helpers import FirstNSelector

        register("pick", FirstNSelector)

    @hookimpl
    def register_solvers(self, register):
        from semalign_core import Solver

        class Ridge(Solver):
            name = "test-ridge"

            def __init__(self, alpha: float = 1.0) -> None:
                self.alpha = alpha

            def _fit(self, X, Y):
                Xc, Yc = X - X.mean(0), Y - Y.mean(0)
                self.W_ = np.linalg.solve(Xc.T @ Xc + self.alpha * np.eye(X.shape[1]), Xc.T @ Yc)
                self.xm_, self.ym_ = X.mean(0), Y.mean(0)

            def _transform(self, X):
                return (X - self.xm_) @ self.W_ + self.ym_

        register("test-ridge", Ridge)


@pytest.fixture
def components(tiny, semalign_register_plugin):
    semalign_register_plugin(PickPlugin(), "pick-and-ridge")


def _ridge():
    return {"solver": "test-ridge", "params": {"alpha": 1.0}, "source_norm": "standard",
            "target_norm": "center"}


def test_zero_shot_run_writes_every_report_file(tmp_path, components):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "zero-shot", "positive_label": "pneumonia",
                            "prompts": {"normal": ["clear lungs"],
                                        "pneumonia": ["focal consolidation"]}},
                 translator=_ridge())
    result = run_experiment(cfg)
    out = tmp_path / "out"
    for name in ("results.json", "summary.md", "roc.png", "confusion_matrix.png",
                 "anchors_curve.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert name in result.files
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "results.json").read_text())
    assert doc["task"] == "zero-shot" and doc["classes"] == ["normal", "pneumonia"]
    assert doc["config"]["anchors"]["count"] == [8, 20]
    assert doc["fingerprints"]["source"]["encoder"] == "tiny-image"
    assert "numpy" in doc["versions"] and "semalign-core" in doc["versions"]
    assert [r["anchors"] for r in doc["runs"]] == [8, 8, 20, 20]
    for entry in doc["summary"]:
        runs = [r for r in doc["runs"] if r["anchors"] == entry["anchors"]]
        for name, ci in entry["metrics"].items():
            assert ci["low"] <= ci["estimate"] <= ci["high"]
            # comparable with the baselines: the per-seed bootstrap bounds, averaged over seeds
            assert ci["method"] == "bootstrap over evaluation items, averaged over seeds"
            assert len(ci["values"]) == 2
            assert ci["low"] == pytest.approx(np.mean([r["metrics"][name]["low"] for r in runs]))
            assert ci["high"] == pytest.approx(np.mean([r["metrics"][name]["high"] for r in runs]))
            over = ci["over_seeds"]  # the mean's t-interval over the anchor draws, kept apart
            assert over["low"] <= ci["estimate"] <= over["high"]
    assert set(doc["baselines"]) == {"probe", "chance"}
    assert doc["baselines"]["chance"]["metrics"]["auroc"]["estimate"] == 0.5
    # the data separate the classes: the probe is near perfect, zero-shot beats chance
    assert doc["baselines"]["probe"]["metrics"]["auroc"]["estimate"] > 0.95
    assert doc["summary"][-1]["metrics"]["auroc"]["estimate"] > 0.7
    summary = (out / "summary.md").read_text()
    assert "| zero-shot | 20 | 2 |" in summary and "supervised probe" in summary


def test_gmm_calibration_moves_only_the_threshold(tmp_path, components):
    make_dataset(tmp_path)
    task = {"kind": "zero-shot", "positive_label": "pneumonia",
            "prompts": {"normal": ["clear lungs"], "pneumonia": ["focal consolidation"]}}
    plain = run_experiment(config(tmp_path, task, translator=_ridge())).document
    calibrated = run_experiment(config(tmp_path, {**task, "calibration": "gmm"},
                                       translator=_ridge())).document
    assert calibrated["config"]["task"]["calibration"] == "gmm"
    for before, after in zip(plain["runs"], calibrated["runs"], strict=True):
        # a threshold cannot reorder images: AUROC is identical, the labels may differ
        assert after["metrics"]["auroc"] == before["metrics"]["auroc"]


def test_unknown_calibration_is_a_config_error_naming_the_field():
    from semalign_core.experiments.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"task\.zero-shot\.calibration: Input should be "
                                          r"'none' or 'gmm'"):
        parse_config({"encoders": {}, "task": {"kind": "zero-shot", "calibration": "platt",
                                               "prompts": {"a": "x", "b": "y"}}})


def test_second_run_hits_the_cache(tmp_path, components):
    make_dataset(tmp_path)
    task = {"kind": "zero-shot", "prompts": {"normal": "clear", "pneumonia": "opacity"}}
    first = run_experiment(config(tmp_path, task))
    second = run_experiment(config(tmp_path, task))
    assert sum(s["misses"] for s in first.document["cache"].values()) > 0
    assert sum(s["misses"] for s in second.document["cache"].values()) == 0
    assert first.document["summary"] == second.document["summary"]
    for run in (first, second):  # encoding time is part of reading + encoding, and measured
        timing = run.document["timing"]
        assert 0 < timing["encode_s"] <= timing["prepare_s"] <= timing["total_s"]


def test_engine_section_sets_the_shard_size_and_the_run_records_the_engine(tmp_path,
                                                                          components):
    make_dataset(tmp_path)  # 40 train (pool) and 20 test items
    doc = run_experiment(config(tmp_path, {"kind": "translation"}, seeds=[0],
                                engine={"name": "local", "shard_size": 8})).document
    assert doc["config"]["engine"]["shard_size"] == 8
    assert {k: s["shards_written"] for k, s in doc["cache"].items()} == {
        "pool_source": 5, "eval_source": 3, "pool_target": 5, "eval_target": 3}
    assert doc["engine"] == {k: {"name": "local"} for k in doc["cache"]}
    with pytest.raises(ValueError, match="shard_size"):
        config(tmp_path, {"kind": "translation"}, engine={"name": "local", "shard_size": 0})


def test_translation_task(tmp_path, components):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "translation"}, translator=_ridge(), seeds=[3],
                 evaluation={"dataset": {"manifest": "manifest.csv", "split": "test"},
                             "bootstrap": 30, "metrics": ["mean_cosine", "top1", "mrr"]})
    result = run_experiment(cfg)
    doc = result.document
    assert set(doc["summary"][0]["metrics"]) == {"mean_cosine", "top1", "mrr"}
    assert doc["summary"][0]["metrics"]["top1"]["method"] == "bootstrap over evaluation items"
    assert doc["baselines"] == {}
    assert set(result.files) == {"results.json", "summary.md", "report.html", "anchors_curve.png"}


def test_stitching_task(tmp_path, components):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "stitching",
                            "head_data": {"manifest": "manifest.csv", "split": "train"}},
                 encoders={"source": {"name": "tiny-image", "options": {"flip": True}},
                           "target": {"name": "tiny-image"}},
                 translator=_ridge(), seeds=[0])
    doc = run_experiment(cfg).document
    # a flipped thumbnail is a permutation of the target's pixels: stitching recovers the head
    assert doc["summary"][-1]["metrics"]["balanced_accuracy"]["estimate"] > 0.9


def test_run_errors(tmp_path, components):
    make_dataset(tmp_path)
    task = {"kind": "zero-shot", "prompts": {"normal": "clear", "pneumonia": "opacity"}}
    with pytest.raises(InvalidInputError, match=r"anchor count\(s\) \[500\] exceed the pool"):
        run_experiment(config(tmp_path, task, anchors={
            "dataset": {"manifest": "manifest.csv", "split": "train"}, "count": 500,
            "selector": {"name": "pick"}}))
    with pytest.raises(InvalidInputError, match=r"evaluation labels \['pneumonia'\]"):
        run_experiment(config(tmp_path, {"kind": "zero-shot", "prompts": {"normal": "x",
                                                                          "other": "y"}}))


def test_pairing_helpers():
    labels = {f"t{i}": ("a" if i < 10 else "b") for i in range(14)}
    pairing, held = split_texts(labels, 0.5, seed=0)
    for cls in ("a", "b"):
        assert not set(pairing[cls]) & set(held[cls])
        assert sorted(pairing[cls] + held[cls]) == sorted(t for t, c in labels.items()
                                                          if c == cls)
    chosen = pair_by_label(["a", "b", "a"], pairing, k=3, seed=1)
    # k distinct texts, or all of them when the class has fewer ("b" has 2 for pairing)
    assert [len(set(c)) for c in chosen] == [3, 2, 3]
    assert all(labels[t] == want for c, want in zip(chosen, "aba", strict=True) for t in c)
    assert chosen == pair_by_label(["a", "b", "a"], pairing, k=3, seed=1)
    assert chosen != pair_by_label(["a", "b", "a"], pairing, k=3, seed=2)
    with pytest.raises(InvalidInputError, match="no text with label 'c'"):
        pair_by_label(["c"], pairing)


def test_seed_interval_known_answer():
    ci = seed_interval([0.8, 0.9, 1.0])
    # mean 0.9, sd 0.1, t(0.975, 2) = 4.3027
    assert ci.estimate == pytest.approx(0.9)
    assert ci.high - ci.estimate == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert seed_interval([0.7]).low == 0.7


@pytest.mark.slow
@pytest.mark.shared_data
def test_real_data_zero_shot_run(tmp_path, shared, components):
    """The demo's data path (Kermany images + Open-i reports) end to end, tiny encoders."""
    cfg = parse_config({
        "encoders": {"source": {"name": "tiny-image"},
                     "target": {"name": "tiny-text", "options": {"dim": 64}}},
        "anchors": {"dataset": {"builtin": "kermany", "path": "${SEMALIGN_SHARED_DIR}/data/"
                                "kermany-cxr", "split": "train"},
                    "count": 40, "selector": {"name": "pick"},
                    "texts": {"dataset": {"builtin": "openi", "path": str(
                        shared / "data" / "openi-reports" / "NLMCXR_reports.tgz")},
                              "k": 3, "holdout": 0.5}},
        "translator": _ridge(),
        "task": {"kind": "zero-shot", "prompts": {"normal": "no acute disease",
                                                  "pneumonia": "pneumonia"},
                 "class_texts": {"holdout": True, "max_per_class": 50}, "ensemble": "raw"},
        "evaluation": {"dataset": {"builtin": "kermany", "path": str(
            shared / "data" / "kermany-cxr"), "split": "test"}, "bootstrap": 20},
        "seeds": [0, 1],
        "output_dir": str(tmp_path / "out"),
    }, base_dir=tmp_path)
    result = run_experiment(cfg)
    doc = result.document
    assert doc["data"]["evaluation"]["class_counts"] == {"normal": 234, "pneumonia": 390}
    assert {"roc.png", "confusion_matrix.png", "anchors_curve.png", "results.json",
            "summary.md"} <= set(result.files)


def test_ray_config_with_an_encoder_not_built_by_name_warns_and_records_local(tmp_path,
                                                                             components):
    from helpers import HashTextEncoder

    from semalign_core.data.manifest import Manifest, Record
    from semalign_core.experiments.context import Encodings

    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "translation"}, engine={"name": "ray", "workers": 2})
    enc = Encodings(config=cfg, cache_dir=tmp_path / "cache")
    texts = Manifest([Record(f"t{i}", text=f"report {i}") for i in range(3)])
    with pytest.warns(UserWarning, match="not built from its registered name"):
        emb = enc.encode(HashTextEncoder(8), texts, "by_hand")
    assert len(emb) == 3 and enc.engines == {"by_hand": {"name": "local"}}


def test_ray_engine_section_hands_every_field_to_the_engine_spec(tmp_path, components,
                                                                  monkeypatch):
    from semalign_core.data.manifest import Manifest, Record
    from semalign_core.encoding import engines
    from semalign_core.experiments.context import Encodings, build_encoder

    seen, local = {}, engines.encode_dataset

    def spy(encoder, items, cache_dir, *, engine="local", **kwargs):
        seen["engine"] = engine  # no Ray here: what the config hands over, then encode locally
        return local(encoder, items, cache_dir, **kwargs)

    monkeypatch.setattr(engines, "encode_dataset", spy)
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "translation"},
                 engine={"name": "ray", "workers": 3, "address": "auto", "threads": 2,
                         "hash_on": "workers"})
    enc = Encodings(config=cfg, cache_dir=tmp_path / "cache")
    texts = Manifest([Record(f"t{i}", text=f"report {i}") for i in range(3)])
    enc.encode(build_encoder("tiny-text", {}), texts, "reports")
    spec = seen["engine"]
    assert (spec.name, spec.workers, spec.address, spec.threads, spec.hash_on) == (
        "ray", 3, "auto", 2, "workers")
    with pytest.raises(ValueError, match="hash_on apply to engine 'ray'"):
        config(tmp_path, {"kind": "translation"}, engine={"name": "local", "hash_on": "workers"})
