"""Per-finding AUROC for multi-label scores (CheXzero-style zero-shot), with bootstrap CIs.

A multi-label evaluation set (every record may carry several findings; no label means negative)
gives a 0/1 matrix ``Y`` (items x findings) and the scores ``S`` of the same shape. Each finding's
AUROC gets its own percentile-bootstrap CI over items; the macro AUROC (the mean over findings)
gets one too, from the same resamples. A finding with no positive (or no negative) item in the
evaluation set has no AUROC: it is listed in ``undefined`` and left out of the macro mean rather
than counted as 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DimensionMismatchError, InvalidInputError
from .metrics import ConfidenceInterval, auroc_per_label, bootstrap_ci

__all__ = ["MultilabelAUROC", "per_finding_auroc"]


@dataclass
class MultilabelAUROC:
    """Per-finding and macro AUROC with CIs.

    Attributes
    ----------
    per_finding : dict
        Finding -> :class:`ConfidenceInterval`, in the given order (defined findings only).
    macro : ConfidenceInterval
        Mean AUROC over the defined findings.
    positives : dict
        Finding -> number of positive evaluation items (every finding).
    undefined : list of str
        Findings without both positive and negative items (no AUROC).
    """

    per_finding: dict[str, ConfidenceInterval]
    macro: ConfidenceInterval
    positives: dict[str, int]
    undefined: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"macro_auroc": self.macro.to_dict(),
                "per_finding": {k: {**v.to_dict(), "positives": self.positives[k]}
                                for k, v in self.per_finding.items()},
                "positives": dict(self.positives), "undefined": list(self.undefined)}


def per_finding_auroc(y_true: Any, scores: Any, classes: Sequence[str], *,
                      n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
                      ) -> MultilabelAUROC:
    """AUROC of each finding and their macro mean, each with a bootstrap CI over items.

    Parameters
    ----------
    y_true : array-like (n, n_findings)
        0/1 indicators (e.g. :meth:`~semalign_core.data.Manifest.label_matrix`).
    scores : array-like (n, n_findings)
        Higher = more likely present (e.g. ``cos(positive) - cos(negative)``).
    classes : sequence of str
        The findings, in column order.

    Raises
    ------
    InvalidInputError
        No finding has both positive and negative items, or NaN scores.
    DimensionMismatchError
        Shapes that do not match ``classes``.
    """
    Y = np.asarray(y_true)
    S = np.asarray(scores, dtype=np.float64)
    names = [str(c) for c in classes]
    if Y.ndim != 2 or Y.shape != S.shape or Y.shape[1] != len(names):
        raise DimensionMismatchError(f"labels {Y.shape} and scores {S.shape} must both be "
                                     f"(n_items, {len(names)} findings)")
    if not np.isfinite(S).all():
        raise InvalidInputError("scores contain NaN or inf")
    if not set(np.unique(Y).tolist()) <= {0, 1}:
        raise InvalidInputError("y_true must hold 0/1 indicators")
    counts = Y.sum(axis=0)
    defined = [j for j in range(len(names)) if 0 < counts[j] < len(Y)]
    if not defined:
        raise InvalidInputError("no finding has both positive and negative evaluation items; "
                                "AUROC is undefined for every finding")
    from sklearn.metrics import roc_auc_score

    def one(y: np.ndarray, s: np.ndarray) -> float:
        # a resample with a single class has no AUROC: NaN, which bootstrap_ci skips
        return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")

    kw = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    per = {names[j]: bootstrap_ci(one, Y[:, j], S[:, j], **kw) for j in defined}
    Yd, Sd = Y[:, defined], S[:, defined]
    macro = bootstrap_ci(lambda y, s: float(np.mean(auroc_per_label(y, s))), Yd, Sd, **kw)
    return MultilabelAUROC(per, macro, {n: int(c) for n, c in zip(names, counts, strict=True)},
                           [names[j] for j in range(len(names)) if j not in defined])
