"""Alignment estimators: embeddings, fingerprints, per-side space normalisers, the Translator,
and the Solver and AnchorSelector base classes. NumPy only; never torch.
"""

from __future__ import annotations

from .anchors import AnchorSelector
from .embeddings import Embeddings
from .fingerprint import Fingerprint
from .normalizers import Preprocessing
from .relative import RelativeTranslator
from .solvers import Solver
from .translator import Translator

__all__ = ["AnchorSelector", "Embeddings", "Fingerprint", "Preprocessing", "RelativeTranslator",
           "Solver", "Translator"]
