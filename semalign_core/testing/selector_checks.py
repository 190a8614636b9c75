"""The :class:`~semalign_core.AnchorSelector` contract, one named check per rule."""

from __future__ import annotations

import numpy as np

from ..align.anchors import AnchorSelector
from ..errors import InvalidInputError, TooFewAnchorsError
from ._common import Check, CheckOptions, check_params, expect_error

__all__ = ["SELECTOR_CHECKS"]

_COUNTS = (2, 7, 30, 60)


def _pool(options: CheckOptions) -> tuple[np.ndarray, np.ndarray]:
    """60 points in 8 dimensions with unbalanced labels (30 / 20 / 10)."""
    rng = np.random.default_rng(options.seed)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    return X, np.repeat(np.array(["a", "b", "c"]), [30, 20, 10])


def check_subclass(selector: AnchorSelector, options: CheckOptions) -> None:
    assert isinstance(selector, AnchorSelector), \
        f"{type(selector).__name__} must subclass semalign_core.AnchorSelector"


def check_distinct_indices(selector: AnchorSelector, options: CheckOptions) -> None:
    X, _ = _pool(options)
    name = type(selector).__name__
    for n in _COUNTS:
        idx = selector.select(X, n)
        assert idx.shape == (n,) and len(np.unique(idx)) == n, \
            f"{name}.select must return {n} distinct indices, got shape {idx.shape}"
        assert idx.min() >= 0 and idx.max() < len(X), f"{name} returned out-of-range indices"


def check_deterministic(selector: AnchorSelector, options: CheckOptions) -> None:
    X, _ = _pool(options)
    for n in _COUNTS:
        np.testing.assert_array_equal(
            selector.select(X, n), selector.select(X, n),
            err_msg=f"{type(selector).__name__} must be deterministic for a fixed seed")


def check_labels(selector: AnchorSelector, options: CheckOptions) -> None:
    X, labels = _pool(options)
    labelled = selector.select(X, 12, labels=labels)
    assert len(np.unique(labelled)) == 12, \
        f"{type(selector).__name__} with labels must return 12 distinct indices"


def check_bad_count(selector: AnchorSelector, options: CheckOptions) -> None:
    X, _ = _pool(options)
    name = type(selector).__name__
    expect_error(TooFewAnchorsError, lambda: selector.select(X, 61), f"{name}: n > pool")
    expect_error(TooFewAnchorsError, lambda: selector.select(X, 1), f"{name}: n < 2")


def check_bad_labels(selector: AnchorSelector, options: CheckOptions) -> None:
    X, labels = _pool(options)
    expect_error(InvalidInputError, lambda: selector.select(X, 5, labels=labels[:-1]),
                 f"{type(selector).__name__}: labels of the wrong length")


def check_nan_input(selector: AnchorSelector, options: CheckOptions) -> None:
    X, _ = _pool(options)
    X[3, 2] = np.nan
    expect_error(InvalidInputError, lambda: selector.select(X, 5),
                 f"{type(selector).__name__}: NaN input")


SELECTOR_CHECKS = tuple(Check(name, function) for name, function in [
    ("subclass", check_subclass),
    ("params", check_params),
    ("distinct_indices", check_distinct_indices),
    ("deterministic", check_deterministic),
    ("labels", check_labels),
    ("bad_count", check_bad_count),
    ("bad_labels", check_bad_labels),
    ("nan_input", check_nan_input),
])
