"""Zero-shot classification and model stitching on translated embeddings: prompts, class
embeddings, the FAISS label index, calibration, ZeroShotClassifier and StitchedClassifier.
"""

from __future__ import annotations

from .calibration import CALIBRATIONS, MIN_CALIBRATION_ITEMS, Calibration, gmm_threshold
from .class_embeddings import ClassEmbeddings
from .classifier import ZeroShotClassifier
from .ivf_index import IVF_KINDS, IVFIndex, recall_at_k
from .label_index import DEVICES, LabelIndex
from .prompts import PromptSet, ensemble_embedding
from .stitching import LinearHead, StitchedClassifier
from .thresholds import (
           THRESHOLD_METHODS,
           Thresholds,
           fit_thresholds,
           mcc_threshold,
           youden_threshold,
)

__all__ = [
           "CALIBRATIONS",
           "DEVICES",
           "IVF_KINDS",
           "MIN_CALIBRATION_ITEMS",
           "THRESHOLD_METHODS",
           "Calibration",
           "ClassEmbeddings",
           "IVFIndex",
           "LabelIndex",
           "LinearHead",
           "PromptSet",
           "StitchedClassifier",
           "Thresholds",
           "ZeroShotClassifier",
           "ensemble_embedding",
           "fit_thresholds",
           "gmm_threshold",
           "mcc_threshold",
           "recall_at_k",
           "youden_threshold",
]
