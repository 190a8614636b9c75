"""The per-finding table of a multi-label zero-shot run, for ``summary.md``.

One row per finding: its positives in the evaluation set, the AUROC at the largest anchor count,
the supervised probe's AUROC when it ran, and, with inductive thresholds, the thresholded F1 and
MCC. Cells follow the result table's convention: the mean over seeds, with the per-seed
bootstrap bounds (over evaluation items) averaged over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["per_finding_table"]


def _over_seeds(runs: Sequence[dict[str, Any]], key: str) -> str:
    found = [r["metrics"][key] for r in runs if key in r["metrics"]]
    if not found:
        return "-"
    est, low, high = (float(np.mean([c[k] for c in found])) for k in ("estimate", "low", "high"))
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def per_finding_table(document: dict[str, Any], findings: Sequence[str]) -> list[str]:
    """Markdown lines: a heading and the per-finding table (empty if there are no runs)."""
    runs = document.get("runs") or []
    if not runs:
        return []
    top = max(r["anchors"] for r in runs)
    chosen = [r for r in runs if r["anchors"] == top]
    counts = document["data"]["evaluation"].get("class_counts") or {}
    probe = document.get("baselines", {}).get("probe", {}).get("metrics", {})
    keys = set().union(*(r["metrics"] for r in chosen))
    methods = sorted({k.split("/")[0] for k in keys if k.count("/") == 2})
    header = ["finding", "positives", f"AUROC ({top} anchors)"]
    if probe:
        header.append("probe AUROC")
    for method in methods:
        header += [f"{method} F1", f"{method} MCC"]
    lines = [f"## Per-finding results ({len(chosen)} seed(s), {top} anchors)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in findings:
        row = [name, str(counts.get(name, "-")), _over_seeds(chosen, f"auroc/{name}")]
        if probe:
            ci = probe.get(f"auroc/{name}")
            row.append(f"{ci['estimate']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else "-")
        for method in methods:
            row += [_over_seeds(chosen, f"{method}/f1/{name}"),
                    _over_seeds(chosen, f"{method}/mcc/{name}")]
        lines.append("| " + " | ".join(row) + " |")
    if methods:
        lines += ["", f"Thresholds ({', '.join(methods)}) were fitted per finding on the labelled "
                      f"validation dataset of `task.thresholds` (inductive); AUROC does not "
                      f"depend on them."]
    return [*lines, ""]
