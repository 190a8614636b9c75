"""Experiment reports: ``results.json``, a Markdown summary and matplotlib plots.

Files written into the experiment's output folder (each atomically):

``results.json``          config, encoder fingerprints, library versions, every metric with its CI
``summary.md``            the result table (per anchor count: mean over seeds with the per-seed
                          bootstrap CI averaged) and baselines
``report.html``           the same in one self-contained page: plots inline, config, fingerprints
``roc.png``               ROC curves at the largest anchor count (one per seed) and baselines
``confusion_matrix.png``  row-normalised rates at the largest anchor count, mean over seeds
``anchors_curve.png``     the primary metric vs. the number of anchors, with its CI band:
                          how many anchors are worth collecting

Plots use matplotlib's non-interactive Agg backend (no display needed); ROC and confusion plots
exist only for the classification tasks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fileio import atomic_path

if TYPE_CHECKING:
    from .runner import ExperimentResult

__all__ = ["anchors_plot", "confusion_plot", "confusion_rates", "describe_encoder", "format_table",
           "interval_legend", "method_label", "plural", "roc_plot", "write_report"]

_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced acc.", "macro_f1": "macro F1",
           "auroc": "AUROC", "mean_cosine": "mean cosine", "mse": "MSE", "top1": "top-1",
           "top5": "top-5", "mrr": "MRR", "cka": "CKA"}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _cell(ci: dict[str, Any]) -> str:
    return f"{ci['estimate']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def _label(document: dict[str, Any], metric: str) -> str:
    # the task's own column heading first (results.json carries it), then the known names
    return document.get("metric_labels", {}).get(metric) or _LABELS.get(metric, metric)


def plural(n: int, word: str) -> str:
    """``1 seed``, ``5 seeds``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def method_label(document: dict[str, Any]) -> str:
    """The task, marked transductive when its decision rule was fitted to the test batch."""
    task_config = document.get("config", {}).get("task", {})
    if isinstance(task_config, dict) and task_config.get("calibration") == "gmm":
        return f"{document['task']} + gmm threshold (transductive)"
    return str(document["task"])


def _interval_note(entry: dict[str, Any]) -> str:
    method = next(iter(entry["metrics"].values()), {}).get("method", "")
    if "averaged over seeds" in method:
        return f"bootstrap, mean of {plural(entry['seeds'], 'seed')}"
    return "bootstrap"


def format_table(document: dict[str, Any], *, markdown: bool = False) -> str:
    """The result table of a ``results.json`` document: one row per anchor count, then the
    baselines; cells are ``estimate [low, high]`` and the last column says how the interval was
    obtained (every one is a bootstrap over the evaluation items, so rows compare)."""
    metrics = list(document["summary"][0]["metrics"]) if document["summary"] else []
    header = ["method", "anchors", "seeds", *(_label(document, m) for m in metrics), "interval"]
    rows = []
    for entry in document["summary"]:
        rows.append([method_label(document), str(entry["anchors"]), str(entry["seeds"]),
                     *(_cell(entry["metrics"][m]) for m in metrics), _interval_note(entry)])
    for name, base in document.get("baselines", {}).items():
        rows.append([base.get("label", name), base.get("anchors", "-"), "-",
                     *(_cell(base["metrics"][m]) if m in base["metrics"] else "-"
                       for m in metrics), "bootstrap"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))
                     .rstrip() for r in [header, *rows])


