"""The ``stitching`` task: a head trained on the target encoder classifies translated inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import field_validator

from ..config import ComponentSpec
from ..datasets import DatasetSpec
from .classification import ClassificationConfig, ClassificationTask

if TYPE_CHECKING:
    from ...align.translator import Translator
    from ..context import RunContext

__all__ = ["StitchingConfig", "StitchingTask"]


class StitchingConfig(ClassificationConfig):
    """The ``task:`` section of a stitching experiment."""

    head_data: DatasetSpec
    head: ComponentSpec = ComponentSpec(name="logistic", params={"max_iter": 2000})

    @field_validator("head")
    @classmethod
    def _head(cls, value: ComponentSpec) -> ComponentSpec:
        if value.name != "logistic":
            raise ValueError(f"unknown head {value.name!r}; available: 'logistic'")
        return value


class StitchingTask(ClassificationTask):
    """Model stitching: reuse the target encoder's classifier on translated source embeddings."""

    kind = "stitching"
    config_model = StitchingConfig
    config: StitchingConfig

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.head: Any = None  # the fitted scikit-learn pipeline

    def _prepare(self, context: RunContext) -> list[str]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        manifest = context.dataset(self.config.head_data)
        emb = context.encode(context.target, manifest, "head_data")
        self.head = make_pipeline(StandardScaler(), LogisticRegression(**self.config.head.params))
        self.head.fit(emb.vectors, manifest.labels())
        return [str(c) for c in self.head.classes_]

    def predict(self, context: RunContext, translator: Translator, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
        from ...zeroshot.stitching import StitchedClassifier

        clf = StitchedClassifier(translator, self.head)
        proba = clf.predict_proba(context.eval_source).astype(np.float64)
        columns = [str(c) for c in clf.classes_]
        proba = proba[:, [columns.index(c) for c in self.classes]]
        y_pred = np.asarray(self.classes)[proba.argmax(axis=1)]
        if proba.shape[1] == 2:  # log-odds keep the ranking without saturating
            eps = 1e-300
            return y_pred, np.log(proba[:, 1] + eps) - np.log(proba[:, 0] + eps)
        return y_pred, proba
