"""Zero-shot decisions folded into one small ``(d_x x K)`` matrix.

When a translator folds into one affine map ``z = x W' + b'`` (followed at most by positive
per-row scalings, see :mod:`semalign_core.align.folding`), the nearest class of an image is

    argmax_k  cos(z, c_k) = argmax_k  (x W' + b') c_k / ||z||  = argmax_k  x (W' C^T) + b' C^T,

because dividing a row by the positive ``||z||`` changes no argmax and no sign. So single-label
``predict`` is one product with the ``(d_x x K)`` matrix ``M = W' C^T`` plus a bias, and
multi-label ``predict`` (positive minus negative cosine >= 0) is the sign of one with
``W' (C_pos - C_neg)^T``: per image, K multiply-adds per input dimension instead of a d_y-wide
translation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..align.folding import FOLDED_CHUNK, Affine, Plan, RowScale
from ..validation import checked_product

__all__ = ["FoldedScores", "fold_scores"]


class FoldedScores:
    """``x -> x M + c`` in float32: scores that order (and sign) like the cosines.

    Parameters
    ----------
    M : ndarray of shape (d_x, K)
    c : ndarray of shape (K,)
        Composed in float64 by :func:`fold_scores`; kept in float32.
    """

    def __init__(self, M: np.ndarray, c: np.ndarray) -> None:
        self.M = np.ascontiguousarray(M, dtype=np.float32)
        self.c = np.asarray(c, dtype=np.float32)
        self._m_nonzero = bool(np.all(self.M != 0))

    def _chunk(self, X: Any) -> np.ndarray:
        S = checked_product(X, self.M, "source", m_nonzero=self._m_nonzero)
        S += self.c
        return S

    def argmax(self, X: Any, labels: np.ndarray) -> np.ndarray:
        """``labels`` at the row-wise argmax of ``X M + c``, chunk by chunk (written straight
        into the result: no N-sized index array on the side)."""
        out = np.empty(X.shape[0], dtype=labels.dtype)
        for lo in range(0, X.shape[0], FOLDED_CHUNK):
            out[lo:lo + FOLDED_CHUNK] = labels[self._chunk(X[lo:lo + FOLDED_CHUNK]).argmax(axis=1)]
        return out

    def nonnegative(self, X: Any) -> np.ndarray:
        """``X M + c >= 0`` as an int64 0/1 matrix, chunk by chunk."""
        out = np.empty((X.shape[0], self.M.shape[1]), dtype=np.int64)
        for lo in range(0, X.shape[0], FOLDED_CHUNK):
            out[lo:lo + FOLDED_CHUNK] = self._chunk(X[lo:lo + FOLDED_CHUNK]) >= 0
        return out


def _near_identity(op: Any, size: float) -> bool:
    return (isinstance(op, Affine) and op.is_diagonal and bool(np.all(np.abs(op.A - 1) <= 1e-12))
            and bool(np.all(np.abs(op.b) <= 1e-12 * size)))


def fold_scores(plan: Plan | None, classes: np.ndarray, dim: int) -> FoldedScores | None:
    """Fold ``plan`` (then any positive row scalings) and the class rows ``classes`` (K, d_y)
    into :class:`FoldedScores`, or ``None`` when the plan is not one affine map."""
    if plan is None:
        return None
    ops = list(plan.ops64)
    # A positive scaling of the whole row changes no argmax or sign; an inverse-then-forward
    # target chain (the l2 projection) leaves such scalings around an affine map that is the
    # identity up to float64 round-off, far below float32 resolution.
    size = max([1.0] + [op.c for op in ops if isinstance(op, RowScale)])
    while ops and ((isinstance(ops[-1], RowScale) and ops[-1].c > 0)
                   or _near_identity(ops[-1], size)):
        ops.pop()
    head = Plan(ops)
    if not head.is_affine:
        return None
    affine = head.affine64(dim)
    C = np.asarray(classes, dtype=np.float64)
    return FoldedScores(affine.A @ C.T, affine.b @ C.T)
