"""What a run produces: :class:`ExperimentResult`, the ``results.json`` document and the
summary over seeds.

>>> seed_interval([0.8, 0.9]).estimate
0.85
"""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evaluation.metrics import ConfidenceInterval

if TYPE_CHECKING:
    from .context import RunContext
    from .tasks.base import Baseline, Task, TaskEvaluation

__all__ = ["ExperimentResult", "results_document", "run_record", "seed_interval", "summarise"]


@dataclass
class ExperimentResult:
    """What :func:`~semalign_core.experiments.runner.run_experiment` returns.

    Attributes
    ----------
    document : dict
        The content of ``results.json``.
    output_dir : Path
    files : dict
        Report file name -> path.
    curves : dict
        Per-(count, seed) arrays for plots (``"{count}/{seed}"`` -> the task's curves, e.g.
        ``y_pred``, ``y_score``), ``"baseline/{name}"`` and the task's run-level arrays
        (``y_true``).
    task : Task, optional
        The task that was run (its ``plots`` draw the task-specific figures).
    """

    document: dict[str, Any]
    output_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    task: Task | None = None


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> ConfidenceInterval:
    """Mean over seeds with a Student-t confidence interval of the mean.

    With one value the interval is degenerate (``low == high == estimate``); callers report
    the bootstrap interval of that single seed instead.
    """
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if len(arr) < 2:
        return ConfidenceInterval(mean, mean, mean, confidence, 1, 1)
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return ConfidenceInterval(mean, mean - half, mean + half, confidence, len(arr), len(arr))


def run_record(ctx: RunContext, count: int, seed: int, index: np.ndarray,
               evaluation: TaskEvaluation) -> dict[str, Any]:
    """One entry of ``results.json``'s ``runs``."""
    return {"anchors": count, "seed": seed, "anchor_ids": [ctx.pool.ids[i] for i in index],
            "metrics": {k: v.to_dict() for k, v in evaluation.metrics.items()}}


#: How the summary's ``low``/``high`` were obtained (``method`` of each summary metric).
BOOTSTRAP = "bootstrap over evaluation items"
SEED_AVERAGED_BOOTSTRAP = "bootstrap over evaluation items, averaged over seeds"


def summarise(runs: Sequence[dict[str, Any]], counts: Sequence[int], metrics: Sequence[str],
              confidence: float) -> list[dict[str, Any]]:
    """Per anchor count: each metric's mean over seeds with an interval comparable to the
    baselines'.

    The baselines have one bootstrap interval over the evaluation items each, so every row
    gets one too: with several seeds, ``low``/``high`` are the per-seed bootstrap bounds
    averaged over seeds (the spread a reader should expect from the test set for one run at
    this anchor count). The t-interval of the mean over seeds, which measures only the anchor
    draw and is much narrower, is kept as ``over_seeds``.
    """
    summary = []
    for n in counts:
        rows = [r for r in runs if r["anchors"] == n]
        entry: dict[str, Any] = {"anchors": n, "seeds": len(rows), "metrics": {}}
        for name in metrics:
            values = [r["metrics"][name]["estimate"] for r in rows]
            ci = dict(rows[0]["metrics"][name])
            ci["method"] = BOOTSTRAP
            if len(rows) > 1:
                ci.update(estimate=float(np.mean(values)), method=SEED_AVERAGED_BOOTSTRAP,
                          low=float(np.mean([r["metrics"][name]["low"] for r in rows])),
                          high=float(np.mean([r["metrics"][name]["high"] for r in rows])))
                over = seed_interval(values, confidence).to_dict()
                ci["over_seeds"] = {k: over[k] for k in ("estimate", "low", "high")}
            ci["std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            ci["values"] = values
            entry["metrics"][name] = ci
        summary.append(entry)
    return summary


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from ..plugins.manager import plugin_infos

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("semalign-core", "scikit-learn", "faiss-cpu", "torch", "torchvision",
                 "sentence-transformers", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    for info in plugin_infos():
        if info.version:
            out[info.name] = info.version
    return out


def results_document(ctx: RunContext, task: Task, runs: list[dict[str, Any]],
                     baselines: Sequence[Baseline], timing: dict[str, float]) -> dict[str, Any]:
    """The ``results.json`` document of a finished run."""
    config = ctx.config
    described = task.describe(ctx)
    return {
        "semalign_results_version": 1,
        "name": config.name,
        "description": config.description,
        "task": task.kind,
        "config": config.to_dict(),
        "fingerprints": {"source": ctx.source.fingerprint.to_dict(),
                         "target": ctx.target.fingerprint.to_dict()},
        "versions": _versions(),
        "data": {"pool": {"source": ctx.pool.source, "items": len(ctx.pool)},
                 "evaluation": {"source": ctx.evaluation.source, "items": len(ctx.evaluation),
                                **described}},
        "classes": described.get("classes") or [],
        "primary_metric": config.primary_metric,
        "metric_labels": {m: task.metric_labels[m] for m in config.metric_names
                          if m in task.metric_labels},
        "summary": summarise(runs, config.anchors.counts, config.metric_names,
                             config.evaluation.confidence),
        "runs": runs,
        "baselines": {b.name: b.to_dict() for b in baselines},
        "cache": ctx.cache_stats,
        "engine": ctx.engines,
        "timing": {k: round(v, 3) for k, v in timing.items()},
    }
