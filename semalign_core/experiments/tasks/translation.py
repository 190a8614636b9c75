"""The ``translation`` task: alignment fidelity on held-out pairs.

Both encoders encode every evaluation item; each translated item is compared with its own
target embedding (cosine, MSE, CKA) and ranked among all targets (top-1, top-5, MRR).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..._numerics import retrieval_ranks
from .base import Task, TaskConfig, TaskEvaluation

if TYPE_CHECKING:
    from ...align.embeddings import Embeddings
    from ...align.translator import Translator
    from ...evaluation.metrics import ConfidenceInterval
    from ..context import RunContext

__all__ = ["FIDELITY_METRICS", "TranslationTask"]

#: Metrics of the ``translation`` task.
FIDELITY_METRICS = ("mean_cosine", "mse", "top1", "top5", "mrr", "cka")


class TranslationTask(Task):
    """Translation fidelity: translated source embeddings vs. the target's own embeddings."""

    kind = "translation"
    config_model = TaskConfig
    metrics = FIDELITY_METRICS
    metric_labels = {"mean_cosine": "mean cosine", "mse": "MSE", "top1": "top-1",
                     "top5": "top-5", "mrr": "MRR", "cka": "CKA"}

    def __init__(self, config: TaskConfig | None = None, **params: object) -> None:
        super().__init__(config, **params)
        self.eval_target: Embeddings | None = None

    def prepare(self, context: RunContext) -> None:
        self.eval_target = context.encode(context.target, context.evaluation, "eval_target")

    def evaluate(self, context: RunContext, translator: Translator, seed: int
                 ) -> TaskEvaluation:
        from ...evaluation.metrics import bootstrap_ci, linear_cka, mean_cosine, mse

        assert self.eval_target is not None
        ev = context.config.evaluation
        translated = translator.transform(context.eval_source.vectors).astype(np.float64)
        target = self.eval_target.vectors.astype(np.float64)
        # one rank per item: the bootstrap resamples items (resampling rows would duplicate
        # targets)
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
        return TaskEvaluation({name: fns[name]() for name in context.config.metric_names})

    def describe(self, context: RunContext) -> dict[str, object]:
        return {"classes": None, "class_counts": None}
