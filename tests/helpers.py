"""Small deterministic components shared by the core tests (no torch, no plugins)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from semalign_core import AnchorSelector, Encoder, Fingerprint, Solver


class HashTextEncoder(Encoder):
    """Bag of hashed words: a deterministic text encoder that needs no weights."""

    name = "test-hash"
    modality = "text"
    default_batch_size = 4

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.loads = 0

    def _load(self) -> None:
        self.loads += 1

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("test-hash", "bag-of-words", "none", self.dim,
                           preprocessing={"lowercase": True})

    def encode_batch(self, items: Sequence[Any]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), np.float32)
        for row, text in enumerate(items):
            for word in str(text).lower().split():
                h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
                out[row, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
        return out


class FirstNSelector(AnchorSelector):
    """Deterministic: a seeded permutation's first n rows."""

    name = "test-first-n"

    def _select(self, X: np.ndarray, n: int, labels: Any, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(X.shape[0])[:n]


class LstsqSolver(Solver):
    """Plain affine least squares via np.linalg.lstsq (a reference, not the plugin's code)."""

    name = "test-lstsq"

    def __init__(self, *, tag: str = "x") -> None:
        self.tag = tag

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        A = np.column_stack([X, np.ones(len(X))])
        self.coef_ = np.linalg.lstsq(A, Y, rcond=None)[0]
        self.note_ = "fitted"

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_[:-1] + self.coef_[-1]


class FoldableLstsqSolver(LstsqSolver):
    """:class:`LstsqSolver` exposing its map, so a Translator folds it (the folded path)."""

    name = "test-lstsq-foldable"

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        return self.coef_[:-1], self.coef_[-1]
