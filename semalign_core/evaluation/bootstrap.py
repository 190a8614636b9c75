"""Seeded percentile-bootstrap confidence intervals, vectorised over resamples where the metric
allows it.

:func:`bootstrap_ci` draws the resamples exactly as the generic loop always has (one
``rng.integers(0, n, size=n)`` per resample, from ``default_rng(seed)``), so a seed gives the same
resamples whichever path evaluates them. Accuracy, balanced accuracy, macro F1 and binary AUROC
are then evaluated on a block of resamples at once from per-resample counts (``bincount`` over
``resample * n_classes + label``) and, for AUROC, the Mann-Whitney rank statistic over tied score
groups: the same quantities scikit-learn computes, ~50x faster than one scikit-learn call per
resample. Any other metric keeps the generic loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._inputs import same_length

__all__ = ["ConfidenceInterval", "bootstrap_ci", "register_vectorised"]

#: Index entries (resamples x items) evaluated per block: bounds memory for any n.
_BLOCK_ENTRIES = 1 << 22
#: ``metric -> fn(arrays, idx_block) -> (values, defined)``, registered by the metrics module.
_VECTORISED: dict[Callable[..., float], Callable[..., Any]] = {}


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with a percentile-bootstrap confidence interval.

    Attributes
    ----------
    estimate : float
        The metric on the full sample.
    low, high : float
        The interval bounds.
    confidence : float
        E.g. 0.95.
    n_resamples : int
        Resamples drawn.
    n_valid : int
        Resamples where the metric was defined (e.g. AUROC needs both classes).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_valid: int

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict[str, float | int]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high,
                "confidence": self.confidence, "n_resamples": self.n_resamples,
                "n_valid": self.n_valid}


def register_vectorised(metric: Callable[..., float],
                        fn: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    """Let :func:`bootstrap_ci` evaluate ``metric`` on blocks of resamples with ``fn``.

    ``fn(arrays, idx)`` gets the full arrays and an (m, n) block of resample indices and returns
    ``(values, defined)``, each of shape (m,): the metric on each resample, and whether it is
    defined there; or ``None`` when it does not apply to these inputs (the generic loop then
    runs). It must compute what ``metric`` computes. A callable may instead carry the kernel
    as its ``bootstrap_kernel`` attribute.
    """
    _VECTORISED[metric] = fn


def resample_blocks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples of ``default_rng(seed)``, one draw of ``n`` per resample as the generic
    loop makes them, stacked into blocks of at most :data:`_BLOCK_ENTRIES` indices."""
    rows = max(1, _BLOCK_ENTRIES // n)
    if n_resamples <= rows and isinstance(seed, (int, np.integer)):
        # one block, drawn once for the several metrics of one prediction (same n and seed)
        yield _one_block(n, n_resamples, int(seed))
        return
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, rows):
        yield _draw(rng, min(rows, n_resamples - start), n)


def _draw(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    block = np.empty((m, n), dtype=np.int64)
    for i in range(m):  # one call per resample: a single (m, n) call draws other numbers
        block[i] = rng.integers(0, n, size=n)
    return block


@functools.lru_cache(maxsize=1)  # at most one block (<= _BLOCK_ENTRIES indices) kept
def _one_block(n: int, n_resamples: int, seed: int) -> np.ndarray:
    block = _draw(np.random.default_rng(seed), n_resamples, n)
    block.setflags(write=False)  # shared between callers
    return block


def _generic_values(metric: Callable[..., float], data: list[np.ndarray], n_resamples: int,
                    seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(data[0]), size=len(data[0]))
        try:
            value = float(metric(*(a[idx] for a in data)))
        except (InvalidInputError, ValueError):
            continue
        if np.isfinite(value):
            values.append(value)
    return values


def _vectorised_values(fn: Callable[..., Any], data: list[np.ndarray], n_resamples: int,
                       seed: int) -> np.ndarray | None:
    parts = []
    for block in resample_blocks(len(data[0]), n_resamples, seed):
        result = fn(data, block)
        if result is None:
            return None
        values, defined = result
        parts.append(values[defined & np.isfinite(values)])
    return np.concatenate(parts)


def bootstrap_ci(metric: Callable[..., float], *arrays: Any, n_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> ConfidenceInterval:
    """Percentile-bootstrap confidence interval of ``metric(*arrays)``.

    Items (rows of every array, resampled together) are drawn with replacement
    ``n_resamples`` times from a generator seeded with ``seed``, so the same seed gives the
    same interval. Resamples where the metric is undefined (it raises
    :class:`~semalign_core.InvalidInputError` or ``ValueError``, or returns NaN, e.g. AUROC on a
    resample with one class) are skipped and counted in ``n_valid``. The metrics of
    :mod:`semalign_core.evaluation.metrics` are evaluated on all resamples at once (same
    resamples, same values); any other callable one resample at a time.

    Parameters
    ----------
    metric : callable
        ``metric(*arrays) -> float``, e.g. :func:`balanced_accuracy`.
    *arrays : array-like
        Paired inputs with the same first dimension, e.g. ``y_true, y_pred``.
    n_resamples : int
    confidence : float
        In (0, 1).
    seed : int

    Returns
    -------
    ConfidenceInterval

    Notes
    -----
    Hand-written rather than :func:`scipy.stats.bootstrap` because semalign's metrics are
    undefined on some resamples (a single class), which scipy's BCa interval does not
    tolerate; the percentile interval skips those resamples explicitly.
    """
    if not arrays:
        raise InvalidInputError("bootstrap_ci needs at least one array to resample")
    data = [np.asarray(a) for a in arrays]
    n = len(data[0])
    if n < 2:
        raise InvalidInputError(f"bootstrap needs at least 2 items, got {n}")
    same_length(*((f"array {i}", a) for i, a in enumerate(data)))
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise InvalidInputError(f"n_resamples must be a positive int, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be in (0, 1), got {confidence!r}")
    estimate = float(metric(*data))  # also validates the inputs, as the metric does
    try:
        fn = _VECTORISED.get(metric) or getattr(metric, "bootstrap_kernel", None)
    except TypeError:  # an unhashable callable: no registered kernel
        fn = getattr(metric, "bootstrap_kernel", None)
    values = _vectorised_values(fn, data, n_resamples, seed) if fn is not None else None
    if values is None:
        values = _generic_values(metric, data, n_resamples, seed)
    if len(values) == 0:
        raise InvalidInputError("the metric was undefined on every bootstrap resample")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return ConfidenceInterval(estimate, float(low), float(high), float(confidence),
                              n_resamples, len(values))
