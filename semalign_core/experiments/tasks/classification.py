"""What the classification tasks share: class order, metrics with CIs, baselines and plots.

A :class:`ClassificationTask` subclass implements ``_prepare`` (returns the classes) and
``predict`` (labels and scores for the evaluation items); this base scores them, evaluates the
baselines (a supervised probe on the source encoder, chance) and draws the ROC and confusion
plots.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...errors import InvalidInputError
from .base import Baseline, Task, TaskConfig, TaskEvaluation

if TYPE_CHECKING:
    from ...align.translator import Translator
    from ...evaluation.metrics import ConfidenceInterval
    from ..context import RunContext
    from ..runner import ExperimentResult

__all__ = ["CLASSIFICATION_METRICS", "ClassificationConfig", "ClassificationTask",
           "class_order"]

#: Metrics of the classification tasks (``zero-shot``, ``stitching``).
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc")


class ClassificationConfig(TaskConfig):
    """Options every classification task has."""

    positive_label: str | None = None


def class_order(classes: Sequence[str], positive: str | None) -> list[str]:
    """Sorted classes, with ``positive`` (if given) moved last: binary scores rank it."""
    ordered = sorted(classes)
    if positive is not None:
        if positive not in ordered:
            raise InvalidInputError(f"positive_label {positive!r} is not one of the classes "
                                    f"{ordered}")
        ordered = [c for c in ordered if c != positive] + [positive]
    return ordered


class ClassificationTask(Task):
    """Base of tasks that label the evaluation items with one class each."""

    config_model: ClassVar[type[TaskConfig]] = ClassificationConfig
    metrics = CLASSIFICATION_METRICS
    metric_labels = {"accuracy": "accuracy", "balanced_accuracy": "balanced acc.",
                     "macro_f1": "macro F1", "auroc": "AUROC"}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.classes: list[str] = []

    # -- for subclasses ------------------------------------------------------------------------
    @abstractmethod
    def _prepare(self, context: RunContext) -> list[str]:
        """Encode and fit what ``predict`` needs; return the classes (any order)."""

    @abstractmethod
    def predict(self, context: RunContext, translator: Translator, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """``(y_pred, y_score)`` for the evaluation items, columns in ``self.classes`` order.

        Binary ``y_score`` is one column, higher for ``self.classes[1]``.
        """

    # -- the Task interface --------------------------------------------------------------------
    def prepare(self, context: RunContext) -> None:
        positive = getattr(self.config, "positive_label", None)
        self.classes = class_order(self._prepare(context), positive)
        unknown = sorted(set(context.evaluation.labels().tolist()) - set(self.classes))
        if unknown:
            raise InvalidInputError(f"evaluation labels {unknown} are not among the task's "
                                    f"classes {self.classes}")

    def evaluate(self, context: RunContext, translator: Translator, seed: int
                 ) -> TaskEvaluation:
        y_pred, y_score = self.predict(context, translator, seed)
        return TaskEvaluation(self.score(context, y_pred, y_score, seed),
                              {"y_pred": y_pred, "y_score": y_score})

    def score(self, context: RunContext, y_pred: np.ndarray, y_score: np.ndarray,
              seed: int) -> dict[str, ConfidenceInterval]:
        """The configured metrics of these predictions, with bootstrap CIs."""
        from ...evaluation.metrics import classification_metrics

        ev = context.config.evaluation
        out = classification_metrics(context.evaluation.labels(), y_pred, y_score,
                                     labels=self.classes, n_resamples=ev.bootstrap,
                                     confidence=ev.confidence, seed=seed)
        return {k: v for k, v in out.items() if k in context.config.metric_names}

    def describe(self, context: RunContext) -> dict[str, Any]:
        counts = Counter(context.evaluation.labels().tolist())
        return {"classes": list(self.classes), "class_counts": dict(sorted(counts.items()))}

    def curves(self, context: RunContext) -> dict[str, np.ndarray]:
        return {"y_true": context.evaluation.labels()}

    def baselines(self, context: RunContext) -> list[Baseline]:
        """A supervised probe on the source encoder (all labelled pool items) and chance."""
        from .baselines import chance_baseline, probe_baseline

        wanted = context.config.evaluation.baselines
        labelled = [i for i, r in enumerate(context.pool) if len(r.labels) == 1]
        if not wanted or not labelled:
            return []
        X = context.pool_source.vectors[labelled]
        y = np.asarray([context.pool.records[i].labels[0] for i in labelled])
        out = []
        if "probe" in wanted and len(set(y.tolist())) >= 2:
            out.append(probe_baseline(self, context, X, y))
        if "chance" in wanted:
            out.append(chance_baseline(self, context, X, y))
        if "k-shot-probe" in wanted and len(set(y.tolist())) >= 2:
            from .probes import k_shot_baselines

            shots = tuple(sorted(context.config.evaluation.probe_shots))
            out.extend(k_shot_baselines(self, context, X, y, shots))
        return out

    def plots(self, result: ExperimentResult, folder: Path) -> dict[str, Path]:
        from ..report import confusion_plot, roc_plot

        files = {}
        roc = roc_plot(result, folder)
        if roc is not None:
            files[roc.name] = roc
        confusion = confusion_plot(result, folder)
        if confusion is not None:
            files[confusion.name] = confusion
        return files
