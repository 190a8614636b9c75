"""The ``zero-shot`` task: translated images labelled by their nearest class text embedding.

Class embeddings come from prompts (optionally expanded with templates) and/or real texts of
each class (``class_texts``: every text of a dataset, or the texts the anchor pairing held out
for the current seed). ``ensemble: target`` averages prompt ensembles after the translator's
target normalisation (:class:`~semalign_core.PromptSet`); ``ensemble: raw`` averages each text
source to a unit vector in the text encoder's space and takes the plain mean over sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...align.embeddings import Embeddings
from ...errors import InvalidInputError
from ..datasets import DatasetSpec
from .classification import ClassificationConfig, ClassificationTask

if TYPE_CHECKING:
    from ...align.translator import Translator
    from ...zeroshot.class_embeddings import ClassEmbeddings
    from ...zeroshot.prompts import PromptSet
    from ..config import ExperimentConfig
    from ..context import RunContext

__all__ = ["ClassTextsSpec", "ZeroShotConfig", "ZeroShotTask"]


class ClassTextsSpec(BaseModel):
    """Class embeddings from real texts of each class (by label).

    Either every text of ``dataset``, or (``holdout: true``) the texts that
    ``anchors.texts.holdout`` kept out of the pairing for the current seed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetSpec | None = None
    holdout: bool = False
    max_per_class: int | None = Field(None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> ClassTextsSpec:
        if (self.dataset is None) == (not self.holdout):
            raise ValueError("give exactly one of 'dataset' or 'holdout: true'")
        return self


class ZeroShotConfig(ClassificationConfig):
    """The ``task:`` section of a zero-shot experiment."""

    prompts: dict[str, str | list[str]] | None = None
    templates: list[str] | None = None
    class_texts: ClassTextsSpec | None = None
    ensemble: Literal["target", "raw"] = Field(
        "target", description="where prompt ensembles are averaged: 'target' = in the "
                              "comparison space (PromptSet), 'raw' = in the text encoder's "
                              "space, each source of text weighted equally")
    space: Literal["normalized", "centered", "raw"] = Field(
        "centered", description="where images and class embeddings are compared (the "
                                "translator's SPACES; ZeroShotClassifier's default); 'target' "
                                "is the deprecated spelling of 'normalized'")
    temperature: float = Field(1.0, gt=0)
    calibration: Literal["none", "gmm"] = Field(
        "none", description="'gmm': transductive, two classes only: the decision threshold is "
                            "fitted to the unlabeled evaluation batch's scores (see "
                            "docs/zeroshot.md); 'none': nearest class")

    @field_validator("space", mode="before")
    @classmethod
    def _old_space(cls, value: Any) -> Any:
        if value == "target":
            from ..._deprecated import warn_renamed

            warn_renamed("task.space: target", "normalized", stacklevel=2)
            return "normalized"
        return value

    @model_validator(mode="after")
    def _has_classes(self) -> ZeroShotConfig:
        if self.prompts is None and self.class_texts is None:
            raise ValueError("give 'prompts' (class -> prompt(s)) and/or 'class_texts'")
        if self.prompts is not None and not self.prompts:
            raise ValueError("'prompts' is empty")
        if self.class_texts is not None and self.ensemble == "target" and self.prompts:
            raise ValueError("combining 'prompts' with 'class_texts' needs ensemble: raw "
                             "(each source weighted equally)")
        return self


def _limit(grouped: Mapping[str, list[str]], limit: int | None, seed: int
           ) -> dict[str, list[str]]:
    if limit is None:
        return dict(grouped)
    rng = np.random.default_rng(seed)
    return {k: [v[i] for i in sorted(rng.permutation(len(v))[:limit])] for k, v in grouped.items()}


class ZeroShotTask(ClassificationTask):
    """Zero-shot classification: translated images vs. class text embeddings."""

    kind = "zero-shot"
    config_model = ZeroShotConfig
    config: ZeroShotConfig

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.prompt_set: PromptSet | None = None
        self.prompt_embeddings: Embeddings | None = None
        # the text sources every seed shares (prompts, a class-text dataset)
        self.fixed_sources: list[ClassEmbeddings] = []

    @classmethod
    def check_experiment(cls, config: ExperimentConfig) -> None:
        task = config.task
        assert isinstance(task, ZeroShotConfig)
        if (task.class_texts is not None and task.class_texts.holdout
                and (config.anchors.texts is None or config.anchors.texts.holdout <= 0)):
            raise ValueError("task.class_texts.holdout needs anchors.texts.holdout > 0 (the "
                             "fraction of texts kept out of the pairing)")

    def _prepare(self, context: RunContext) -> list[str]:
        from ...zeroshot.class_embeddings import ClassEmbeddings
        from ...zeroshot.prompts import PromptSet

        task, classes = self.config, set()
        if task.prompts is not None:
            ps = (PromptSet.from_templates(task.prompts, task.templates) if task.templates
                  else PromptSet(task.prompts))
            emb = context.encode_texts(context.target, list(ps.texts()), "prompts")
            self.prompt_set, self.prompt_embeddings = ps, emb
            self.fixed_sources.append(ClassEmbeddings.from_prompts(ps, emb, name="prompts"))
            classes.update(ps.classes)
        spec = task.class_texts
        if spec is not None and spec.dataset is not None:
            grouped: dict[str, list[str]] = {}
            for record in context.dataset(spec.dataset):
                if record.text and len(record.labels) == 1:
                    grouped.setdefault(record.labels[0], []).append(record.text)
            grouped = _limit(grouped, spec.max_per_class, spec.seed)
            emb = context.encode_texts(context.target, [t for v in grouped.values() for t in v],
                                       "class_texts")
            self.fixed_sources.append(ClassEmbeddings.from_texts(
                {c: list(dict.fromkeys(v)) for c, v in grouped.items()}, emb,
                name="class_texts"))
            classes.update(grouped)
        if spec is not None and spec.holdout and context.pairing_texts is not None:
            classes.update(context.pairing_texts.labels.values())
        for source in self.fixed_sources:
            missing = sorted(classes - set(source.classes))
            if missing:
                raise InvalidInputError(f"classes {missing} have no prompt or class text in one "
                                        f"of the task's text sources")
        return sorted(classes)

    def class_embeddings(self, context: RunContext, seed: int) -> ClassEmbeddings:
        """The class vectors for ``seed``: every text source (the held-out pairing texts of
        ``seed`` among them when configured), combined by the recipe's rule: the plain mean of
        each source's unit mean, not renormalised (centring in the target space follows)."""
        from ...zeroshot.class_embeddings import ClassEmbeddings

        sources = list(self.fixed_sources)
        spec = self.config.class_texts
        if spec is not None and spec.holdout:
            held = context.pool_targets(seed).held_out
            assert held is not None and context.pairing_texts is not None
            chosen = _limit({k: list(v) for k, v in held.items()}, spec.max_per_class, spec.seed)
            sources.append(ClassEmbeddings.from_texts(chosen, context.pairing_texts.embeddings,
                                                      name="held_out"))
        first, *rest = sources
        return first.combine(*rest, rule="mean") if rest else first.with_rule("mean")

    def predict(self, context: RunContext, translator: Translator, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
        from ...zeroshot.classifier import ZeroShotClassifier

        task = self.config
        options = {"space": task.space, "temperature": task.temperature,
                   "calibration": task.calibration}
        if task.ensemble == "target" and task.class_texts is None:
            clf = ZeroShotClassifier(translator, self.prompt_embeddings, self.prompt_set,
                                     **options)
        else:
            clf = ZeroShotClassifier(translator, self.class_embeddings(context, seed), **options)
        columns = list(clf.classes_)
        scores = clf.decision_scores(context.eval_source)
        scores = scores[:, [columns.index(c) for c in self.classes]]
        if task.calibration == "gmm":
            # transductive by request: the threshold comes from this unlabeled evaluation batch
            y_pred = np.asarray(clf.fit_calibration(context.eval_source)
                                .predict(context.eval_source))
        else:
            y_pred = np.asarray(self.classes)[scores.argmax(axis=1)]
        # binary: positive minus negative score; ranking equals the positive class's softmax
        # probability but without float32 saturation at 0/1 (ties would distort AUROC)
        y_score = scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores
        return y_pred, y_score
