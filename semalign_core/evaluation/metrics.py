"""Classification and alignment-fidelity metrics, with seeded bootstrap confidence intervals.

Classification metrics are thin wrappers over scikit-learn (the ``semalign-core[metrics]``
extra, imported lazily) that fix the conventions used across semalign: binary AUROC from a score
vector or a two-column probability matrix, one-vs-rest AUROC that accepts raw scores, per-label
AUROC for multi-label indicator matrices.

Alignment fidelity compares translated source vectors with their true target vectors on
held-out pairs (row ``i`` of one matches row ``i`` of the other): mean cosine, MSE, retrieval
top-k accuracy and MRR, and linear CKA.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._numerics import retrieval_ranks
from ..errors import DimensionMismatchError, InvalidInputError
from ..validation import check_matrix, check_paired
from ._inputs import labels_1d, same_length, scores
from ._kernels import accuracy_kernel, auroc_kernel, balanced_accuracy_kernel, macro_f1_kernel
from .bootstrap import ConfidenceInterval, bootstrap_ci, register_vectorised

__all__ = [
    "ConfidenceInterval",
    "accuracy",
    "alignment_fidelity",
    "auroc",
    "auroc_per_label",
    "balanced_accuracy",
    "bootstrap_ci",
    "classification_metrics",
    "confusion_matrix",
    "linear_cka",
    "macro_f1",
    "mean_cosine",
    "mse",
    "retrieval_metrics",
]

_EPS = 1e-12


# -- input helpers (shared with the bootstrap) ----------------------------------------------------
_labels_1d, _same_length, _scores = labels_1d, same_length, scores


# -- classification ------------------------------------------------------------------------------
def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions (:func:`sklearn.metrics.accuracy_score`)."""
    from sklearn.metrics import accuracy_score

    t, p = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    _same_length(("y_true", t), ("y_pred", p))
    return float(accuracy_score(t, p))


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean per-class recall (:func:`sklearn.metrics.balanced_accuracy_score`); 0.5 is chance
    for two classes whatever the class balance."""
    from sklearn.metrics import balanced_accuracy_score

    t, p = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    _same_length(("y_true", t), ("y_pred", p))
    return float(balanced_accuracy_score(t, p))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean of per-class F1 (:func:`sklearn.metrics.f1_score`, ``average="macro"``).

    Classes are those present in either input; a class never predicted scores F1 = 0.
    """
    from sklearn.metrics import f1_score

    t, p = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    _same_length(("y_true", t), ("y_pred", p))
    return float(f1_score(t, p, average="macro", zero_division=0.0))


