"""Deprecation helpers for renamed keywords, names and config keys (foundation layer)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["pop_renamed", "warn_renamed"]


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn (``DeprecationWarning``) that ``old`` is now spelled ``new``."""
    warnings.warn(f"{old} is deprecated; use {new} (the old spelling will be removed)",
                  DeprecationWarning, stacklevel=stacklevel)


def pop_renamed(values: MutableMapping[str, Any], renames: Mapping[str, str], *,
                where: str, stacklevel: int = 4) -> None:
    """Move deprecated keys of ``values`` to their new names, warning once per key.

    Giving both spellings of one key is refused (``TypeError``): which one wins would be a
    silent guess.
    """
    for old, new in renames.items():
        if old not in values:
            continue
        if new in values:
            raise TypeError(f"{where}: give {new!r} only (its deprecated spelling {old!r} was "
                            f"given too)")
        warn_renamed(f"{where}: {old!r}", repr(new), stacklevel=stacklevel)
        values[new] = values.pop(old)
