"""The :class:`~semalign_core.Translator`'s deprecated spellings, kept out of its module.

The per-side "preprocessing" became :class:`~.normalizers.SpaceNormalizer` (``source_norm``,
``target_norm``), so that it is never confused with an encoder's input preprocessing; and the
target-space choice became one keyword, ``space=``, instead of ``normalized=`` and
``preprocess_target`` side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._deprecated import pop_renamed, warn_renamed

__all__ = ["DeprecatedTranslatorNames"]

_KEYWORDS = {"source_preprocessing": "source_norm", "target_preprocessing": "target_norm"}


class DeprecatedTranslatorNames:
    """Old names of :class:`~semalign_core.Translator` attributes and methods (each warns)."""

    source_norm: Any
    target_norm: Any
    source_norm_: Any
    target_norm_: Any

    @staticmethod
    def _take_deprecated_keywords(given: dict[str, Any], deprecated: dict[str, Any], *,
                                  default: str = "standard") -> None:
        """Move ``source_preprocessing=``/``target_preprocessing=`` into ``given``."""
        unknown = sorted(set(deprecated) - set(_KEYWORDS))
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {unknown}")
        for old, new in _KEYWORDS.items():
            if old in deprecated and given[new] != default:  # not the default: both given
                raise TypeError(f"Translator(): give {new}= only (its deprecated spelling "
                                f"{old}= was given too)")
            if old in deprecated:
                del given[new]
        given.update(deprecated)
        pop_renamed(given, _KEYWORDS, where="Translator()", stacklevel=5)

    @staticmethod
    def _space_from_normalized(space: str, normalized: bool | None) -> str:
        if normalized is None:
            return space
        warn_renamed("transform(normalized=...)", "space='normalized' or space='raw'",
                     stacklevel=4)
        return "normalized" if normalized else "raw"

    @property
    def source_preprocessing(self) -> Any:
        warn_renamed("Translator.source_preprocessing", "source_norm")
        return self.source_norm

    @property
    def target_preprocessing(self) -> Any:
        warn_renamed("Translator.target_preprocessing", "target_norm")
        return self.target_norm

    @property
    def source_preprocessing_(self) -> Any:
        warn_renamed("Translator.source_preprocessing_", "source_norm_")
        return self.source_norm_

    @property
    def target_preprocessing_(self) -> Any:
        warn_renamed("Translator.target_preprocessing_", "target_norm_")
        return self.target_norm_

    def preprocess_target(self, target: Any) -> np.ndarray:
        warn_renamed("Translator.preprocess_target(y)", "transform_target(y, space='normalized')")
        return self.transform_target(target, space="normalized")  # type: ignore[attr-defined]

    def preprocess_source(self, source: Any) -> np.ndarray:
        warn_renamed("Translator.preprocess_source(x)", "normalize_source(x)")
        return self.normalize_source(source)  # type: ignore[attr-defined]
