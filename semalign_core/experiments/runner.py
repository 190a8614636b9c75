"""The experiment runner behind ``semalign run CONFIG``.

One run: build both encoders from the registry, read the datasets, encode everything through the
embedding cache, then for every anchor count and every seed select anchors, fit a
:class:`~semalign_core.Translator` and evaluate the task (zero-shot classification, model
stitching or translation fidelity) with bootstrap confidence intervals. Baselines (a supervised
probe on the source encoder, chance) are evaluated once. Results across seeds are summarised
as mean and a t-interval of the mean; :mod:`semalign_core.experiments.report` writes the files.

>>> from semalign_core.experiments.runner import seed_interval
>>> seed_interval([0.8, 0.9]).estimate
0.85
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._numerics import l2_normalize, retrieval_ranks
from ..align.embeddings import Embeddings
from ..data.manifest import Manifest
from ..data.readers import read_manifest
from ..data.splits import split_by_group
from ..encoding.encoder import Encoder
from ..errors import InvalidInputError
from ..evaluation.metrics import ConfidenceInterval
from .config import DatasetSpec, ExperimentConfig, StitchingTask, ZeroShotTask

__all__ = ["ExperimentResult", "RunContext", "build_encoder", "load_dataset", "pair_by_label",
           "run_experiment", "seed_interval"]

Echo = Callable[[str], None]


# -- helpers shared with the CLI ---------------------------------------------------------------
def load_dataset(spec: DatasetSpec, config: ExperimentConfig | None = None,
                 base_dir: str | os.PathLike[str] | None = None) -> Manifest:
    """The manifest a :class:`~.config.DatasetSpec` describes (split applied)."""
    from .config import resolve_path

    def resolve(value: str) -> Path:
        if config is not None:
            return config.resolve_path(value)
        return resolve_path(value, Path(base_dir) if base_dir else Path.cwd())

    if spec.manifest is not None:
        manifest = read_manifest(resolve(spec.manifest), columns=spec.columns or None)
    elif spec.builtin == "kermany":
        from ..data.kermany import kermany_manifest

        manifest = kermany_manifest(resolve(spec.path or ""), **spec.options)
    else:
        from ..data.openi import openi_manifest

        options = dict(spec.options)
        if "classes" in options and options["classes"] is not None:
            options["classes"] = tuple(options["classes"])
        manifest = openi_manifest(resolve(spec.path or ""), **options)
    if spec.split_by_group is not None:
        s = spec.split_by_group
        manifest = split_by_group(manifest, test_size=s.test_size, seed=s.seed,
                                  names=tuple(s.names))  # type: ignore[arg-type]
    if spec.split is not None:
        manifest = manifest.filter(split=spec.split)
    if not len(manifest):
        raise InvalidInputError(f"dataset {manifest.source} has no items (split "
                                f"{spec.split!r})")
    return manifest


def pair_by_label(labels: Sequence[str], texts_by_label: Mapping[str, Sequence[str]], *,
                  k: int = 1, seed: int = 0) -> list[list[str]]:
    """Give each item ``k`` texts of its own label (class-level pairing).

    Parameters
    ----------
    labels : sequence of str
        One label per item.
    texts_by_label : mapping
        Label -> candidate text ids.
    k : int
        Texts per item, distinct within an item (all of them when a class has fewer).
    seed : int

    Returns
    -------
    list of list of str
        The text ids of each item.

    Raises
    ------
    InvalidInputError
        A label without candidate texts.
    """
    rng = np.random.default_rng(seed)
    out = []
    for label in labels:
        candidates = texts_by_label.get(label)
        if not candidates:
            raise InvalidInputError(f"no text with label {label!r} to pair with (text labels: "
                                    f"{sorted(texts_by_label)})")
        take = min(k, len(candidates))
        out.append([candidates[j] for j in rng.choice(len(candidates), take, replace=False)])
    return out


def split_texts(text_labels: Mapping[str, str], holdout: float, seed: int
                ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per label, shuffle the text ids and keep a ``holdout`` fraction apart.

    Returns ``(pairing, held_out)``, each label -> text ids (the held-out part is disjoint from
    the pairing part, so class embeddings built from it never reuse an anchor's text).
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for text_id, label in text_labels.items():
        by_label.setdefault(label, []).append(text_id)
    pairing, held = {}, {}
    for label in sorted(by_label):
        ids = by_label[label]
        order = [ids[j] for j in rng.permutation(len(ids))]
        cut = round(len(ids) * holdout)
        if holdout > 0 and (cut == 0 or cut == len(ids)):
            raise InvalidInputError(f"label {label!r} has {len(ids)} text(s): too few to hold "
                                    f"out a fraction {holdout} and pair with the rest")
        held[label], pairing[label] = order[:cut], order[cut:]
    return pairing, held


def build_encoder(name: str, options: Mapping[str, Any], *,
                  base: Callable[[str], Path] | None = None) -> Encoder:
    """``get_encoder(name, **options)``; ``weights`` paths are resolved with ``base``."""
    from ..encoding.encoder import get_encoder

    opts = dict(options)
    weights = opts.get("weights")
    if base is not None and isinstance(weights, str) and (
            "/" in weights or weights.endswith((".safetensors", ".pt", ".pth", ".bin"))
            or "$" in weights):
        resolved = base(weights)
        if resolved.exists():
            opts["weights"] = str(resolved)
    encoder = get_encoder(name, **opts)
    with contextlib.suppress(TypeError):  # an unhashable encoder runs on the local engine
        _BUILT[encoder] = (name, opts)
    return encoder


# How each encoder of a run was built: the Ray engine rebuilds it on every actor from these.
_BUILT: weakref.WeakKeyDictionary[Encoder, tuple[str, dict[str, Any]]] = (
    weakref.WeakKeyDictionary())


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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("semalign-core", "scikit-learn", "faiss-cpu", "torch", "torchvision",
                 "sentence-transformers", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    from ..plugins.manager import plugin_infos

    for info in plugin_infos():
        if info.version:
            out[info.name] = info.version
    return out


# -- results -----------------------------------------------------------------------------------
@dataclass
class RunContext:
    """Everything encoded once per run (what each (count, seed) evaluation reuses)."""

    config: ExperimentConfig
    source: Encoder
    target: Encoder
    pool: Manifest
    evaluation: Manifest
    pool_source: Embeddings
    pool_target: Embeddings | None
    eval_source: Embeddings
    eval_target: Embeddings | None = None
    classes: list[str] = field(default_factory=list)
    task_state: dict[str, Any] = field(default_factory=dict)
    cache_stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` returns.

    Attributes
    ----------
    document : dict
        The content of ``results.json``.
    output_dir : Path
    files : dict
        Report file name -> path.
    curves : dict
        Per-(count, seed) arrays for plots (``y_true``, ``y_score``, ``y_pred``).
    """

    document: dict[str, Any]
    output_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)