def _markdown(document: dict[str, Any], files: dict[str, Path]) -> str:
    cfg = document["config"]
    fp = document["fingerprints"]
    conf = round(cfg["evaluation"]["confidence"] * 100)
    lines = [f"# {document['name']}", ""]
    if document.get("description"):
        lines += [document["description"], ""]
    lines += [
        f"- task: **{document['task']}**",
        f"- source encoder: {describe_encoder(fp['source'])}",
        f"- target encoder: {describe_encoder(fp['target'])}",
        f"- translator: solver `{cfg['translator']['solver']}` {cfg['translator']['params']}, "
        f"space normalisers source `{_norm(cfg, 'source')}`, target `{_norm(cfg, 'target')}`",
        f"- anchors: selector `{cfg['anchors']['selector']['name']}` from a pool of "
        f"{document['data']['pool']['items']} items; "
        f"{plural(len(cfg['seeds']), 'anchor seed')} {cfg['seeds']}",
        f"- evaluation: {document['data']['evaluation']['items']} items"
        + (f", classes {document['data']['evaluation']['class_counts']}"
           if document['data']['evaluation'].get('class_counts') else ""),
        "",
        interval_legend(document, conf),
        "",
        format_table(document, markdown=True),
        "",
    ]
    for name in files:
        if name.endswith(".png"):
            lines += [f"![{name}]({name})", ""]
    lines += [f"Encoding took {document['timing']['encode_s']:.1f} s; full results in "
              f"`results.json`.", ""]
    return "\n".join(lines)


def describe_encoder(fp: dict[str, Any]) -> str:
    """``name/architecture`` once: an architecture that already names the encoder (a hub id such
    as ``sentence-transformers/all-MiniLM-L6-v2``) is not prefixed again."""
    name, arch = str(fp["encoder"]), str(fp["architecture"])
    shown = arch if arch.split("/")[0] == name or arch.startswith(name) else f"{name}/{arch}"
    return f"`{shown}` ({fp['weights']}, {fp['dim']}-d)"


def interval_legend(document: dict[str, Any], conf: int) -> str:
    """One sentence saying what every interval in the table is."""
    cfg = document["config"]
    items = document["data"]["evaluation"]["items"]
    text = (f"Cells are estimate [{conf}% CI]. Every interval is a bootstrap over the {items} "
            f"evaluation items ({cfg['evaluation']['bootstrap']} resamples), so rows compare. ")
    seeds = len(cfg["seeds"])
    if seeds > 1:
        text += (f"Rows with {plural(seeds, 'anchor seed')} show the mean over the seeds and the "
                 f"per-seed bounds averaged; the narrower t-interval of the mean over seeds "
                 f"(anchor draw only) is `over_seeds` in results.json.")
    if method_label(document).endswith("(transductive)"):
        text += (" The gmm threshold was fitted to the unlabeled evaluation batch itself "
                 "(transductive): it does not apply to one image at a time.")
    return text


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display: the report must render on servers and CI
    import matplotlib.pyplot as plt

    return plt


def anchors_plot(result: ExperimentResult, out: Path) -> Path:
    """The primary metric vs. the number of anchors with its CI band, and the baselines."""
    plt = _pyplot()
    doc = result.document
    metric = doc["primary_metric"]
    counts = [e["anchors"] for e in doc["summary"]]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    est = np.asarray([e["metrics"][metric]["estimate"] for e in doc["summary"]])
    low = np.asarray([e["metrics"][metric]["low"] for e in doc["summary"]])
    high = np.asarray([e["metrics"][metric]["high"] for e in doc["summary"]])
    # an error bar at every count, so one anchor count is a bar and not a lone dot
    ax.errorbar(counts, est, yerr=[est - low, high - est], marker="o", capsize=4,
                label=method_label(doc))
    if len(counts) > 1:
        ax.fill_between(counts, low, high, alpha=0.2)
    shown = [*low, *high]
    shots = _k_shot_points(doc, metric)
    if shots:
        # the probe curve on the same axis: x is the number of labelled images it trained on,
        # so a reader sees how many labels the alignment is worth
        xs, ys = zip(*shots, strict=True)
        ax.plot(xs, ys, marker="s", linestyle="--", color="tab:orange",
                label="k-shot probe (x = labelled images)")
        shown += list(ys)
        # tick every probe size that does not crowd an anchor count's tick (log axis)
        counts = sorted({*counts, *(x for x in xs
                                    if all(max(x, c) / min(x, c) >= 1.4 for c in counts))})
    for name, base in doc.get("baselines", {}).items():
        if metric in base["metrics"] and not name.startswith("probe-"):
            value = base["metrics"][metric]["estimate"]
            shown.append(value)
            ax.axhline(value, color="grey",
                       linestyle={"probe": "--", "chance": ":"}.get(name, "-."),
                       label=base.get("label", name))
    ax.set_ylim(*_data_range(shown))
    if len(counts) > 1 and max(counts) / max(min(counts), 1) >= 4:
        ax.set_xscale("log")
        ax.minorticks_off()  # the anchor counts themselves are the ticks
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlabel("number of anchors" + (" (k-shot probe: labelled images)" if shots else ""))
    ax.set_ylabel(_label(doc, metric))
    conf = doc["config"]["evaluation"]["confidence"]
    ax.set_title(f"{_label(doc, metric)} vs. anchors (bars: {conf:.0%} bootstrap CI)")
    ax.legend(loc="best", fontsize="small")
    path = _save(fig, out / "anchors_curve.png")
    plt.close(fig)
    return path


