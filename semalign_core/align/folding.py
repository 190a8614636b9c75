"""Folding a fitted translator into a few float32 operations.

Every space-normaliser step is affine (``center``, ``standard``) or a per-row scaling (``l2``), and
the closed-form solvers are affine, so a fitted translator is a short chain of

``Affine(A, b)``   ``x -> x A + b`` (``A`` a full matrix, or a vector for a diagonal scaling)
``RowScale(c)``    ``x -> c * x / max(||x||, eps)`` (the ``l2`` step and its inverse)

Consecutive affine operations compose into one (in float64, at fold time), so the standard
translator ``standard -> affine -> inverse standard`` becomes one ``x W' + b'``. The folded plan
is applied in float32, chunk by chunk, straight into the caller's output buffer: one matrix
product per chunk, the same work as the raw ``X @ W + b``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import check_matrix

if TYPE_CHECKING:
    from .normalizers import SpaceNormalizer
    from .solvers import Solver

__all__ = ["FOLDED_CHUNK", "Affine", "Plan", "RowScale", "build_plan", "compose"]

_EPS = 1e-12
#: Rows per matrix product of the folded float32 path: 2048 x 512 float32 inputs (4 MB) and their
#: outputs stay in the last-level cache between the product and the in-place bias/scaling passes
#: (benchmarks/bench_transform.py measured 1024-4096 as equally fast, 16k+ slower).
FOLDED_CHUNK = 2048


@dataclass(frozen=True)
class Affine:
    """``x -> x A + b`` in row-vector convention; ``A`` 2-D, or 1-D for a diagonal scaling."""

    A: np.ndarray
    b: np.ndarray

    @property
    def is_diagonal(self) -> bool:
        return self.A.ndim == 1

    def then(self, other: Affine) -> Affine:
        """The composition ``other(self(x))``, in float64."""
        A1, A2 = self.A, other.A
        if A1.ndim == 1 and A2.ndim == 1:
            A = A1 * A2
        elif A1.ndim == 1:
            A = A1[:, None] * A2
        elif A2.ndim == 1:
            A = A1 * A2
        else:
            A = A1 @ A2
        b = (self.b * A2 if A2.ndim == 1 else self.b @ A2) + other.b
        return Affine(A, b)


@dataclass(frozen=True)
class RowScale:
    """``x -> c * x / max(||x||, eps)``: the ``l2`` step (``c = 1``) or its inverse."""

    c: float


Op = Affine | RowScale


def compose(ops: Iterable[Op]) -> tuple[Op, ...]:
    """Merge runs of consecutive :class:`Affine` operations into one (float64)."""
    out: list[Op] = []
    for op in ops:
        if isinstance(op, Affine) and out and isinstance(out[-1], Affine):
            out[-1] = out[-1].then(op)
        else:
            out.append(op)
    return tuple(out)


class Plan:
    """A composed chain of operations, applied in float32.

    Parameters
    ----------
    ops : sequence of Affine or RowScale
        Composed by :func:`compose` (float64); cast to float32 here, once.
    """

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops64 = compose(ops)
        self._ops32: tuple[Op, ...] = tuple(
            Affine(np.ascontiguousarray(op.A, dtype=np.float32), op.b.astype(np.float32))
            if isinstance(op, Affine) else op for op in self.ops64)

    @property
    def is_affine(self) -> bool:
        """One affine map (possibly the identity, when there are no operations)."""
        return len(self.ops64) <= 1 and all(isinstance(op, Affine) for op in self.ops64)

    def affine64(self, dim: int) -> Affine:
        """The single float64 affine map (requires :attr:`is_affine`); ``dim`` for identity."""
        if not self.is_affine:
            raise ValueError("this plan is not one affine map")
        if not self.ops64:
            return Affine(np.eye(dim), np.zeros(dim))
        op = self.ops64[0]
        assert isinstance(op, Affine)
        return Affine(np.diag(op.A), op.b) if op.is_diagonal else op

    def apply(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Map float32 rows ``X`` into ``out`` (float32, shape (len(X), d_out)); return ``out``.

        The first full matrix product writes straight into ``out``; every other operation is
        in place, so a chunk costs its matrix product plus a few passes over the output.
        """
        Z = X
        for i, op in enumerate(self._ops32):
            if isinstance(op, RowScale):
                Z = Z if Z is not X else Z.copy()
                norms = np.sqrt(np.einsum("ij,ij->i", Z, Z))
                np.maximum(norms, _EPS, out=norms)
                Z *= (np.float32(op.c) / norms)[:, None]
            elif op.is_diagonal:
                Z = Z * op.A if Z is X else np.multiply(Z, op.A, out=Z)
                Z += op.b
            else:
                target = out if op.A.shape[1] == out.shape[1] and self._last_full(i) else None
                Z = np.matmul(Z, op.A, out=target)
                Z += op.b
        if Z is not out:
            out[...] = Z
        return out

    def apply_rows(self, array: Any, start: int, out: np.ndarray, *,
                   name: str = "source") -> np.ndarray:
        """Map ``array[start:start + len(out)]`` into ``out`` in cache-sized pieces, each checked
        (floating point, finite) and cast to float32 on its own, so any N runs in bounded
        memory (``array`` may be a memory map)."""
        for lo in range(0, len(out), FOLDED_CHUNK):
            hi = min(lo + FOLDED_CHUNK, len(out))
            self.apply(check_matrix(array[start + lo:start + hi], name, dtype=np.float32),
                       out[lo:hi])
        return out

    def _last_full(self, i: int) -> bool:
        """Whether op ``i`` is the last full matrix product (only it may write into ``out``)."""
        return not any(isinstance(op, Affine) and not op.is_diagonal
                       for op in self._ops32[i + 1:])


def build_plan(source: SpaceNormalizer, solver: Solver, target: SpaceNormalizer, *,
               space: str, origin: np.ndarray | None = None) -> Plan | None:
    """Fold ``source`` steps -> ``solver`` -> target side into a :class:`Plan` (``None`` when the
    solver has no :meth:`~semalign_core.Solver.linear_map`).

    ``space="raw"`` ends with the inverse target steps (the target encoder's raw space), and
    ``"centered"`` then subtracts ``origin`` (the target anchors' mean). ``"normalized"`` ends in
    the target's normalised space: nothing more when the target chain is exactly invertible,
    and inverse-then-forward when it has an ``l2`` step (the projection onto the normalised
    space's image that the float64 path applies too).
    """
    linear = solver.linear_map()
    if linear is None:
        return None
    W, b = linear
    ops: list[Op] = [*source.ops(),
                     Affine(np.asarray(W, np.float64), np.asarray(b, np.float64))]
    if space != "normalized":
        ops += target.ops(inverse=True)
        if space == "centered":
            assert origin is not None
            ops.append(Affine(np.ones(len(origin)), -np.asarray(origin, np.float64)))
    elif "l2" in target.steps:
        ops += target.ops(inverse=True) + target.ops()
    return Plan(ops)