# -- the run -----------------------------------------------------------------------------------
def _encode(ctx_encoder: Encoder, manifest: Manifest, config: ExperimentConfig, cache_dir: Path,
            stats: dict[str, Any], label: str, progress: bool) -> Embeddings:
    from ..encoding.engines import EngineSpec, encode_dataset

    items = manifest.items(ctx_encoder.modality)
    engine = config.engine
    built = None
    if engine.name == "ray":
        with contextlib.suppress(TypeError):
            built = _BUILT.get(ctx_encoder)
    if built is not None:
        name, options = built
        spec = EngineSpec("ray", workers=engine.workers, address=engine.address,
                          threads=engine.threads)
        emb = encode_dataset(name, items, cache_dir, options=options, ids=manifest.ids,
                             engine=spec, batch_size=config.batch_size, progress=progress)
    else:
        emb = encode_dataset(ctx_encoder, items, cache_dir, ids=manifest.ids,
                             batch_size=config.batch_size, progress=progress)
    stats[label] = emb.metadata["cache"]
    if len(emb) != len(manifest):
        raise InvalidInputError(f"{len(manifest) - len(emb)} {label} item(s) could not be "
                                f"encoded: {emb.metadata.get('skipped')}")
    return emb


def _encode_texts(encoder: Encoder, texts: Sequence[str], cache_dir: Path,
                  stats: dict[str, Any], label: str, config: ExperimentConfig) -> Embeddings:
    from ..encoding.cache import encode_cached

    unique = list(dict.fromkeys(texts))
    emb = encode_cached(encoder, unique, cache_dir, ids=unique, batch_size=config.batch_size)
    stats[label] = emb.metadata["cache"]
    return emb