def _k_shot_points(doc: dict[str, Any], metric: str) -> list[tuple[int, float]]:
    """(labelled images, metric) of the ``probe-<k>-shot`` baselines, by image count."""
    points = [(int(base["anchors"]), base["metrics"][metric]["estimate"])
              for name, base in doc.get("baselines", {}).items()
              if name.startswith("probe-") and name.endswith("-shot")
              and metric in base["metrics"]]
    return sorted(points)


def _data_range(values: list[float]) -> tuple[float, float]:
    """A y-range around what is drawn, with a margin (never a fixed 0-1 that flattens it)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = max(0.08 * (hi - lo), 0.01)
    return lo - pad, hi + pad


def _top_runs(result: ExperimentResult) -> tuple[int, list[int]]:
    """The largest anchor count and its seeds that have curves."""
    top = max(e["anchors"] for e in result.document["summary"])
    seeds = [int(k.split("/")[1]) for k, v in result.curves.items()
             if k.startswith(f"{top}/") and "y_score" in v]
    return top, seeds


def roc_plot(result: ExperimentResult, out: Path) -> Path | None:
    """ROC curves at the largest anchor count (binary: one per seed, and the probe;
    otherwise one-vs-rest for the first seed). ``None`` without classification curves."""
    from sklearn.metrics import RocCurveDisplay

    top, seeds = _top_runs(result)
    if "y_true" not in result.curves or not seeds:
        return None
    plt = _pyplot()
    y_true = np.asarray(result.curves["y_true"])
    classes = result.document["classes"]
    fig, ax = plt.subplots(figsize=(5, 5))
    if len(classes) == 2:
        for seed in seeds:
            RocCurveDisplay.from_predictions(y_true, result.curves[f"{top}/{seed}"]["y_score"],
                                             pos_label=classes[1], ax=ax,
                                             name=f"{top} anchors, seed {seed}",
                                             curve_kwargs={"alpha": 0.7})
        probe = result.curves.get("baseline/probe")
        if probe is not None:
            RocCurveDisplay.from_predictions(y_true, probe["y_score"], pos_label=classes[1],
                                             ax=ax, name="supervised probe",
                                             curve_kwargs={"linestyle": "--", "color": "black"})
        ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
        ax.set_title(f"ROC ({classes[1]} vs. {classes[0]})")
    else:
        scores = result.curves[f"{top}/{seeds[0]}"]["y_score"]
        for j, cls in enumerate(classes):
            if 0 < np.sum(y_true == cls) < len(y_true):
                RocCurveDisplay.from_predictions(y_true == cls, scores[:, j], ax=ax,
                                                 name=f"{cls} vs. rest")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_title(f"one-vs-rest ROC, {top} anchors, seed {seeds[0]}")
    ax.legend(loc="lower right", fontsize="x-small")
    path = _save(fig, out / "roc.png")
    plt.close(fig)
    return path


def confusion_rates(result: ExperimentResult, count: int, seeds: list[int]) -> np.ndarray:
    """Row-normalised confusion matrix (rows: true class) averaged over ``seeds``."""
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(result.curves["y_true"])
    classes = result.document["classes"]
    return np.mean([confusion_matrix(y_true, result.curves[f"{count}/{s}"]["y_pred"],
                                     labels=classes, normalize="true") for s in seeds], axis=0)


def confusion_plot(result: ExperimentResult, out: Path) -> Path | None:
    """The row-normalised confusion matrix at the largest anchor count: the mean over seeds of
    each seed's rates (each row sums to 1: the share of a true class given each label)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    top, seeds = _top_runs(result)
    if "y_true" not in result.curves or not seeds:
        return None
    plt = _pyplot()
    y_true = np.asarray(result.curves["y_true"])
    classes = result.document["classes"]
    rates = confusion_rates(result, top, seeds)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ConfusionMatrixDisplay(rates, display_labels=classes).plot(ax=ax, colorbar=False,
                                                               values_format=".2f")
    how = "mean of " + plural(len(seeds), "seed") if len(seeds) > 1 else f"seed {seeds[0]}"
    ax.set_title(f"{method_label(result.document)}, {plural(top, 'anchor')}\n"
                 f"row-normalised rates, {how} (n={len(y_true)})", fontsize="medium")
    path = _save(fig, out / "confusion_matrix.png")
    plt.close(fig)
    return path


