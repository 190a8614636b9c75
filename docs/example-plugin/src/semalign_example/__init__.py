"""A tiny deterministic semalign plugin: one encoder, one anchor selector, one solver.

Copy this package to start a plugin. The rules it follows:

* register through ``@hookimpl`` functions that receive ``register``;
* import only ``semalign_core``'s public API;
* do nothing heavy at import time (load weights in ``Encoder._load``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from semalign_core import (
    AnchorSelector,
    DimensionMismatchError,
    Encoder,
    Fingerprint,
    Solver,
    hookimpl,
)

__all__ = ["HashEncoder", "ShiftSolver", "SpreadSelector"]


class HashEncoder(Encoder):
    """Text -> signed bag of hashed words. Deterministic, no weights.

    Parameters
    ----------
    dim : int
        Output dimension.
    """

    name = "example-hash"
    modality = "text"
    default_batch_size = 64

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "hashed-bag-of-words", "none", self.dim,
                           preprocessing={"lowercase": True, "split": "whitespace"})

    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), np.float32)
        for row, text in enumerate(items):
            for word in str(text).lower().split():
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(),
                                        "little")
                out[row, digest % self.dim] += 1.0 if digest >> 63 else -1.0
        return out


class SpreadSelector(AnchorSelector):
    """Items evenly spaced along the pool's first principal direction.

    The seed only breaks ties (a random jitter of the start offset), so the selection is
    deterministic for a given seed.
    """

    name = "example-spread"

    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        centred = X - X.mean(axis=0)
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ direction, kind="stable")
        positions = np.linspace(0, len(order) - 1, n).round().astype(int)
        chosen = order[np.unique(positions)]
        if len(chosen) < n:  # rounding collisions: top up with unused items
            rest = np.setdiff1d(order, chosen)
            chosen = np.concatenate([chosen, rng.permutation(rest)[: n - len(chosen)]])
        return chosen


class ShiftSolver(Solver):
    """Translation only: ``f(x) = x + b`` with ``b = mean(Y) - mean(X)``."""

    name = "example-shift"

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        if X.shape[1] != Y.shape[1]:
            raise DimensionMismatchError(
                f"example-shift needs equal dimensions, got {X.shape[1]} and {Y.shape[1]}")
        self.shift_ = Y.mean(axis=0) - X.mean(axis=0)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X + self.shift_


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    # <family>-<arch>[-<tag>][-text] (docs/writing-plugins.md); HashEncoder says its own modality.
    register("example-hash-text", HashEncoder, aliases=("example-hash",),
             summary="signed bag of hashed words")


@hookimpl
def register_anchor_selectors(register):  # type: ignore[no-untyped-def]
    register("example-spread", SpreadSelector)


@hookimpl
def register_solvers(register):  # type: ignore[no-untyped-def]
    register("example-shift", ShiftSolver, aliases=("shift",))