def _class_order(classes: Sequence[str], positive: str | None) -> list[str]:
    ordered = sorted(classes)
    if positive is not None:
        if positive not in ordered:
            raise InvalidInputError(f"positive_label {positive!r} is not one of the classes "
                                    f"{ordered}")
        ordered = [c for c in ordered if c != positive] + [positive]
    return ordered


def _class_mean(vectors: np.ndarray) -> np.ndarray:
    """Unit mean of unit rows: one class's ensemble from one source of texts."""
    return l2_normalize(l2_normalize(np.asarray(vectors, dtype=np.float64)).mean(axis=0))


def _prepare_zero_shot(ctx: RunContext, task: ZeroShotTask, cache_dir: Path) -> None:
    from ..zeroshot.classifier import PromptSet

    config = ctx.config
    fixed: list[dict[str, np.ndarray]] = []  # per text source: class -> unit ensemble vector
    classes: set[str] = set()
    if task.prompts is not None:
        ps = (PromptSet.from_templates(task.prompts, task.templates) if task.templates
              else PromptSet(task.prompts))
        texts = list(ps.texts())
        emb = _encode_texts(ctx.target, texts, cache_dir, ctx.cache_stats, "prompts", config)
        ctx.task_state.update(prompt_set=ps, prompt_embeddings=emb)
        fixed.append({c: _class_mean(emb.subset(list(p)).vectors)
                      for c, p in ps.prompts.items()})
        classes.update(ps.classes)
    spec = task.class_texts
    if spec is not None and spec.dataset is not None:
        manifest = load_dataset(spec.dataset, config)
        grouped: dict[str, list[str]] = {}
        for record in manifest:
            if record.text and len(record.labels) == 1:
                grouped.setdefault(record.labels[0], []).append(record.text)
        grouped = _limit(grouped, spec.max_per_class, spec.seed)
        emb = _encode_texts(ctx.target, [t for v in grouped.values() for t in v], cache_dir,
                            ctx.cache_stats, "class_texts", config)
        fixed.append({c: _class_mean(emb.subset(list(dict.fromkeys(v))).vectors)
                      for c, v in grouped.items()})
        classes.update(grouped)
    if spec is not None and spec.holdout:
        classes.update(ctx.task_state["text_labels"].values())
    ctx.task_state["fixed_class_sources"] = fixed
    ctx.classes = _class_order(sorted(classes), task.positive_label)
    for source in fixed:
        missing = sorted(set(ctx.classes) - set(source))
        if missing:
            raise InvalidInputError(f"classes {missing} have no prompt or class text in one of "
                                    f"the task's text sources")


def _limit(grouped: dict[str, list[str]], limit: int | None, seed: int) -> dict[str, list[str]]:
    if limit is None:
        return grouped
    rng = np.random.default_rng(seed)
    return {k: [v[i] for i in sorted(rng.permutation(len(v))[:limit])] for k, v in grouped.items()}


