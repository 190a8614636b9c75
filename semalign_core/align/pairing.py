"""Pairing anchors by id: which source row goes with which target row.

Two :class:`~semalign_core.Embeddings` carry ids, so the pairs are known and need not be
trusted to row order: a target file written in another order, or one of other items entirely,
must not fit a wrong map without a word.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .embeddings import Embeddings

__all__ = ["PAIRINGS", "pair_by_id"]

#: ``"ids"``: both sides hold the same ids (any order); ``"intersection"``: the shared ids;
#: ``"rows"``: row i with row i, ids ignored.
PAIRINGS = ("ids", "intersection", "rows")


def _examples(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:3])
    return shown + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def pair_by_id(source: Any, target: Any, pairing: str = "ids") -> tuple[Any, Any]:
    """Return ``(source, target)`` reordered so that row ``i`` of each is the same item.

    Parameters
    ----------
    source, target : Embeddings or array-like
        Arrays (no ids) are always paired by row.
    pairing : {"ids", "intersection", "rows"}
        ``"ids"`` (default): two Embeddings must hold the same set of ids; the target is put in
        the source's order. ``"intersection"``: keep the ids present in both, in source order
        (the rest are dropped). ``"rows"``: pair row by row, ignoring the ids.

    Raises
    ------
    InvalidInputError
        No shared id, or (with ``"ids"``) ids present on one side only.
    """
    if pairing not in PAIRINGS:
        raise InvalidInputError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    if pairing == "rows" or not (isinstance(source, Embeddings)
                                 and isinstance(target, Embeddings)):
        return source, target
    target_ids = set(target.ids)
    common = [i for i in source.ids if i in target_ids]
    if not common:
        raise InvalidInputError(
            f"source and target share no id (source ids like {_examples(list(source.ids))}; "
            f"target ids like {_examples(list(target.ids))}); anchors are paired by id. Give "
            f"both sides the same ids, or pass pairing='rows' if row i of each is one item")
    if pairing == "ids" and (len(common) != len(source) or len(common) != len(target)):
        source_only = [i for i in source.ids if i not in target_ids]
        shared = set(common)
        target_only = [i for i in target.ids if i not in shared]
        raise InvalidInputError(
            f"source and target share {len(common)} of {len(source)} source and "
            f"{len(target)} target ids (source only: {_examples(source_only) or 'none'}; "
            f"target only: {_examples(target_only) or 'none'}); pass "
            f"pairing='intersection' (CLI: --pairing intersection) to fit on the shared ids")
    if len(common) == len(source) and list(source.ids) == list(target.ids):
        return source, target
    return source.subset(common), target.subset(common)
