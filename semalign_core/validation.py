"""Input checks shared by every estimator, so each error reads the same everywhere."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DimensionMismatchError, InvalidInputError

__all__ = ["check_finite", "check_matrix", "check_paired", "checked_product"]


def check_matrix(X: Any, name: str = "X", *, dtype: type = np.float32,
                 min_rows: int = 1) -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D floating array of ``dtype``.

    Only floating-point input is accepted; casting between float widths is the documented
    behaviour (embeddings are float32 on disk, solvers compute in float64). Integers, booleans,
    objects, NaN and inf are refused rather than coerced.
    """
    if hasattr(X, "vectors") and not isinstance(X, np.ndarray):  # an Embeddings container
        X = X.vectors
    arr = np.asarray(X)
    if arr.dtype.kind != "f":
        raise InvalidInputError(
            f"{name} must be a floating-point array, got dtype {arr.dtype}; "
            f"convert it explicitly with {name}.astype(np.float32)")
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (n_items, dim), got shape {arr.shape}; "
            f"use {name}.reshape(1, -1) for a single vector")
    if arr.shape[0] < min_rows:
        raise InvalidInputError(f"{name} needs at least {min_rows} row(s), got {arr.shape[0]}")
    if arr.shape[1] == 0:
        raise InvalidInputError(f"{name} has zero columns")
    check_finite(arr, name)
    if np.dtype(dtype).itemsize < arr.dtype.itemsize and arr.size:
        # float64 values beyond float32's range would silently become inf in the cast
        too_big = np.abs(arr) > np.finfo(dtype).max
        if too_big.any():
            bad = tuple(int(i) for i in np.argwhere(too_big)[0])
            raise InvalidInputError(
                f"{name} holds values too large for {np.dtype(dtype).name} (first at index "
                f"{bad}: {float(arr[bad])!r}); rescale them")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or inf, naming the first offending row."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise InvalidInputError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            f"drop or re-encode those items")


def check_paired(X: np.ndarray, Y: np.ndarray, names: tuple[str, str] = ("X", "Y")) -> None:
    """Raise unless ``X`` and ``Y`` have the same number of rows."""
    if X.shape[0] != Y.shape[0]:
        raise DimensionMismatchError(
            f"{names[0]} and {names[1]} must be paired row by row, but have "
            f"{X.shape[0]} and {Y.shape[0]} rows")


def checked_product(X: Any, M: np.ndarray, name: str = "X", *,
                    m_nonzero: bool | None = None) -> np.ndarray:
    """``X @ M`` in float32 for float rows ``X``, refusing NaN/inf in ``X`` like
    :func:`check_matrix`, but checking the (usually much smaller) product instead of ``X``.

    Sound because every NaN or inf element of ``X`` reaches every output column unless it meets
    an exact zero of ``M`` (``inf * 0`` is the only way to lose one): for such an ``M``, and for
    input that is not float32 and C-contiguous already, ``X`` itself is checked first.
    ``m_nonzero`` is ``np.all(M != 0)``, when the caller has it already.
    """
    arr = np.asarray(X)
    if m_nonzero is None:
        m_nonzero = bool(np.all(M != 0))
    if arr.dtype != np.float32 or arr.ndim != 2 or not arr.flags.c_contiguous or not m_nonzero:
        return check_matrix(arr, name, dtype=np.float32, min_rows=0) @ M
    with np.errstate(invalid="ignore", over="ignore"):  # reported below, with the input named
        out = arr @ M
    if not np.isfinite(out).all():
        check_finite(arr, name)
        raise InvalidInputError(f"{name} is so large that its products overflow float32; check "
                                f"that the vectors come from the right encoder")
    return out
