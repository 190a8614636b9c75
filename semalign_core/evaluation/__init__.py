"""Evaluation: classification, retrieval and alignment-fidelity metrics with bootstrap CIs."""

from __future__ import annotations

from .fidelity import canonical_correlations, representation_similarity, svcca
from .metrics import *  # noqa: F403
from .metrics import __all__ as _metrics_all
from .multilabel import MultilabelAUROC, per_finding_auroc
from .probes import (
    DEFAULT_SHOTS,
    ProbeResult,
    k_shot_indices,
    k_shot_probe,
    linear_probe,
    probe_curve,
)
from .retrieval import (
    random_retrieval_ranks,
    retrieval_from_ranks,
    retrieval_ranks,
    retrieval_report,
)

__all__ = [*_metrics_all, "DEFAULT_SHOTS", "MultilabelAUROC", "ProbeResult",
           "canonical_correlations", "per_finding_auroc",
           "k_shot_indices", "k_shot_probe", "linear_probe", "probe_curve",
           "random_retrieval_ranks", "representation_similarity", "retrieval_from_ranks",
           "retrieval_ranks", "retrieval_report", "svcca"]
