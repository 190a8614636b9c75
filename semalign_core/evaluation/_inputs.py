"""Input checks shared by the metrics and the bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DimensionMismatchError, InvalidInputError

__all__ = ["labels_1d", "same_length", "scores"]


def labels_1d(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D (one label per item), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty")
    return arr


def same_length(*pairs: tuple[str, np.ndarray]) -> None:
    lengths = {name: len(a) for name, a in pairs}
    if len(set(lengths.values())) > 1:
        raise DimensionMismatchError(f"inputs must have one entry per item, got lengths "
                                     f"{lengths}")


def scores(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "fiub":
        raise InvalidInputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim not in (1, 2):
        raise InvalidInputError(f"{name} must be 1-D or 2-D, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or inf")
    return arr
