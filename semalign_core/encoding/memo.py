"""Memoised encoder metadata: facts about a weights file that take torch to compute once.

An encoder's fingerprint must be known before its model loads (the cache decides from it whether
to load at all), but some of its parts, e.g. a torchvision model's output dimension and its
weights' default preprocessing, need torch and torchvision to work out: 3-4 s of imports in a
fresh process whose every item is cached. :func:`memoized` stores such facts as JSON under
``<cache_root>/encoder-facts/``, keyed by everything they depend on (the caller includes the
weights' identity and the versions of the libraries that computed them), so later processes read
them without importing torch. A damaged or foreign entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..fileio import atomic_path
from ..locations import cache_root

__all__ = ["memoized"]


def memoized(key: Mapping[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``, remembered on disk under ``key`` (JSON-serialisable) across processes."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    path = cache_root() / "encoder-facts" / f"{digest}.json"
    try:
        entry = json.loads(path.read_text())
        if entry.get("key") == json.loads(canonical) and isinstance(entry.get("value"), dict):
            return entry["value"]
    except (OSError, ValueError, AttributeError):
        pass  # missing or damaged: compute it again
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"key": json.loads(canonical), "value": value}))
    except OSError:
        pass  # a read-only home still works, only without the memo
    return value