def _class_embeddings(ctx: RunContext, held_out: Mapping[str, list[str]] | None) -> Embeddings:
    """Raw-space class embeddings: the mean over text sources of each source's unit ensemble."""
    task = ctx.config.task
    assert isinstance(task, ZeroShotTask)
    sources = list(ctx.task_state["fixed_class_sources"])
    if task.class_texts is not None and task.class_texts.holdout:
        assert held_out is not None
        texts = ctx.task_state["text_embeddings"]
        chosen = _limit({k: list(v) for k, v in held_out.items()}, task.class_texts.max_per_class,
                        task.class_texts.seed)
        sources.append({c: _class_mean(texts.subset(ids).vectors) for c, ids in chosen.items()})
    # Not renormalised after averaging the sources: the recipe's class vectors are the plain
    # mean of the unit source ensembles (centring in the target space follows).
    rows = np.stack([np.mean([src[c] for src in sources], axis=0) for c in ctx.classes])
    return Embeddings(rows.astype(np.float32), ctx.classes, ctx.target.fingerprint)


def _zero_shot(ctx: RunContext, translator: Any,
               held_out: Mapping[str, list[str]] | None) -> dict[str, Any]:
    from ..zeroshot.classifier import ZeroShotClassifier

    task = ctx.config.task
    assert isinstance(task, ZeroShotTask)
    options = {"space": task.space, "temperature": task.temperature,
               "calibration": task.calibration}
    if task.ensemble == "target" and task.class_texts is None:
        clf = ZeroShotClassifier(translator, ctx.task_state["prompt_embeddings"],
                                 ctx.task_state["prompt_set"], **options)
    else:
        clf = ZeroShotClassifier(translator, _class_embeddings(ctx, held_out), None, **options)
    columns = list(clf.classes_)
    scores = clf.decision_scores(ctx.eval_source)
    scores = scores[:, [columns.index(c) for c in ctx.classes]]
    if task.calibration == "gmm":
        # transductive by request: the threshold comes from this unlabeled evaluation batch
        y_pred = np.asarray(clf.fit_calibration(ctx.eval_source).predict(ctx.eval_source))
    else:
        y_pred = np.asarray(ctx.classes)[scores.argmax(axis=1)]
    return {"y_pred": y_pred, "y_score": _score_for_auroc(scores)}


def _score_for_auroc(scores: np.ndarray) -> np.ndarray:
    # binary: positive minus negative score; ranking equals the positive class's softmax
    # probability but without float32 saturation at 0/1 (ties would distort AUROC)
    return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores


def _prepare_stitching(ctx: RunContext, task: StitchingTask, cache_dir: Path,
                       progress: bool) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    manifest = load_dataset(task.head_data, ctx.config)
    emb = _encode(ctx.target, manifest, ctx.config, cache_dir, ctx.cache_stats, "head_data",
                  progress)
    head = make_pipeline(StandardScaler(), LogisticRegression(**task.head.params))
    head.fit(emb.vectors, manifest.labels())
    ctx.task_state["head"] = head
    ctx.classes = _class_order([str(c) for c in head.classes_], task.positive_label)


def _stitching(ctx: RunContext, translator: Any) -> dict[str, Any]:
    from ..zeroshot.stitching import StitchedClassifier

    clf = StitchedClassifier(translator, ctx.task_state["head"])
    proba = clf.predict_proba(ctx.eval_source).astype(np.float64)
    columns = [str(c) for c in clf.classes_]
    proba = proba[:, [columns.index(c) for c in ctx.classes]]
    y_pred = np.asarray(ctx.classes)[proba.argmax(axis=1)]
    if proba.shape[1] == 2:  # log-odds keep the ranking without saturating
        eps = 1e-300
        score = np.log(proba[:, 1] + eps) - np.log(proba[:, 0] + eps)
    else:
        score = proba
    return {"y_pred": y_pred, "y_score": score}


def _classification_cis(ctx: RunContext, y_pred: np.ndarray, y_score: np.ndarray,
                        seed: int) -> dict[str, ConfidenceInterval]:
    from ..evaluation.metrics import classification_metrics

    ev = ctx.config.evaluation
    y_true = ctx.evaluation.labels()
    out = classification_metrics(y_true, y_pred, y_score, labels=ctx.classes,
                                 n_resamples=ev.bootstrap, confidence=ev.confidence, seed=seed)
    return {k: v for k, v in out.items() if k in ctx.config.metric_names}


