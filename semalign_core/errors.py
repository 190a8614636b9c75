"""One exception hierarchy for everything semalign raises on purpose.

Every error a user can trigger with bad input derives from :class:`SemalignError`, so callers can
catch the whole family with one ``except`` clause. Subclasses also derive from the closest
built-in (``ValueError``, ``KeyError``, ...) so generic code keeps working.
"""

from __future__ import annotations

__all__ = [
    "CorruptFileError",
    "DimensionMismatchError",
    "DuplicatePluginError",
    "EncoderMismatchError",
    "ImageLoadError",
    "InvalidInputError",
    "MissingFileError",
    "MissingWeightsError",
    "NotFittedError",
    "OutputError",
    "PluginError",
    "SemalignError",
    "TooFewAnchorsError",
    "UnknownPluginError",
]


class SemalignError(Exception):
    """Base class of every error semalign raises on purpose."""


class PluginError(SemalignError):
    """A plugin could not be loaded or registered, or implements a hook that does not exist."""


class UnknownPluginError(PluginError, KeyError):
    """A name was looked up that no loaded plugin registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class DuplicatePluginError(PluginError):
    """Two plugins registered the same name (or alias) for the same kind of component."""


class InvalidInputError(SemalignError, ValueError):
    """Input data is malformed: wrong rank, NaN or inf, wrong dtype, mismatched lengths."""


class DimensionMismatchError(InvalidInputError):
    """Arrays whose dimensions must agree do not."""


class TooFewAnchorsError(InvalidInputError):
    """Fewer anchors than a fit or a selection needs."""


class NotFittedError(SemalignError, AttributeError):
    """An estimator was used before ``fit``."""


class EncoderMismatchError(SemalignError, ValueError):
    """Embeddings come from a different encoder than the one a fitted object expects."""


class CorruptFileError(SemalignError, OSError):
    """A file semalign wrote earlier is unreadable, truncated or of an unknown format."""


class MissingFileError(SemalignError, FileNotFoundError):
    """An input file semalign was asked to read does not exist."""


class OutputError(SemalignError, OSError):
    """An output file or folder cannot be written: read-only, full, or not a folder."""


class MissingWeightsError(SemalignError, FileNotFoundError):
    """Model weights are not available locally and cannot be downloaded."""


class ImageLoadError(InvalidInputError):
    """An input image (PNG, JPEG, DICOM, ...) is missing, corrupt or in an unsupported format.

    Attributes
    ----------
    path : str or None
        The file that could not be read (``None`` for an in-memory object).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
