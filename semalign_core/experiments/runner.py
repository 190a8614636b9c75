"""The experiment runner behind ``semalign run CONFIG``: a short pipeline.

Resolve the datasets and encode them (:func:`~.context.build_context`), let the task encode
what it needs (:meth:`~.tasks.base.Task.prepare`), then for every anchor count and seed select
anchors, fit a :class:`~semalign_core.Translator` and ``task.evaluate`` it; the task's baselines
run once; :mod:`.report` writes ``results.json``, ``summary.md`` and the plots. The runner knows
no task: everything task-specific sits behind the :class:`~.tasks.base.Task` interface.

>>> from semalign_core.experiments.runner import seed_interval
>>> seed_interval([0.8, 0.9]).estimate
0.85
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .config import ExperimentConfig
from .context import RunContext, build_context, build_encoder
from .pairing import pair_by_label, split_texts
from .results import ExperimentResult, results_document, run_record, seed_interval

if TYPE_CHECKING:
    from ..align.translator import Translator

__all__ = ["ExperimentResult", "RunContext", "build_encoder", "fit_translator", "pair_by_label",
           "run_experiment", "seed_interval", "select_anchors", "split_texts"]

Echo = Callable[[str], None]


def select_anchors(ctx: RunContext, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` anchors in the pool, drawn by the configured selector."""
    from ..align.anchors import get_anchor_selector

    spec = ctx.config.anchors.selector
    selector = get_anchor_selector(spec.name, seed=seed, **spec.params)
    return selector.select(ctx.pool_source.vectors, count, labels=ctx.pool_labels())


def fit_translator(ctx: RunContext, index: np.ndarray, seed: int) -> Translator:
    """A translator fitted on the anchors ``index`` (paired with this seed's pool targets)."""
    from ..align.translator import Translator

    spec = ctx.config.translator
    translator = Translator(spec.solver, source_norm=spec.source_norm,
                            target_norm=spec.target_norm, solver_params=spec.params or None)
    return translator.fit(ctx.pool_source.subset(index),
                          ctx.pool_targets(seed).embeddings.subset(index))


def run_experiment(config: ExperimentConfig, *, progress: bool = False,
                   echo: Echo | None = None, write_report: bool = True) -> ExperimentResult:
    """Run an experiment and (by default) write its report.

    Parameters
    ----------
    config : ExperimentConfig
        From :func:`semalign_core.experiments.config.load_config` or ``parse_config``.
    progress : bool
        Show encoders' progress bars.
    echo : callable, optional
        Receives one-line progress messages (``print`` in the CLI).
    write_report : bool
        Write ``results.json``, ``summary.md`` and the plots into the output folder
        (``config.resolved_output_dir()``).
    """
    from .tasks.base import get_task

    say = echo or (lambda _msg: None)
    started = time.perf_counter()
    task = get_task(config.task.kind, config=config.task)
    ctx = build_context(config, progress=progress)
    say(f"pool: {len(ctx.pool)} items; evaluation: {len(ctx.evaluation)} items")
    task.prepare(ctx)
    prepare_s = time.perf_counter() - started
    hits, misses = (sum(s[k] for s in ctx.cache_stats.values()) for k in ("hits", "misses"))
    say(f"read and encoded in {prepare_s:.1f} s, of which encoding {ctx.encode_seconds:.1f} s "
        f"(cache: {hits} hits, {misses} misses)")
    runs, curves = [], task.curves(ctx)
    evaluate_started = time.perf_counter()
    for n in config.anchors.counts:
        for seed in config.seeds:
            index = select_anchors(ctx, n, seed)
            evaluation = task.evaluate(ctx, fit_translator(ctx, index, seed), seed)
            runs.append(run_record(ctx, n, seed, index, evaluation))
            curves[f"{n}/{seed}"] = evaluation.curves
            say(f"anchors {n:>4}  seed {seed:>3}  " + "  ".join(
                f"{k} {v.estimate:.3f}" for k, v in evaluation.metrics.items()))
    baselines_started = time.perf_counter()
    baselines = task.baselines(ctx)
    curves.update({f"baseline/{b.name}": b.curves for b in baselines})
    finished = time.perf_counter()
    # the stages a reader (and benchmarks/bench_demo_cache.py) can compare run against run;
    # the report's own plots_s / report_s are added by write_report
    timing = {"prepare_s": prepare_s, "encode_s": ctx.encode_seconds,
              "evaluate_s": baselines_started - evaluate_started,
              "baselines_s": finished - baselines_started, "total_s": finished - started}
    result = ExperimentResult(results_document(ctx, task, runs, baselines, timing),
                              config.resolved_output_dir(), curves=curves, task=task)
    if write_report:
        from .report import write_report as _write

        result.files = _write(result, plots=config.report.plots)
    return result
