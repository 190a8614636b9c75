"""Class-level pairing: give each anchor-pool item texts of its own label.

For data without per-item reports (the pneumonia demo pairs Kermany images with Open-i reports
of their class). Per run seed, each class's texts are shuffled, a ``holdout`` fraction is kept
out of the pairing (a task may build class embeddings from it), and each pool item is paired
with the unit mean embedding of ``k`` texts of its class from the rest.

>>> pair_by_label(["a", "b"], {"a": ["t1"], "b": ["t2", "t3"]}, k=1, seed=0)[0]
['t1']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._numerics import unit_mean  # an anchor's target: the unit mean of its reports
from ..errors import InvalidInputError

__all__ = ["pair_by_label", "split_texts", "unit_mean"]


def pair_by_label(labels: Sequence[str], texts_by_label: Mapping[str, Sequence[str]], *,
                  k: int = 1, seed: int = 0) -> list[list[str]]:
    """Give each item ``k`` texts of its own label (class-level pairing).

    Parameters
    ----------
    labels : sequence of str
        One label per item.
    texts_by_label : mapping
        Label -> candidate text ids.
    k : int
        Texts per item, distinct within an item (all of them when a class has fewer).
    seed : int

    Returns
    -------
    list of list of str
        The text ids of each item.

    Raises
    ------
    InvalidInputError
        A label without candidate texts.
    """
    rng = np.random.default_rng(seed)
    out = []
    for label in labels:
        candidates = texts_by_label.get(label)
        if not candidates:
            raise InvalidInputError(f"no text with label {label!r} to pair with (text labels: "
                                    f"{sorted(texts_by_label)})")
        take = min(k, len(candidates))
        out.append([candidates[j] for j in rng.choice(len(candidates), take, replace=False)])
    return out


def split_texts(text_labels: Mapping[str, str], holdout: float, seed: int
                ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per label, shuffle the text ids and keep a ``holdout`` fraction apart.

    Returns ``(pairing, held_out)``, each label -> text ids (the held-out part is disjoint from
    the pairing part, so class embeddings built from it never reuse an anchor's text).
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for text_id, label in text_labels.items():
        by_label.setdefault(label, []).append(text_id)
    pairing, held = {}, {}
    for label in sorted(by_label):
        ids = by_label[label]
        order = [ids[j] for j in rng.permutation(len(ids))]
        cut = round(len(ids) * holdout)
        if holdout > 0 and (cut == 0 or cut == len(ids)):
            raise InvalidInputError(f"label {label!r} has {len(ids)} text(s): too few to hold "
                                    f"out a fraction {holdout} and pair with the rest")
        held[label], pairing[label] = order[:cut], order[cut:]
    return pairing, held
