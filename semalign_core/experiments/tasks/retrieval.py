"""The ``retrieval`` task: image -> report and report -> image through the translator.

Queries are the evaluation items' source embeddings (images) translated into the target space;
candidates are target embeddings of texts. Relevance (several positives per query allowed):

``relevance: item``   an image's own text (``text`` of its record, e.g. MIMIC-CXR's study
                      report); identical texts are one candidate, so every image of a study
                      is a hit for that report; records without a text are not queries
                      (``results.json`` counts them)
``relevance: label``  any text of the image's class (single-label records), e.g. Kermany
                      images x Open-i reports

The texts are the evaluation records' own (``texts`` unset), every text of a dataset
(``texts: {dataset: ...}``), or the texts the anchor pairing held out for the current seed
(``texts: {holdout: true}``). Metrics (:mod:`semalign_core.evaluation.retrieval`): R@1/5/10, MRR,
median and mean rank for both directions (``i2t_*``, ``t2i_*``), in the translator's comparison
space ``space``; every extra space in ``also_spaces`` is recorded as ``<space>/<metric>``. The
``chance`` baseline ranks with seeded random scores (same relevance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from ...errors import InvalidInputError
from ..datasets import DatasetSpec
from .base import Baseline, Task, TaskConfig, TaskEvaluation

if TYPE_CHECKING:
    from ...align.embeddings import Embeddings
    from ...align.translator import Translator
    from ...evaluation.metrics import ConfidenceInterval
    from ..config import ExperimentConfig
    from ..context import RunContext

__all__ = ["RETRIEVAL_METRICS", "RetrievalConfig", "RetrievalTask", "RetrievalTexts"]

_KS = (1, 5, 10)
_PER_DIRECTION = (*(f"R@{k}" for k in _KS), "mrr", "median_rank", "mean_rank")
#: Metrics of the ``retrieval`` task, both directions.
RETRIEVAL_METRICS = tuple(f"{d}_{m}" for d in ("i2t", "t2i") for m in _PER_DIRECTION)
Space = Literal["normalized", "centered", "raw"]


class RetrievalTexts(BaseModel):
    """Where the candidate texts come from (default: the evaluation records' own texts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetSpec | None = None
    holdout: bool = False

    @model_validator(mode="after")
    def _one(self) -> RetrievalTexts:
        if (self.dataset is None) == (not self.holdout):
            raise ValueError("give exactly one of 'dataset' or 'holdout: true'")
        return self


class RetrievalConfig(TaskConfig):
    """The ``task:`` section of a retrieval experiment."""

    relevance: Literal["item", "label"] = "item"
    texts: RetrievalTexts | None = None
    space: Space = "normalized"
    also_spaces: list[Space] = []

    @model_validator(mode="after")
    def _consistent(self) -> RetrievalConfig:
        if self.relevance == "item" and self.texts is not None:
            raise ValueError("relevance 'item' uses each evaluation record's own text; other "
                             "texts need relevance: label")
        return self


class RetrievalTask(Task):
    """Cross-modal retrieval in both directions, with several relevant items per query."""

    kind = "retrieval"
    config_model = RetrievalConfig
    config: RetrievalConfig
    metrics = RETRIEVAL_METRICS
    metric_labels = {m: m.replace("_", " ", 1).replace("mrr", "MRR") for m in RETRIEVAL_METRICS}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.fixed: tuple[Embeddings, np.ndarray] | None = None
        self.query_keys: np.ndarray | None = None
        self.query_mask: np.ndarray | None = None  # evaluation records that are queries

    @classmethod
    def check_experiment(cls, config: ExperimentConfig) -> None:
        task = config.task
        assert isinstance(task, RetrievalConfig)
        if task.texts is not None and task.texts.holdout and (
                config.anchors.texts is None or config.anchors.texts.holdout <= 0):
            raise ValueError("task.texts.holdout needs anchors.texts.holdout > 0")

    def prepare(self, context: RunContext) -> None:
        records = list(context.evaluation)
        self.query_mask = np.ones(len(records), bool)
        if self.config.relevance == "item":
            self.query_mask = np.asarray([bool(r.text) for r in records])
            if not self.query_mask.any():
                raise InvalidInputError("relevance 'item' needs evaluation records with a text "
                                        "(their own report); none has one")
            texts = [r.text for r in records if r.text]
            emb = context.encode_texts(context.target, texts, "retrieval_texts")
            self.query_keys = np.asarray(texts, dtype=object)
            self.fixed = (emb, np.asarray(emb.ids, dtype=object))
            return
        self.query_keys = context.evaluation.labels()
        spec = self.config.texts
        if spec is not None and spec.dataset is not None:
            labelled = [r for r in context.dataset(spec.dataset) if r.text and len(r.labels) == 1]
            if not labelled:
                raise InvalidInputError("the retrieval texts dataset has no text with one label")
            emb = context.encode_texts(context.target, [r.text for r in labelled],
                                       "retrieval_texts")
            by_text = {r.text: r.labels[0] for r in labelled}
            self.fixed = (emb, np.asarray([by_text[t] for t in emb.ids], dtype=object))

    def candidates(self, context: RunContext, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw target vectors of the candidate texts and their relevance keys."""
        if self.fixed is not None:
            emb, keys = self.fixed
            return emb.vectors, keys
        held = context.pool_targets(seed).held_out
        if held is None or context.pairing_texts is None:
            raise InvalidInputError("texts: {holdout: true} needs anchors.texts with holdout > 0")
        ids = [i for ids in held.values() for i in ids]
        keys = np.asarray([c for c, ids_ in held.items() for _ in ids_], dtype=object)
        return context.pairing_texts.embeddings.subset(ids).vectors, keys

    def evaluate(self, context: RunContext, translator: Translator, seed: int
                 ) -> TaskEvaluation:
        assert context.eval_source is not None and self.query_keys is not None
        texts, keys = self.candidates(context, seed)
        metrics: dict[str, ConfidenceInterval] = {}
        sources = context.eval_source.vectors[self.query_mask]
        for space in [self.config.space, *self.config.also_spaces]:
            prefix = "" if space == self.config.space else f"{space}/"
            images = translator.transform(sources, space=space)
            targets = translator.transform_target(texts, space=space)
            metrics.update(_both_directions(images, targets, self.query_keys, keys, prefix,
                                            context, seed))
        return TaskEvaluation(metrics)

    def describe(self, context: RunContext) -> dict[str, Any]:
        assert self.query_mask is not None
        return {"classes": None, "class_counts": None, "relevance": self.config.relevance,
                "image_queries": int(self.query_mask.sum()),
                "without_text": int((~self.query_mask).sum())}

    def baselines(self, context: RunContext) -> list[Baseline]:
        """``chance``: seeded random scores with the same queries, candidates and relevance."""
        from ...evaluation.retrieval import random_retrieval_ranks, retrieval_report

        if "chance" not in context.config.evaluation.baselines:
            return []
        assert self.query_keys is not None
        seed = context.config.seeds[0]
        _, keys = self.candidates(context, seed)
        ev = context.config.evaluation
        metrics = {}
        for d, (q, c) in {"i2t": (self.query_keys, keys), "t2i": (keys, self.query_keys)}.items():
            ranks = random_retrieval_ranks(len(c), query_keys=q, candidate_keys=c, seed=seed)
            report = retrieval_report(ranks, ks=_KS, n_resamples=ev.bootstrap, seed=seed)
            metrics.update({f"{d}_{m}": v for m, v in report.items()})
        return [Baseline("chance", "seeded random scores, same relevance", metrics,
                         label="random ranking")]


def _both_directions(images: np.ndarray, texts: np.ndarray, image_keys: np.ndarray,
                     text_keys: np.ndarray, prefix: str, context: RunContext, seed: int
                     ) -> dict[str, ConfidenceInterval]:
    from ...evaluation.retrieval import retrieval_ranks, retrieval_report

    ev = context.config.evaluation
    out = {}
    for d, (q, c, qk, ck) in {"i2t": (images, texts, image_keys, text_keys),
                              "t2i": (texts, images, text_keys, image_keys)}.items():
        ranks = retrieval_ranks(q, c, query_keys=qk, candidate_keys=ck)
        report = retrieval_report(ranks, ks=_KS, n_resamples=ev.bootstrap, seed=seed)
        out.update({f"{prefix}{d}_{m}": v for m, v in report.items()})
    return out