def _translation_cis(ctx: RunContext, translator: Any, seed: int) -> dict[str, Any]:
    from ..evaluation.metrics import bootstrap_ci, linear_cka, mean_cosine, mse

    assert ctx.eval_target is not None
    ev = ctx.config.evaluation
    translated = translator.transform(ctx.eval_source.vectors).astype(np.float64)
    target = ctx.eval_target.vectors.astype(np.float64)
    # one rank per item: the bootstrap resamples items (resampling rows would duplicate targets)
    ranks = retrieval_ranks(translated, target)
    kw = {"n_resamples": ev.bootstrap, "confidence": ev.confidence, "seed": seed}
    fns: dict[str, Callable[[], ConfidenceInterval]] = {
        "mean_cosine": lambda: bootstrap_ci(mean_cosine, translated, target, **kw),
        "mse": lambda: bootstrap_ci(mse, translated, target, **kw),
        "cka": lambda: bootstrap_ci(linear_cka, translated, target, **kw),
        "top1": lambda: bootstrap_ci(lambda r: float(np.mean(r < 1)), ranks, **kw),
        "top5": lambda: bootstrap_ci(lambda r: float(np.mean(r < 5)), ranks, **kw),
        "mrr": lambda: bootstrap_ci(lambda r: float(np.mean(1.0 / (r + 1.0))), ranks, **kw),
    }
    return {name: fns[name]() for name in ctx.config.metric_names}


def _baselines(ctx: RunContext) -> dict[str, dict[str, Any]]:
    """Supervised probe on the source encoder (all labelled pool items) and chance."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, dict[str, Any]] = {}
    wanted = ctx.config.evaluation.baselines
    if ctx.config.task.kind == "translation" or not wanted:
        return out
    labelled = [i for i, r in enumerate(ctx.pool) if len(r.labels) == 1]
    if not labelled:
        return out
    X = ctx.pool_source.vectors[labelled]
    y = np.asarray([ctx.pool.records[i].labels[0] for i in labelled])
    binary = len(ctx.classes) == 2
    seed = ctx.config.seeds[0]
    if "probe" in wanted and len(set(y.tolist())) >= 2:
        # scikit-learn's defaults, nothing tuned: an honest reference, not a tuned competitor
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        probe.fit(X, y)
        proba = probe.predict_proba(ctx.eval_source.vectors)
        cols = [str(c) for c in probe.classes_]
        proba = np.column_stack([proba[:, cols.index(c)] if c in cols
                                 else np.zeros(len(proba)) for c in ctx.classes])
        y_pred = np.asarray(ctx.classes)[proba.argmax(axis=1)]
        if binary:
            # the log-odds rank like the probability but never saturate to ties at 0 or 1
            score = probe.decision_function(ctx.eval_source.vectors)
            if cols[1] != ctx.classes[1]:
                score = -score
        else:
            score = proba
        out["probe"] = {"description": f"logistic regression (standardised, C=1) on all {len(y)} "
                                       f"labelled pool items, source encoder",
                        "metrics": _classification_cis(ctx, y_pred, score, seed),
                        "y_pred": y_pred, "y_score": score}
    if "chance" in wanted:
        dummy = DummyClassifier(strategy="most_frequent").fit(X, y)
        y_pred = dummy.predict(ctx.eval_source.vectors)
        score = np.zeros(len(y_pred)) if binary else np.zeros((len(y_pred), len(ctx.classes)))
        out["chance"] = {"description": "always the most frequent pool class; constant score",
                         "metrics": _classification_cis(ctx, y_pred, score, seed),
                         "y_pred": y_pred, "y_score": score}
    return out


def _pool_targets(ctx: RunContext, seed: int
                  ) -> tuple[Embeddings, dict[str, list[str]] | None]:
    """The pool's target-side embeddings for one seed (and the held-out texts per class)."""
    spec = ctx.config.anchors.texts
    if spec is None:
        assert ctx.pool_target is not None
        return ctx.pool_target, None
    texts: Embeddings = ctx.task_state["text_embeddings"]
    # the pairing changes with the run seed (offset by the spec's own seed)
    pairing, held = split_texts(ctx.task_state["text_labels"], spec.holdout, spec.seed + seed)
    chosen = pair_by_label(ctx.pool.labels(), pairing, k=spec.k, seed=spec.seed + seed)
    vectors = np.stack([_class_mean(texts.subset(ids).vectors) for ids in chosen])
    emb = Embeddings(vectors.astype(np.float32), ctx.pool.ids, texts.fingerprint,
                     {"paired_texts": chosen})
    return emb, held


