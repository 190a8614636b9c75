"""Supervised references on the source encoder: the linear probe and the k-shot probe curve.

A zero-shot result means little without knowing what labels would buy. These baselines train a
logistic regression (standardised inputs, scikit-learn's defaults: nothing tuned, an honest
reference rather than a tuned competitor) on labelled source-encoder embeddings:

:func:`linear_probe`
    on every labelled training item;
:func:`k_shot_probe`
    on ``k`` items per class drawn with ``numpy.random.default_rng(seed)``; :func:`probe_curve`
    runs it for ``k = 1, 2, 4, 8, 16`` and every seed, with the same bootstrap CIs (same
    ``seed``) as the zero-shot runs, so the anchors curve can draw both on one axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..validation import check_matrix
from .metrics import ConfidenceInterval, classification_metrics

__all__ = ["DEFAULT_SHOTS", "ProbeResult", "k_shot_indices", "k_shot_probe", "linear_probe",
           "probe_curve"]

#: Shots per class of :func:`probe_curve`.
DEFAULT_SHOTS = (1, 2, 4, 8, 16)


@dataclass
class ProbeResult:
    """One fitted probe's predictions on the evaluation items and their metrics.

    Attributes
    ----------
    shots : int or None
        Training items per class (``None``: every labelled item).
    seed : int
    n_train : int
    y_pred : ndarray
    y_score : ndarray
        Binary: the positive class's log-odds (``classes[1]``); else class probabilities in
        ``classes`` order.
    metrics : dict
        accuracy, balanced_accuracy, macro_f1, auroc with bootstrap CIs.
    """

    shots: int | None
    seed: int
    n_train: int
    y_pred: np.ndarray
    y_score: np.ndarray
    metrics: dict[str, ConfidenceInterval]


def k_shot_indices(labels: Sequence[Any], k: int, seed: int) -> np.ndarray:
    """``k`` indices per class, drawn without replacement from ``default_rng(seed)``, sorted.

    Raises
    ------
    InvalidInputError
        ``k < 1`` or a class with fewer than ``k`` items.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive int, got {k!r}")
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < k:
            raise InvalidInputError(f"class {c.item()!r} has {len(members)} labelled item(s); a "
                                    f"{k}-shot probe needs {k}")
        chosen.append(rng.choice(members, int(k), replace=False))
    return np.sort(np.concatenate(chosen))


def _fit_predict(X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, classes: Sequence[Any],
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    probe.fit(X, y)
    fitted = [str(c) for c in probe.classes_]
    proba = probe.predict_proba(X_eval)
    proba = np.column_stack([proba[:, fitted.index(str(c))] if str(c) in fitted
                             else np.zeros(len(X_eval)) for c in classes])
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    if len(classes) == 2:
        # log-odds rank like the probability but do not saturate into ties at 0 or 1
        score = probe.decision_function(X_eval)
        return y_pred, score if fitted[1] == str(classes[1]) else -score
    return y_pred, proba


def _checked(X: Any, y: Any, X_eval: Any, y_eval: Any, classes: Sequence[Any] | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    A = check_matrix(X, "X_train", dtype=np.float64)
    B = check_matrix(X_eval, "X_eval", dtype=np.float64)
    yt, ye = np.asarray(y), np.asarray(y_eval)
    if yt.shape != (len(A),) or ye.shape != (len(B),):
        raise InvalidInputError(f"need one label per item: {len(A)} train / {len(B)} eval "
                                f"items, {yt.shape} / {ye.shape} labels")
    if A.shape[1] != B.shape[1]:
        raise InvalidInputError(f"train items are {A.shape[1]}-d, eval items {B.shape[1]}-d")
    names = sorted(set(yt.tolist()) | set(ye.tolist())) if classes is None else list(classes)
    if len(set(yt.tolist())) < 2:
        raise InvalidInputError("a probe needs labelled training items of at least 2 classes")
    return A, yt, B, ye, names


def linear_probe(X_train: Any, y_train: Any, X_eval: Any, y_eval: Any, *,
                 classes: Sequence[Any] | None = None, seed: int = 0,
                 n_resamples: int = 1000) -> ProbeResult:
    """Logistic regression on every labelled training item, scored on the evaluation items.

    Parameters
    ----------
    X_train, X_eval : array-like (n, d)
        Source-encoder embeddings.
    y_train, y_eval : array-like (n,)
    classes : sequence, optional
        Class order (binary: ``classes[1]`` is the positive class); default sorted labels.
    seed : int
        Seeds the solver and the bootstrap.
    n_resamples : int
    """
    A, yt, B, ye, names = _checked(X_train, y_train, X_eval, y_eval, classes)
    y_pred, score = _fit_predict(A, yt, B, names, seed)
    metrics = classification_metrics(ye, y_pred, score, labels=names, n_resamples=n_resamples,
                                     seed=seed)
    return ProbeResult(None, seed, len(A), y_pred, score, metrics)


def k_shot_probe(X_train: Any, y_train: Any, X_eval: Any, y_eval: Any, k: int, *,
                 classes: Sequence[Any] | None = None, seed: int = 0,
                 n_resamples: int = 1000) -> ProbeResult:
    """:func:`linear_probe` on ``k`` training items per class (:func:`k_shot_indices`)."""
    A, yt, B, ye, names = _checked(X_train, y_train, X_eval, y_eval, classes)
    idx = k_shot_indices(yt, k, seed)
    y_pred, score = _fit_predict(A[idx], yt[idx], B, names, seed)
    metrics = classification_metrics(ye, y_pred, score, labels=names, n_resamples=n_resamples,
                                     seed=seed)
    return ProbeResult(int(k), seed, len(idx), y_pred, score, metrics)


def probe_curve(X_train: Any, y_train: Any, X_eval: Any, y_eval: Any, *,
                shots: Sequence[int] = DEFAULT_SHOTS, seeds: Sequence[int] = (0,),
                classes: Sequence[Any] | None = None, n_resamples: int = 1000
                ) -> list[ProbeResult]:
    """A :func:`k_shot_probe` for every ``k`` in ``shots`` and every seed (``k`` outer)."""
    return [k_shot_probe(X_train, y_train, X_eval, y_eval, int(k), classes=classes, seed=s,
                         n_resamples=n_resamples) for k in shots for s in seeds]
