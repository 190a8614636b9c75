"""Evaluation: classification, retrieval and alignment-fidelity metrics with bootstrap CIs."""

from __future__ import annotations

from .metrics import *  # noqa: F403
from .metrics import __all__ as _metrics_all

__all__ = list(_metrics_all)
