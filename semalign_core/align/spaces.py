"""The target-side spaces a translation can be expressed in: one keyword, ``space=``, everywhere.

``"raw"``
    The target encoder's own space.
``"normalized"``
    The target side's fitted :class:`~.normalizers.SpaceNormalizer` space (what the solver maps
    into).
``"centered"``
    The raw space minus the target anchors' mean, whatever the target normaliser is. Raw
    sentence embeddings share a large common component; centring on the anchors removes it
    without rescaling dimensions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["SPACES", "centered_origin", "check_space"]

SPACES = ("raw", "normalized", "centered")


def check_space(space: Any) -> str:
    """Return ``space`` if it is one of :data:`SPACES`, else raise :class:`InvalidInputError`."""
    if space not in SPACES:
        raise InvalidInputError(f"space must be one of {SPACES}, got {space!r}")
    return str(space)


def centered_origin(target_mean: np.ndarray | None) -> np.ndarray:
    """The origin of ``space="centered"``: a translator's ``target_mean_``, which must exist."""
    if target_mean is None:
        raise InvalidInputError("this translator was saved without its target anchors' mean (an "
                                "old file whose target normaliser does not start by centring): "
                                "refit it to use space='centered'")
    return target_mean
