"""The ``multilabel-zero-shot`` task: CheXzero-style positive vs. negative prompts per finding.

Every evaluation record may carry several findings (no label = negative for all). For each
finding the score of a translated image is ``cos(positive ensemble) - cos(negative ensemble)``
in the comparison space (:class:`~semalign_core.ZeroShotClassifier` with a multi-label
:class:`~semalign_core.PromptSet`). Reported: per-finding AUROC with bootstrap CIs and the macro
AUROC (:func:`~semalign_core.evaluation.multilabel.per_finding_auroc`); ``summary.md`` gets a
per-finding table.

Prompts come from ``prompts`` + ``negatives`` (finding -> prompt(s)), or from ``findings`` filled
into ``templates`` / ``negative_templates`` (CheXzero's are ``"{finding}"`` / ``"no {finding}"``).

``thresholds`` (opt-in, inductive) fits one decision threshold per finding on a *labelled*
validation dataset (:func:`~semalign_core.zeroshot.thresholds.fit_thresholds`, Youden's J or
MCC) and reports the thresholded F1 / MCC / sensitivity / specificity per finding, separately
from the AUROC (which no threshold changes).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...errors import InvalidInputError
from ..datasets import DatasetSpec
from .base import Baseline, Task, TaskConfig, TaskEvaluation

if TYPE_CHECKING:
    from ...align.embeddings import Embeddings
    from ...align.translator import Translator
    from ...data.manifest import Manifest
    from ...evaluation.metrics import ConfidenceInterval
    from ...zeroshot.prompts import PromptSet
    from ..context import RunContext
    from ..runner import ExperimentResult

__all__ = ["MultilabelZeroShotConfig", "MultilabelZeroShotTask", "ThresholdSpec"]

Prompts = dict[str, str | list[str]]


class ThresholdSpec(BaseModel):
    """Inductive per-finding thresholds fitted on a labelled validation dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetSpec
    method: Literal["youden", "mcc"] = "youden"


class MultilabelZeroShotConfig(TaskConfig):
    """The ``task:`` section of a multi-label zero-shot experiment."""

    prompts: Prompts | None = None
    negatives: Prompts | None = None
    findings: list[str] | Prompts | None = None
    templates: list[str] = Field(default_factory=lambda: ["{finding}"])
    negative_templates: list[str] = Field(default_factory=lambda: ["no {finding}"])
    space: Literal["normalized", "centered", "raw"] = "normalized"
    thresholds: ThresholdSpec | None = None
    no_finding_labels: list[str] = Field(
        default_factory=list, description="labels that mean 'no finding' (e.g. Kermany's "
                                          "'normal'): dropped, so such records are negative "
                                          "for every finding")

    @model_validator(mode="after")
    def _one_source(self) -> MultilabelZeroShotConfig:
        if (self.prompts is None) == (self.findings is None):
            raise ValueError("give either 'prompts' and 'negatives' (finding -> prompt(s)) or "
                             "'findings' (filled into 'templates' / 'negative_templates')")
        if self.prompts is not None and self.negatives is None:
            raise ValueError("'prompts' needs 'negatives': a negative prompt set per finding")
        if self.findings is not None and self.negatives is not None:
            raise ValueError("'negatives' goes with 'prompts'; with 'findings' use "
                             "'negative_templates'")
        return self

    def prompt_set(self) -> PromptSet:
        from ...zeroshot.prompts import PromptSet

        if self.prompts is not None:
            return PromptSet(self.prompts, self.negatives)
        assert self.findings is not None
        return PromptSet.from_templates(self.findings, self.templates,
                                        negative_templates=self.negative_templates)