def confusion_matrix(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None
                     ) -> np.ndarray:
    """Counts ``C[i, j]`` of items of class ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` defaults to the sorted union of both inputs
    (:func:`sklearn.metrics.confusion_matrix`).
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    t, p = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    _same_length(("y_true", t), ("y_pred", p))
    return sk_confusion_matrix(t, p, labels=None if labels is None else list(labels))


def auroc(y_true: Any, y_score: Any, *, labels: Sequence[Any] | None = None,
          pos_label: Any = None) -> float:
    """Area under the ROC curve: binary, one-vs-rest macro, or multi-label macro.

    Parameters
    ----------
    y_true : array-like
        1-D class labels (binary or multi-class), or a 2-D 0/1 indicator matrix (multi-label).
    y_score : array-like
        Binary: a 1-D score for the positive class, or an (n, 2) matrix whose second column is
        the positive class (``predict_proba`` output). Multi-class: (n, n_classes) scores in
        ``labels`` order; they need not be probabilities. Multi-label: (n, n_labels).
    labels : sequence, optional
        The classes in column order of ``y_score``. Default: ``numpy.unique(y_true)``, which is
        also the order of a scikit-learn classifier's ``classes_``.
    pos_label : optional
        Binary only: the positive class (default: the larger of the two labels, as in
        scikit-learn).

    Returns
    -------
    float

    Notes
    -----
    One-vs-rest AUROC is computed as the macro average of per-class binary AUROCs on the
    one-hot encoded labels (scikit-learn's multi-label path), which accepts raw scores such
    as cosine similarities; ``roc_auc_score(multi_class="ovr")`` would demand probabilities.
    """
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(y_true)
    S = _scores(y_score, "y_score")
    if truth.ndim == 2:
        return float(np.mean(auroc_per_label(truth, S)))
    t = _labels_1d(truth, "y_true")
    _same_length(("y_true", t), ("y_score", S))
    classes = np.unique(t) if labels is None else np.asarray(list(labels))
    if S.ndim == 2 and S.shape[1] != len(classes):
        raise DimensionMismatchError(
            f"y_score has {S.shape[1]} columns but there are {len(classes)} classes "
            f"{classes.tolist()}; pass labels= in the column order of y_score")
    unknown = np.setdiff1d(np.unique(t), classes)
    if unknown.size:
        raise InvalidInputError(f"y_true has labels {unknown.tolist()} not in labels")
    if len(classes) < 2 or len(np.unique(t)) < 2:
        raise InvalidInputError("AUROC needs both positive and negative items; y_true holds "
                                "a single class")
    if len(classes) == 2:
        if pos_label is None:
            pos_label = classes[1]
        elif pos_label not in classes.tolist():
            raise InvalidInputError(f"pos_label {pos_label!r} is not one of {classes.tolist()}")
        if S.ndim == 2:  # predict_proba-style: take the positive class's column
            S = S[:, classes.tolist().index(pos_label)]
        return float(roc_auc_score(t == pos_label, S))
    if S.ndim == 1:
        raise InvalidInputError(f"a 1-D y_score needs exactly two classes, got "
                                f"{len(classes)}; pass (n, n_classes) scores")
    onehot = (t[:, None] == classes[None, :]).astype(np.int64)
    present = onehot.any(axis=0)  # a class absent from y_true has no defined AUROC
    return float(roc_auc_score(onehot[:, present], S[:, present], average="macro"))


def auroc_per_label(y_true: Any, y_score: Any) -> np.ndarray:
    """AUROC of each column of a multi-label problem, shape (n_labels,).

    ``y_true`` is an (n, n_labels) 0/1 indicator matrix, ``y_score`` the matching scores or
    probabilities. Every label needs positive and negative items.
    """
    from sklearn.metrics import roc_auc_score

    Y = np.asarray(y_true)
    S = _scores(y_score, "y_score")
    if Y.ndim != 2 or S.shape != Y.shape:
        raise DimensionMismatchError(f"y_true and y_score must both be (n, n_labels), got "
                                     f"{Y.shape} and {S.shape}")
    if not np.isin(Y, (0, 1)).all():
        raise InvalidInputError("a multi-label y_true must hold only 0 and 1")
    counts = Y.sum(axis=0)
    bad = np.flatnonzero((counts == 0) | (counts == Y.shape[0]))
    if bad.size:
        raise InvalidInputError(f"label column(s) {bad.tolist()} hold a single class; AUROC is "
                                f"undefined there")
    return np.asarray(roc_auc_score(Y.astype(np.int64), S, average=None), dtype=np.float64)


# -- bootstrap (evaluation/bootstrap.py; these metrics have vectorised kernels) -----------------
class _AurocWithLabels:
    """``auroc(y_true, y_score, labels=classes)`` with its binary bootstrap kernel."""

    def __init__(self, classes: Sequence[Any]) -> None:
        self.classes = list(classes)
        self.bootstrap_kernel = _auroc_bootstrap(self.classes)

    def __call__(self, y_true: Any, y_score: Any) -> float:
        return auroc(y_true, y_score, labels=self.classes)


def _auroc_bootstrap(classes: Sequence[Any] | None):  # type: ignore[no-untyped-def]
    def kernel(data: list[np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        t, S = data
        known = np.unique(t) if classes is None else np.asarray(list(classes))
        if t.ndim != 1 or len(known) != 2 or (S.ndim == 2 and S.shape[1] != 2):
            return None  # multi-class / multi-label: the generic loop
        return auroc_kernel(t == known[1], S[:, 1] if S.ndim == 2 else S, idx)
    return kernel


register_vectorised(accuracy, accuracy_kernel)
register_vectorised(balanced_accuracy, balanced_accuracy_kernel)
register_vectorised(macro_f1, macro_f1_kernel)
register_vectorised(auroc, _auroc_bootstrap(None))


def classification_metrics(y_true: Any, y_pred: Any, y_score: Any = None, *,
                           labels: Sequence[Any] | None = None, n_resamples: int = 1000,
                           confidence: float = 0.95, seed: int = 0
                           ) -> dict[str, ConfidenceInterval]:
    """Accuracy, balanced accuracy, macro F1 and (with ``y_score``) AUROC, each with a
    bootstrap CI. All metrics use the same resamples (same ``seed``)."""
    t, p = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    out = {name: bootstrap_ci(fn, t, p, n_resamples=n_resamples, confidence=confidence,
                              seed=seed)
           for name, fn in (("accuracy", accuracy), ("balanced_accuracy", balanced_accuracy),
                            ("macro_f1", macro_f1))}
    if y_score is not None:
        metric = _AurocWithLabels(np.unique(t) if labels is None else list(labels))
        out["auroc"] = bootstrap_ci(metric, t, _scores(y_score, "y_score"),
                                    n_resamples=n_resamples, confidence=confidence, seed=seed)
    return out


# -- alignment fidelity --------------------------------------------------------------------------
def _pair(translated: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    A = check_matrix(translated, "translated", dtype=np.float64)
    B = check_matrix(target, "target", dtype=np.float64)
    check_paired(A, B, ("translated", "target"))
    if A.shape[1] != B.shape[1]:
        raise DimensionMismatchError(f"translated vectors are {A.shape[1]}-d but target vectors "
                                     f"are {B.shape[1]}-d; translate into the target space first")
    return A, B


def mean_cosine(translated: Any, target: Any) -> float:
    """Mean cosine similarity between row ``i`` of ``translated`` and row ``i`` of ``target``."""
    from sklearn.metrics.pairwise import paired_cosine_distances

    A, B = _pair(translated, target)
    return float(np.mean(1.0 - paired_cosine_distances(A, B)))


def mse(translated: Any, target: Any) -> float:
    """Mean squared error over all entries (:func:`sklearn.metrics.mean_squared_error`)."""
    from sklearn.metrics import mean_squared_error

    A, B = _pair(translated, target)
    return float(mean_squared_error(B, A))


def retrieval_metrics(translated: Any, target: Any, *, ks: Sequence[int] = (1, 5),
                      batch_size: int = 1024) -> dict[str, float]:
    """Retrieve each item's true target among all targets by cosine similarity.

    For translated row ``i``, its rank is the number of *other* targets scoring at least as
    high as target ``i`` (ties count against the item). Returns ``top{k}`` = fraction with rank
    < k for each ``k`` and ``mrr`` = mean of ``1 / (rank + 1)``.

    Notes
    -----
    Hand-written: scikit-learn's ``top_k_accuracy_score`` treats two candidates as a binary
    problem and needs the whole n x n score matrix at once; here rows are scored in chunks of
    ``batch_size``, so memory stays O(batch_size * n). With one relevant item per row, ``mrr``
    equals scikit-learn's ``label_ranking_average_precision_score`` (tests check this).
    """
    A, B = _pair(translated, target)
    ks = tuple(ks)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise InvalidInputError(f"ks must be positive ints, got {ks!r}")
    ranks = retrieval_ranks(A, B, batch_size=batch_size)
    out = {f"top{k}": float(np.mean(ranks < k)) for k in ks}
    out["mrr"] = float(np.mean(1.0 / (ranks + 1.0)))
    return out


def linear_cka(X: Any, Y: Any) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019) between paired representations.

    1 when ``Y`` is an orthogonal transform and/or isotropic scaling of ``X`` (after centring);
    invariant to those, not to general linear maps. The two sides may have different dims.

    Notes
    -----
    Hand-written: scikit-learn has no CKA. Uses the feature-space form
    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` when features are fewer than items,
    else the equivalent n x n Gram form, whichever is smaller.
    """
    A = check_matrix(X, "X", dtype=np.float64, min_rows=2)
    B = check_matrix(Y, "Y", dtype=np.float64, min_rows=2)
    check_paired(A, B, ("X", "Y"))
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    n = A.shape[0]
    if max(A.shape[1], B.shape[1]) <= n:
        hsic = np.linalg.norm(B.T @ A) ** 2
        norm_a = np.linalg.norm(A.T @ A)
        norm_b = np.linalg.norm(B.T @ B)
    else:
        K, L = A @ A.T, B @ B.T
        hsic = float(np.sum(K * L))
        norm_a, norm_b = np.linalg.norm(K), np.linalg.norm(L)
    if norm_a < _EPS or norm_b < _EPS:
        raise InvalidInputError("CKA is undefined for a constant representation (zero variance "
                                "after centring)")
    return float(hsic / (norm_a * norm_b))


def alignment_fidelity(translated: Any, target: Any, *, ks: Sequence[int] = (1, 5),
                       batch_size: int = 1024) -> dict[str, float]:
    """All alignment-fidelity metrics on held-out pairs.

    Returns
    -------
    dict
        ``mean_cosine``, ``mse``, ``top{k}`` for each ``k``, ``mrr`` and ``cka``.
    """
    out: dict[str, float] = {"mean_cosine": mean_cosine(translated, target),
                             "mse": mse(translated, target)}
    out.update(retrieval_metrics(translated, target, ks=ks, batch_size=batch_size))
    out["cka"] = linear_cka(translated, target)
    return out

