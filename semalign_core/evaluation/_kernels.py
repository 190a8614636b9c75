"""Classification metrics on blocks of bootstrap resamples at once (see :mod:`.bootstrap`).

Each kernel takes the full arrays and an (m, n) block of resample indices and returns
``(values, defined)`` for the m resamples, computing what the scikit-learn metric computes on
each resample: the same counts, the same divisions, the same class sets (classes present in the
resample), so that the bounds equal the one-call-per-resample loop's. Hand-written because
scikit-learn evaluates one sample at a time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy_kernel", "auroc_kernel", "balanced_accuracy_kernel", "macro_f1_kernel"]


def _codes(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes of both label arrays over their sorted union."""
    classes, inverse = np.unique(np.concatenate([t, p]), return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse[:len(t)], inverse[len(t):], len(classes)


def _counts(codes: np.ndarray, idx: np.ndarray, n_classes: int,
            mask: np.ndarray | None = None) -> np.ndarray:
    """(m, n_classes) counts of ``codes`` in each resample (optionally where ``mask``)."""
    m = idx.shape[0]
    keys = np.arange(m)[:, None] * n_classes + codes[idx]
    keys = keys[mask[idx]] if mask is not None else keys.ravel()
    return np.bincount(keys, minlength=m * n_classes).reshape(m, n_classes)


def accuracy_kernel(data: list[np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = data
    correct = (t == p)[idx].sum(axis=1)
    return correct / idx.shape[1], np.ones(idx.shape[0], bool)


def _per_class(data: list[np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, ...]:
    t, p = data
    ct, cp, C = _codes(t, p)
    true = _counts(ct, idx, C)
    pred = _counts(cp, idx, C)
    hits = _counts(ct, idx, C, mask=ct == cp)
    return true, pred, hits


def balanced_accuracy_kernel(data: list[np.ndarray],
                             idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true, _, hits = _per_class(data, idx)
    present = true > 0  # classes only predicted have no recall (scikit-learn drops them)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, hits / true, 0.0)
    return recall.sum(axis=1) / present.sum(axis=1), np.ones(idx.shape[0], bool)


def macro_f1_kernel(data: list[np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true, pred, hits = _per_class(data, idx)
    denom = (1.0 * true + pred).astype(np.float64)
    present = denom > 0  # the classes in either the truth or the predictions of the resample
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2.0 * hits / denom, 0.0)
    return f1.sum(axis=1) / present.sum(axis=1), np.ones(idx.shape[0], bool)


def auroc_kernel(positive: np.ndarray, score: np.ndarray,
                 idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary AUROC as the Mann-Whitney statistic: for each positive, the negatives scored
    below it plus half those tied with it, over (number of positives x negatives)."""
    _, group = np.unique(score, return_inverse=True)
    group = group.reshape(-1)
    G = int(group.max()) + 1
    pos = _counts(group, idx, G, mask=positive)
    neg = _counts(group, idx, G, mask=~positive)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    P, N = pos.sum(axis=1), neg.sum(axis=1)
    defined = (P > 0) & (N > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / (P * N).astype(np.float64), defined