def _ci_dict(ci: ConfidenceInterval) -> dict[str, Any]:
    return ci.to_dict()


def _check_components(config: ExperimentConfig) -> None:
    """Build the selector and the solver and parse the normalisers once, before any encoding:
    a typo in a name or a parameter then costs seconds, not the minutes encoding takes."""
    from ..align.anchors import get_anchor_selector
    from ..align.normalizers import parse_steps
    from ..align.solvers import get_solver

    get_anchor_selector(config.anchors.selector.name, seed=config.seeds[0],
                        **config.anchors.selector.params)
    get_solver(config.translator.solver, **(config.translator.params or {}))
    parse_steps(config.translator.source_norm)
    parse_steps(config.translator.target_norm)


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
        Write ``results.json``, ``summary.md`` and the plots into ``config.output_dir``.

    Returns
    -------
    ExperimentResult
    """
    from ..align.anchors import get_anchor_selector
    from ..align.translator import Translator

    say = echo or (lambda _msg: None)
    started = time.perf_counter()
    output_dir = config.resolve_path(config.output_dir)
    cache_dir = (config.resolve_path(config.cache_dir) if config.cache_dir
                 else output_dir / "cache")
    source = build_encoder(config.encoders.source.name, config.encoders.source.options,
                           base=config.resolve_path)
    target = build_encoder(config.encoders.target.name, config.encoders.target.options,
                           base=config.resolve_path)
    _check_components(config)
    pool = load_dataset(config.anchors.dataset, config)
    evaluation = load_dataset(config.evaluation.dataset, config)
    too_many = [n for n in config.anchors.counts if n > len(pool)]
    if too_many:
        raise InvalidInputError(f"anchor count(s) {too_many} exceed the pool of {len(pool)} "
                                f"items")
    say(f"pool: {len(pool)} items; evaluation: {len(evaluation)} items")
    stats: dict[str, Any] = {}
    t0 = time.perf_counter()
    ctx = RunContext(
        config, source, target, pool, evaluation,
        pool_source=_encode(source, pool, config, cache_dir, stats, "pool_source", progress),
        pool_target=None,
        eval_source=_encode(source, evaluation, config, cache_dir, stats, "eval_source",
                            progress),
        cache_stats=stats)
    pairing = config.anchors.texts
    if pairing is None:
        ctx.pool_target = _encode(target, pool, config, cache_dir, stats, "pool_target",
                                  progress)
    else:
        texts = load_dataset(pairing.dataset, config).filter(has=("text", "labels"))
        ctx.task_state["text_embeddings"] = _encode(target, texts, config, cache_dir, stats,
                                                    "pairing_texts", progress)
        ctx.task_state["text_labels"] = {r.id: r.labels[0] for r in texts
                                         if len(r.labels) == 1}
    task = config.task
    if task.kind == "translation":
        ctx.eval_target = _encode(target, evaluation, config, cache_dir, stats, "eval_target",
                                  progress)
    elif isinstance(task, ZeroShotTask):
        _prepare_zero_shot(ctx, task, cache_dir)
    else:
        _prepare_stitching(ctx, task, cache_dir, progress)
    encode_s = time.perf_counter() - t0
    say(f"encoded in {encode_s:.1f} s (cache: "
        f"{sum(s['hits'] for s in stats.values())} hits, "
        f"{sum(s['misses'] for s in stats.values())} misses)")
    if task.kind != "translation":
        unknown = sorted(set(evaluation.labels().tolist()) - set(ctx.classes))
        if unknown:
            raise InvalidInputError(f"evaluation labels {unknown} are not among the task's "
                                    f"classes {ctx.classes}")
    pool_labels = None
    if config.anchors.use_labels and all(len(r.labels) == 1 for r in pool):
        pool_labels = pool.labels()

    runs: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    paired: dict[int, tuple[Embeddings, dict[str, list[str]] | None]] = {}
    for n in config.anchors.counts:
        for seed in config.seeds:
            if seed not in paired:
                paired[seed] = _pool_targets(ctx, seed)
            pool_target, held_out = paired[seed]
            selector = get_anchor_selector(config.anchors.selector.name, seed=seed,
                                           **config.anchors.selector.params)
            index = selector.select(ctx.pool_source.vectors, n, labels=pool_labels)
            translator = Translator(config.translator.solver,
                                    source_norm=config.translator.source_norm,
                                    target_norm=config.translator.target_norm,
                                    solver_params=config.translator.params or None)
            translator.fit(ctx.pool_source.subset(index), pool_target.subset(index))
            if task.kind == "translation":
                metrics = _translation_cis(ctx, translator, seed)
            else:
                out = (_zero_shot(ctx, translator, held_out) if task.kind == "zero-shot"
                       else _stitching(ctx, translator))
                metrics = _classification_cis(ctx, out["y_pred"], out["y_score"], seed)
                curves[f"{n}/{seed}"] = out
            runs.append({"anchors": n, "seed": seed,
                         "anchor_ids": [ctx.pool.ids[i] for i in index],
                         "metrics": {k: _ci_dict(v) for k, v in metrics.items()}})
            say(f"anchors {n:>4}  seed {seed:>3}  " + "  ".join(
                f"{k} {v.estimate:.3f}" for k, v in metrics.items()))

    summary = []
    for n in config.anchors.counts:
        rows = [r for r in runs if r["anchors"] == n]
        entry: dict[str, Any] = {"anchors": n, "seeds": len(rows), "metrics": {}}
        for name in config.metric_names:
            values = [r["metrics"][name]["estimate"] for r in rows]
            if len(rows) > 1:
                ci = seed_interval(values, config.evaluation.confidence).to_dict()
                ci["method"] = "t-interval over seeds"
            else:
                ci = dict(rows[0]["metrics"][name])
                ci["method"] = "bootstrap over evaluation items"
            ci["std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            ci["values"] = values
            entry["metrics"][name] = ci
        summary.append(entry)

    baselines = _baselines(ctx)
    for name, base in baselines.items():
        curves[f"baseline/{name}"] = {"y_pred": base.pop("y_pred"),
                                      "y_score": base.pop("y_score")}
        base["metrics"] = {k: _ci_dict(v) for k, v in base["metrics"].items()}
    document: dict[str, Any] = {
        "semalign_results_version": 1,
        "name": config.name,
        "description": config.description,
        "task": task.kind,
        "config": config.to_dict(),
        "fingerprints": {"source": source.fingerprint.to_dict(),
                         "target": target.fingerprint.to_dict()},
        "versions": _versions(),
        "data": {"pool": {"source": pool.source, "items": len(pool)},
                 "evaluation": {"source": evaluation.source, "items": len(evaluation),
                                "classes": ctx.classes if task.kind != "translation" else None,
                                "class_counts": _counts(evaluation) if task.kind != "translation"
                                else None}},
        "classes": ctx.classes,
        "primary_metric": config.primary_metric,
        "summary": summary,
        "runs": runs,
        "baselines": baselines,
        "cache": stats,
        "timing": {"encode_s": round(encode_s, 3),
                   "total_s": round(time.perf_counter() - started, 3)},
    }
    if task.kind != "translation":
        curves["y_true"] = evaluation.labels()
    result = ExperimentResult(document, output_dir, curves=curves)
    if write_report:
        from .report import write_report as _write

        result.files = _write(result, plots=config.report.plots)
    return result


def _counts(manifest: Manifest) -> dict[str, int]:
    from collections import Counter

    return dict(sorted(Counter(manifest.labels().tolist()).items()))
