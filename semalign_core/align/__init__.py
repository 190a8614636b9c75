"""Alignment estimators: embeddings, fingerprints, per-side space normalisers, the Translator,
and the Solver and AnchorSelector base classes. NumPy only; never torch.
"""

from __future__ import annotations

from .anchors import AnchorSelector
from .embeddings import Embeddings
from .fingerprint import Fingerprint
from .normalizers import SpaceNormalizer
from .relative import RelativeTranslator
from .solvers import Solver
from .translator import Translator

__all__ = ["AnchorSelector", "Embeddings", "Fingerprint", "RelativeTranslator", "Solver",
           "SpaceNormalizer", "Translator"]


def __getattr__(name: str) -> object:
    # ``Preprocessing`` was SpaceNormalizer's name until it was confused with an encoder's input
    # preprocessing; the old name keeps working, with a warning, for a while.
    if name == "Preprocessing":
        from .._deprecated import warn_renamed

        warn_renamed("Preprocessing", "SpaceNormalizer")
        return SpaceNormalizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
