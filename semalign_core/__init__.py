"""semalign: align the latent spaces of encoders that were never trained together.

Everything a user composes is importable from here. Importing this package is cheap: it never
imports torch and loads no plugin; plugins load on the first registry access.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .align.anchors import AnchorSelector, get_anchor_selector
from .align.embeddings import Embeddings
from .align.fingerprint import Fingerprint
from .align.normalizers import SpaceNormalizer
from .align.relative import RelativeTranslator
from .align.solvers import Solver, get_solver
from .align.translator import Translator
from .data.manifest import get_dataset
from .encoding.encoder import Encoder, get_encoder
from .errors import (
    CorruptFileError,
    DimensionMismatchError,
    DuplicatePluginError,
    EncoderMismatchError,
    ImageLoadError,
    InvalidInputError,
    MissingFileError,
    MissingWeightsError,
    NotFittedError,
    OutputError,
    PluginError,
    SemalignError,
    TooFewAnchorsError,
    UnknownPluginError,
)
from .plugins.hookspecs import hookimpl
from .plugins.manager import plugin_infos, register_plugin, reset_plugins, unregister_plugin
from .plugins.registry import (
    list_anchor_selectors,
    list_datasets,
    list_encoders,
    list_solvers,
    list_tasks,
)
from .zeroshot.class_embeddings import ClassEmbeddings
from .zeroshot.classifier import LabelIndex, PromptSet, ZeroShotClassifier
from .zeroshot.stitching import LinearHead, StitchedClassifier

__all__ = [
    "AnchorSelector",
    "ClassEmbeddings",
    "CorruptFileError",
    "DimensionMismatchError",
    "DuplicatePluginError",
    "Embeddings",
    "Encoder",
    "EncoderMismatchError",
    "Fingerprint",
    "ImageLoadError",
    "InvalidInputError",
    "LabelIndex",
    "LinearHead",
    "MissingFileError",
    "MissingWeightsError",
    "NotFittedError",
    "OutputError",
    "PluginError",
    "PromptSet",
    "RelativeTranslator",
    "SemalignError",
    "Solver",
    "SpaceNormalizer",
    "StitchedClassifier",
    "TooFewAnchorsError",
    "Translator",
    "UnknownPluginError",
    "ZeroShotClassifier",
    "__version__",
    "get_anchor_selector",
    "get_dataset",
    "get_encoder",
    "get_solver",
    "get_task",
    "hookimpl",
    "list_anchor_selectors",
    "list_datasets",
    "list_encoders",
    "list_solvers",
    "list_tasks",
    "plugin_infos",
    "register_plugin",
    "reset_plugins",
    "unregister_plugin",
]


def __getattr__(name: str) -> Any:
    # get_task lives with the Task base in the experiments layer, which needs pydantic (the
    # `experiments` extra); resolving it on first use keeps `import semalign_core` light.
    if name == "get_task":
        from .experiments.tasks.base import get_task

        return get_task
    # ``Preprocessing`` was SpaceNormalizer's name until it was confused with an encoder's input
    # preprocessing; the old name keeps working, with a warning, for a while.
    if name == "Preprocessing":
        from ._deprecated import warn_renamed

        warn_renamed("Preprocessing", "SpaceNormalizer")
        return SpaceNormalizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
