"""Evaluation: classification, retrieval and alignment-fidelity metrics with bootstrap CIs."""

from __future__ import annotations

from .fidelity import canonical_correlations, representation_similarity, svcca
from .metrics import *  # noqa: F403
from .metrics import __all__ as _metrics_all
from .retrieval import (
    random_retrieval_ranks,
    retrieval_from_ranks,
    retrieval_ranks,
    retrieval_report,
)

__all__ = [*_metrics_all, "canonical_correlations", "random_retrieval_ranks",
           "representation_similarity", "retrieval_from_ranks", "retrieval_ranks",
           "retrieval_report", "svcca"]
