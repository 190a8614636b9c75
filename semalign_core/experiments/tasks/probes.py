"""Supervised probe baselines of the tasks: one-vs-rest per finding, and the k-shot curve.

Both train on the source encoder's embeddings of the labelled anchor pool (never the evaluation
items), with scikit-learn's defaults: references, not tuned competitors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..context import RunContext
    from .base import Baseline
    from .classification import ClassificationTask

__all__ = ["k_shot_baselines", "multilabel_probe_scores"]


def multilabel_probe_scores(X: np.ndarray, Y: np.ndarray, X_eval: np.ndarray
                            ) -> tuple[np.ndarray, list[bool]]:
    """Per-finding log-odds on ``X_eval`` from logistic regressions on ``(X, Y[:, j])``.

    Returns the (n_eval, n_findings) scores and, per finding, whether a probe was fitted (a
    finding whose pool labels are all one value gets zeros and ``False``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    S = np.zeros((len(X_eval), Y.shape[1]))
    fitted = []
    for j in range(Y.shape[1]):
        ok = 0 < Y[:, j].sum() < len(Y)
        if ok:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            S[:, j] = probe.fit(X, Y[:, j]).decision_function(X_eval)
        fitted.append(bool(ok))
    return S, fitted


def k_shot_baselines(task: ClassificationTask, context: RunContext, X: np.ndarray,
                     y: np.ndarray, shots: tuple[int, ...]) -> list[Baseline]:
    """One baseline per ``k`` in ``shots``: the k-shot probe (k pool items per class drawn per
    run seed), each metric the mean over the run's seeds with the per-seed bootstrap bounds
    averaged, as the translator rows of the result table.

    A ``k`` larger than the smallest class is left out.
    """
    from ...evaluation.metrics import ConfidenceInterval
    from ...evaluation.probes import k_shot_probe
    from .base import Baseline

    assert context.eval_source is not None
    y_eval = context.evaluation.labels()
    smallest = min(np.unique(y, return_counts=True)[1])
    out = []
    for k in (k for k in shots if k <= smallest):
        runs = [k_shot_probe(X, y, context.eval_source.vectors, y_eval, k, classes=task.classes,
                             seed=s, n_resamples=context.config.evaluation.bootstrap)
                for s in context.config.seeds]
        names = [m for m in context.config.metric_names if m in runs[0].metrics]
        metrics = {m: ConfidenceInterval(
            *(float(np.mean([getattr(r.metrics[m], a) for r in runs]))
              for a in ("estimate", "low", "high")), runs[0].metrics[m].confidence,
            runs[0].metrics[m].n_resamples, min(r.metrics[m].n_valid for r in runs))
            for m in names}
        labelled = k * len(task.classes)
        out.append(Baseline(f"probe-{k}-shot", f"logistic regression on {k} pool item(s) per "
                                               f"class (seeded draw per run seed), source "
                                               f"encoder", metrics, label=f"{k}-shot probe",
                            anchors=str(labelled),
                            curves={"y_pred": runs[-1].y_pred, "y_score": runs[-1].y_score}))
    return out
