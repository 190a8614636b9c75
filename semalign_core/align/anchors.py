"""The :class:`AnchorSelector` base class every anchor-selector plugin implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidInputError, PluginError, TooFewAnchorsError
from ..params import ParamsMixin
from ..plugins.registry import build_component
from ..validation import check_matrix

__all__ = ["AnchorSelector", "get_anchor_selector"]


class AnchorSelector(ParamsMixin, ABC):
    """Choose which paired items become anchors.

    Subclasses implement :meth:`_select`; the public :meth:`select` validates the input and the
    result, so every selector fails the same way on bad input and honours the same contract:
    ``n`` distinct indices into ``X``, identical for identical input and seed.

    Parameters
    ----------
    seed : int or None
        The only source of randomness. ``None`` draws fresh entropy (not reproducible).
    """

    name: ClassVar[str] = ""

    def __init__(self, *, seed: int | None = 0) -> None:
        self.seed = _check_seed(seed)

    def select(self, X: Any, n: int, *, labels: Any = None) -> np.ndarray:
        """Pick ``n`` anchors among the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, dim)
            Source-space embeddings of the candidate pool.
        n : int
            Number of anchors, ``2 <= n <= n_items``.
        labels : array-like of shape (n_items,), optional
            Class labels, used by selectors that balance classes.

        Returns
        -------
        numpy.ndarray of int64, shape (n,)
            Distinct row indices into ``X``.
        """
        X = check_matrix(X, "X", dtype=np.float64)
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise InvalidInputError(f"n must be an int, got {type(n).__name__} {n!r}")
        n = int(n)
        if n < 2:
            raise TooFewAnchorsError(f"n must be at least 2 anchors, got {n}")
        if n > X.shape[0]:
            raise TooFewAnchorsError(
                f"cannot select {n} anchors from a pool of {X.shape[0]} items; lower n or "
                f"add items to the pool")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
                raise InvalidInputError(
                    f"labels must be 1-D with one entry per row of X ({X.shape[0]}), got shape "
                    f"{labels.shape}")
            missing = [i for i, v in enumerate(labels.tolist()) if v is None]
            if missing:
                raise InvalidInputError(f"labels hold None (first at row {missing[0]}); drop "
                                        f"those items or give them a label")
        # the seed may have been reassigned since construction
        rng = np.random.default_rng(_check_seed(self.seed))
        index = np.asarray(self._select(X, n, labels, rng))
        if (index.shape != (n,) or index.dtype.kind not in "iu"
                or len(np.unique(index)) != n or index.min() < 0 or index.max() >= X.shape[0]):
            raise PluginError(f"{type(self).__name__} broke the selector contract: expected "
                              f"{n} distinct indices in [0, {X.shape[0]}), got {index!r}")
        return index.astype(np.int64)

    @abstractmethod
    def _select(self, X: np.ndarray, n: int, labels: np.ndarray | None,
                rng: np.random.Generator) -> np.ndarray:
        """Return ``n`` distinct indices; inputs are already validated (float64 ``X``)."""


def _check_seed(seed: Any) -> int | None:
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)
                        and seed >= 0):
        return None if seed is None else int(seed)
    raise InvalidInputError(f"an anchor selector's seed must be an int >= 0 or None, got "
                            f"{seed!r}")


def get_anchor_selector(name: str, **params: Any) -> AnchorSelector:
    """Build the anchor selector registered as ``name``."""
    return build_component("anchor_selector", name, params, AnchorSelector)
