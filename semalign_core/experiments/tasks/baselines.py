"""The classification baselines: references that need no translator.

``probe``
    Logistic regression on the source encoder's embeddings of every labelled pool item: what
    supervision with all the labels buys.
``chance`` (labelled "majority class of the anchor pool")
    Always the most frequent class of the labelled pool, with a constant score. It is not the
    accuracy of guessing: when the pool's majority is the evaluation set's minority (as for the
    demo), it is below what guessing the evaluation's own majority would score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Baseline

if TYPE_CHECKING:
    from ..context import RunContext
    from .classification import ClassificationTask

__all__ = ["chance_baseline", "probe_baseline"]


def probe_baseline(task: ClassificationTask, context: RunContext, X: np.ndarray,
                   y: np.ndarray) -> Baseline:
    """Standardised logistic regression (scikit-learn's defaults, C=1) on ``(X, y)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = task.classes
    # scikit-learn's defaults, nothing tuned: an honest reference, not a tuned competitor
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(X, y)
    proba = probe.predict_proba(context.eval_source.vectors)
    cols = [str(c) for c in probe.classes_]
    proba = np.column_stack([proba[:, cols.index(c)] if c in cols
                             else np.zeros(len(proba)) for c in classes])
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    if len(classes) == 2:
        # the log-odds rank like the probability but never saturate to ties at 0 or 1
        score = probe.decision_function(context.eval_source.vectors)
        if cols[1] != classes[1]:
            score = -score
    else:
        score = proba
    metrics = task.score(context, y_pred, score, context.config.seeds[0])
    return Baseline("probe", f"logistic regression (standardised, C=1) on all {len(y)} "
                             f"labelled pool items, source encoder", metrics,
                    label="supervised probe", anchors=f"all {len(context.pool)} labelled",
                    curves={"y_pred": y_pred, "y_score": score})


def chance_baseline(task: ClassificationTask, context: RunContext, X: np.ndarray,
                    y: np.ndarray) -> Baseline:
    """The most frequent class of ``y`` for every item, with a constant score."""
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="most_frequent").fit(X, y)
    y_pred = dummy.predict(context.eval_source.vectors)
    majority = str(dummy.classes_[int(np.argmax(dummy.class_prior_))])
    n_classes = len(task.classes)
    score = np.zeros(len(y_pred)) if n_classes == 2 else np.zeros((len(y_pred), n_classes))
    metrics = task.score(context, y_pred, score, context.config.seeds[0])
    return Baseline("chance", f"always {majority!r}, the most frequent class of the {len(y)} "
                              f"labelled pool items; constant score", metrics,
                    label=f"majority class of the anchor pool ({majority})",
                    curves={"y_pred": y_pred, "y_score": score})