class MultilabelZeroShotTask(Task):
    """Multi-label zero-shot: per-finding positive vs. negative prompt ensembles."""

    kind = "multilabel-zero-shot"
    config_model = MultilabelZeroShotConfig
    config: MultilabelZeroShotConfig
    metrics = ("macro_auroc",)
    metric_labels = {"macro_auroc": "macro AUROC"}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.prompt_set: PromptSet | None = None
        self.prompt_embeddings: Embeddings | None = None
        self.findings: list[str] = []
        self.validation: tuple[Embeddings, np.ndarray] | None = None

    def prepare(self, context: RunContext) -> None:
        ps = self.config.prompt_set()
        self.prompt_set = ps
        self.prompt_embeddings = context.encode_texts(context.target, list(ps.texts()),
                                                      "prompts")
        self.findings = list(ps.classes)
        ignored = set(self.config.no_finding_labels) - set(self.findings)
        unknown = sorted(set(context.evaluation.classes) - set(self.findings) - ignored)
        if unknown:
            raise InvalidInputError(f"evaluation labels {unknown} have no prompts; add them to "
                                    f"the task's findings (or filter the evaluation dataset)")
        spec = self.config.thresholds
        if spec is not None:
            manifest = context.dataset(spec.dataset)
            emb = context.encode(context.source, manifest, "threshold_validation")
            self.validation = (emb, self.label_matrix(manifest))

    def _scores(self, translator: Translator, X: Any) -> np.ndarray:
        from ...zeroshot.classifier import ZeroShotClassifier

        clf = ZeroShotClassifier(translator, self.prompt_embeddings, self.prompt_set,
                                 space=self.config.space)
        columns = list(clf.classes_)
        return clf.decision_scores(X)[:, [columns.index(c) for c in self.findings]]

    def evaluate(self, context: RunContext, translator: Translator, seed: int
                 ) -> TaskEvaluation:
        from ...evaluation.multilabel import per_finding_auroc

        ev = context.config.evaluation
        Y = self.label_matrix(context.evaluation)
        S = self._scores(translator, context.eval_source).astype(np.float64)
        result = per_finding_auroc(Y, S, self.findings, n_resamples=ev.bootstrap,
                                   confidence=ev.confidence, seed=seed)
        metrics: dict[str, ConfidenceInterval] = {"macro_auroc": result.macro}
        metrics.update({f"auroc/{k}": v for k, v in result.per_finding.items()})
        if self.validation is not None:
            metrics.update(self._thresholded(translator, Y, S, seed))
        return TaskEvaluation(metrics, {"y_score": S})

    def _thresholded(self, translator: Translator, Y: np.ndarray, S: np.ndarray, seed: int
                     ) -> dict[str, ConfidenceInterval]:
        """F1, MCC, sensitivity and specificity per finding at the validation thresholds."""
        from ...evaluation.metrics import bootstrap_ci
        from ...zeroshot.thresholds import fit_thresholds

        assert self.validation is not None and self.config.thresholds is not None
        emb, Y_val = self.validation
        method = self.config.thresholds.method
        fitted = fit_thresholds(Y_val, self._scores(translator, emb), method=method,
                                classes=self.findings)
        P = fitted.predict(S)
        out = {}
        for j, name in enumerate(self.findings):
            for metric, fn in _THRESHOLD_METRICS.items():
                out[f"{method}/{metric}/{name}"] = bootstrap_ci(fn, Y[:, j], P[:, j],
                                                                n_resamples=200, seed=seed)
        return out

    def label_matrix(self, manifest: Manifest) -> np.ndarray:
        """0/1 matrix (items x findings); ``no_finding_labels`` are dropped first."""
        from ...data.manifest import Manifest as _Manifest

        drop = set(self.config.no_finding_labels)
        kept = _Manifest([replace(r, labels=tuple(x for x in r.labels if x not in drop))
                          for r in manifest], source=manifest.source)
        return kept.label_matrix(self.findings)

    def describe(self, context: RunContext) -> dict[str, Any]:
        Y = self.label_matrix(context.evaluation)
        return {"classes": list(self.findings),
                "class_counts": {f: int(c) for f, c in zip(self.findings, Y.sum(axis=0),
                                                           strict=True)}}

    def baselines(self, context: RunContext) -> list[Baseline]:
        """One-vs-rest logistic regression per finding on the labelled pool (source encoder)."""
        from ...evaluation.multilabel import per_finding_auroc
        from .probes import multilabel_probe_scores

        if "probe" not in context.config.evaluation.baselines:
            return []
        assert context.pool_source is not None and context.eval_source is not None
        Y_pool = self.label_matrix(context.pool)
        S, fitted = multilabel_probe_scores(context.pool_source.vectors, Y_pool,
                                            context.eval_source.vectors)
        ev = context.config.evaluation
        Y = self.label_matrix(context.evaluation)
        keep = [j for j in range(len(self.findings)) if fitted[j]]
        if not keep:
            return []
        result = per_finding_auroc(Y[:, keep], S[:, keep], [self.findings[j] for j in keep],
                                   n_resamples=ev.bootstrap, confidence=ev.confidence,
                                   seed=context.config.seeds[0])
        metrics = {"macro_auroc": result.macro,
                   **{f"auroc/{k}": v for k, v in result.per_finding.items()}}
        return [Baseline("probe", f"one-vs-rest logistic regression per finding on all "
                                  f"{len(context.pool)} pool items, source encoder", metrics,
                         label="supervised probe", anchors=f"all {len(context.pool)} labelled")]

    def report_sections(self, result: ExperimentResult) -> list[str]:
        from .multilabel_report import per_finding_table

        return per_finding_table(result.document, self.findings)

    def plots(self, result: ExperimentResult, folder: Path) -> dict[str, Path]:
        return {}


def _f1(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, zero_division=0.0))


def _mcc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(y, p))


def _rate(y: np.ndarray, p: np.ndarray, positive: int) -> float:
    members = y == positive
    return float((p[members] == positive).mean()) if members.any() else float("nan")


_THRESHOLD_METRICS = {"f1": _f1, "mcc": _mcc,
                      "sensitivity": lambda y, p: _rate(y, p, 1),
                      "specificity": lambda y, p: _rate(y, p, 0)}
