"""Inductive decision thresholds fitted on a *labelled* validation split, per finding.

Zero-shot scores (cosine differences) have no natural cut: ``0`` is where the positive and the
negative prompt tie, not where errors balance. With a labelled validation split (never the test
split) a threshold per finding can be chosen and then applied, unchanged, to new images:

``youden``  maximises Youden's J = sensitivity + specificity - 1 (the ROC point farthest above
            the diagonal; :func:`sklearn.metrics.roc_curve`)
``mcc``     maximises the Matthews correlation coefficient (balanced under class imbalance)

This is opt-in and *inductive*: it needs labels but never sees the test batch. The transductive
GMM threshold of :mod:`semalign_core.zeroshot.calibration` needs no labels but is fitted to the
batch it classifies; the two are reported separately.

Thresholds are midpoints between consecutive distinct validation scores, so ``score > t`` and
``score >= t`` agree on the validation split.

>>> import numpy as np
>>> t = fit_thresholds([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], method="youden")
>>> round(float(t.thresholds[0]), 6), t.predict([0.2, 0.9]).ravel().tolist()
(0.6, [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DimensionMismatchError, InvalidInputError

__all__ = ["THRESHOLD_METHODS", "Thresholds", "fit_thresholds", "mcc_threshold",
           "youden_threshold"]

#: ``method=`` choices of :func:`fit_thresholds`.
THRESHOLD_METHODS = ("youden", "mcc")


def _cuts(scores: np.ndarray) -> np.ndarray:
    """Candidate thresholds: below all, midpoints between distinct scores, above all."""
    u = np.unique(scores)
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[u[0] - 1.0], mids, [u[-1] + 1.0]])


def _check(y: Any, s: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    t, sc = np.asarray(y), np.asarray(s, dtype=np.float64)
    if t.ndim != 1 or sc.shape != t.shape:
        raise DimensionMismatchError(f"{name}: need one 0/1 label per score, got shapes "
                                     f"{t.shape} and {sc.shape}")
    if not np.isfinite(sc).all():
        raise InvalidInputError(f"{name}: scores contain NaN or inf")
    if not set(np.unique(t).tolist()) <= {0, 1}:
        raise InvalidInputError(f"{name}: labels must be 0/1")
    t = t.astype(bool)
    if t.all() or not t.any():
        raise InvalidInputError(f"{name}: the validation split needs positive and negative "
                                f"items to fit a threshold")
    return t, sc


def youden_threshold(y_true: Any, scores: Any, *, name: str = "scores") -> float:
    """The threshold maximising Youden's J on labelled scores (positive: ``score > t``)."""
    from sklearn.metrics import roc_curve

    t, s = _check(y_true, scores, name)
    fpr, tpr, thr = roc_curve(t, s)  # thr[i]: positive when score >= thr[i]
    best = int(np.argmax(tpr - fpr))
    cuts = _cuts(s)
    # the midpoint just below the chosen score gives the same split with a strict '>'
    below = cuts[cuts < thr[best]] if np.isfinite(thr[best]) else cuts[-1:]
    return float(below[-1]) if below.size else float(cuts[0])


def mcc_threshold(y_true: Any, scores: Any, *, name: str = "scores") -> float:
    """The threshold maximising the Matthews correlation coefficient (positive: ``score > t``).

    Notes
    -----
    Hand-written: scikit-learn's threshold tuning (``TunedThresholdClassifierCV``) wraps an
    estimator and cross-validates it; these are fixed scores. Every candidate cut is scored at
    once from cumulative counts over the sorted scores (O(n log n)); ties in MCC go to the
    lowest cut.
    """
    t, s = _check(y_true, scores, name)
    cuts = _cuts(s)
    order = np.sort(s)
    pos_sorted = np.sort(s[t])
    n_pos, n = int(t.sum()), len(t)
    below = np.searchsorted(order, cuts, side="right")           # items predicted negative
    fn = np.searchsorted(pos_sorted, cuts, side="right")         # positives predicted negative
    fn = fn.astype(np.float64)  # float: the product below overflows int64 for large n
    tp, fp = n_pos - fn, (n - below) - (n_pos - fn)
    tn = below - fn
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = np.where(denom > 0, (tp * tn - fp * fn) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(cuts[int(np.argmax(mcc))])


@dataclass(frozen=True)
class Thresholds:
    """Per-finding thresholds fitted on a labelled validation split.

    Attributes
    ----------
    method : str
    classes : tuple of str
    thresholds : ndarray of shape (n_classes,)
    n_items : int
        Validation items they were fitted on.
    """

    method: str
    classes: tuple[str, ...]
    thresholds: np.ndarray
    n_items: int

    def predict(self, scores: Any) -> np.ndarray:
        """0/1 predictions (n, n_classes): ``score > threshold`` column by column."""
        S = np.asarray(scores, dtype=np.float64)
        S = S[:, None] if S.ndim == 1 else S
        if S.ndim != 2 or S.shape[1] != len(self.thresholds):
            raise DimensionMismatchError(f"need (n, {len(self.thresholds)}) scores, got "
                                         f"{np.asarray(scores).shape}")
        return (S > self.thresholds[None, :]).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "n_items": self.n_items,
                "thresholds": dict(zip(self.classes, map(float, self.thresholds), strict=True))}


def fit_thresholds(y_true: Any, scores: Any, *, method: str = "youden",
                   classes: Sequence[str] | None = None) -> Thresholds:
    """Fit one threshold per column of ``scores`` on labelled validation items.

    Parameters
    ----------
    y_true : array-like (n,) or (n, n_classes)
        0/1 labels (a 1-D array for one finding).
    scores : array-like, same shape
    method : {"youden", "mcc"}
    classes : sequence of str, optional
        Column names (default ``"0"``, ``"1"``...).

    Raises
    ------
    InvalidInputError
        An unknown method, or a column whose validation labels are all one value.
    """
    if method not in THRESHOLD_METHODS:
        raise InvalidInputError(f"method must be one of {THRESHOLD_METHODS}, got {method!r}")
    Y, S = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    Y, S = (Y[:, None], S[:, None]) if Y.ndim == 1 else (Y, S)
    if Y.shape != S.shape or Y.ndim != 2:
        raise DimensionMismatchError(f"labels {Y.shape} and scores {S.shape} must match")
    names = tuple(str(c) for c in classes) if classes is not None else tuple(
        str(j) for j in range(Y.shape[1]))
    if len(names) != Y.shape[1]:
        raise DimensionMismatchError(f"{len(names)} class names for {Y.shape[1]} columns")
    fn = youden_threshold if method == "youden" else mcc_threshold
    values = np.array([fn(Y[:, j], S[:, j], name=f"finding {names[j]!r}")
                       for j in range(Y.shape[1])])
    return Thresholds(method, names, values, int(Y.shape[0]))