def _plots(result: ExperimentResult, out: Path) -> dict[str, Path]:
    files = {"anchors_curve.png": anchors_plot(result, out)}
    if result.task is not None:  # the task draws its own figures (ROC, confusion, ...)
        files.update(result.task.plots(result, out))
    return files


def write_report(result: ExperimentResult, *, plots: bool = True) -> dict[str, Path]:
    """Write ``results.json``, ``summary.md``, ``report.html`` and (optionally) the plots;
    return their paths. ``results.json``'s ``timing`` gains ``plots_s`` and ``report_s`` (the
    plots plus the three documents), so it is written last."""
    started = time.perf_counter()
    out = Path(result.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    if plots:
        files.update(_plots(result, out))
    plots_s = time.perf_counter() - started
    document = result.document
    document["files"] = sorted([*files, "results.json", "summary.md", "report.html"])
    # the documents list results.json before it exists: it is written last (with the timing)
    listed = {**files, "results.json": out / "results.json"}
    summary = out / "summary.md"
    with atomic_path(summary) as tmp:
        tmp.write_text(_summary_text(result, listed), encoding="utf-8")
    listed["summary.md"] = summary
    from .report_html import html_report

    page = out / "report.html"
    with atomic_path(page) as tmp:
        tmp.write_text(html_report(document, listed), encoding="utf-8")
    listed["report.html"] = page
    document["timing"].update(plots_s=round(plots_s, 3),
                              report_s=round(time.perf_counter() - started, 3))
    with atomic_path(listed["results.json"]) as tmp:
        tmp.write_text(json.dumps(document, indent=2, default=_json_default) + "\n",
                       encoding="utf-8")
    return {**files, "results.json": listed["results.json"], "summary.md": summary,
            "report.html": page}


def _summary_text(result: ExperimentResult, files: dict[str, Path]) -> str:
    text = _markdown(result.document, files)
    if result.task is not None:
        extra = result.task.report_sections(result)
        if extra:  # after the result table and the figures, before the footer line
            head, _, foot = text.rpartition("Encoding took")
            text = head + "\n".join(extra) + "\nEncoding took" + foot
    return text


def _norm(cfg: dict[str, Any], side: str) -> Any:
    # results.json files written before the rename say "<side>_preprocessing"
    tr = cfg["translator"]
    return tr.get(f"{side}_norm", tr.get(f"{side}_preprocessing"))
