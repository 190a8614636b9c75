"""Splits of a manifest that keep every group (e.g. a patient) on one side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InvalidInputError
from .manifest import Manifest

__all__ = ["split_by_group"]


def split_by_group(manifest: Manifest, *, test_size: float = 0.2, seed: int = 0,
                   names: tuple[str, str] = ("train", "test")) -> Manifest:
    """Assign a two-way split so that no group (e.g. patient) is on both sides.

    Uses :class:`sklearn.model_selection.GroupShuffleSplit`: ``test_size`` is the fraction of
    *groups* in the second split. Items without a group form a group of their own.

    Parameters
    ----------
    manifest : Manifest
    test_size : float
        In (0, 1).
    seed : int
        The same seed gives the same split.
    names : (str, str)
        Split names written into the items.

    Returns
    -------
    Manifest
        A copy with ``split`` set on every item.

    Raises
    ------
    InvalidInputError
        Fewer than two groups, or ``test_size`` outside (0, 1).
    """
    from sklearn.model_selection import GroupShuffleSplit

    if not 0 < test_size < 1:
        raise InvalidInputError(f"test_size must be in (0, 1), got {test_size!r}")
    groups = np.asarray([r.group if r.group is not None else f"\x00{r.id}" for r in manifest])
    if len(set(groups.tolist())) < 2:
        raise InvalidInputError(f"cannot split {len(groups)} item(s) in "
                                f"{len(set(groups.tolist()))} group(s); need at least 2 groups")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(np.zeros(len(groups)), groups=groups))
    side = np.empty(len(groups), dtype=object)
    side[train_idx] = names[0]
    side[test_idx] = names[1]
    return Manifest([replace(r, split=str(side[i])) for i, r in enumerate(manifest)],
                    source=manifest.source)
