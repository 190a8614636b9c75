"""Where semalign keeps things by default: one embedding cache per user, run outputs outside
any checkout.

Every default can be overridden, most specific first: a command-line flag or config key, then an
environment variable, then the XDG base directories, then the usual ``~/.cache`` and
``~/.local/share``. The embedding cache is content-addressed (see
:mod:`semalign_core.encoding.cache`), so one cache is safely shared by ``semalign demo``,
``semalign run``, ``semalign encode`` and the benchmarks: whatever one of them encoded, the
others reuse.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["cache_root", "default_cache_dir", "default_run_dir", "default_runs_dir"]


def _xdg(variable: str, fallback: str) -> Path:
    # XDG says a relative value is invalid and must be ignored.
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path(fallback).expanduser()


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/semalign``, else ``~/.cache/semalign``."""
    return _xdg("XDG_CACHE_HOME", "~/.cache") / "semalign"


def default_cache_dir() -> Path:
    """The per-user embedding cache: ``$SEMALIGN_CACHE_DIR``, else ``<cache_root>/embeddings``."""
    explicit = os.environ.get("SEMALIGN_CACHE_DIR")
    return Path(explicit).expanduser() if explicit else cache_root() / "embeddings"


def default_runs_dir() -> Path:
    """Where runs write when no output folder is given: ``$SEMALIGN_RUNS_DIR``, else
    ``$XDG_DATA_HOME/semalign/runs``, else ``~/.local/share/semalign/runs``."""
    explicit = os.environ.get("SEMALIGN_RUNS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg("XDG_DATA_HOME", "~/.local/share") / "semalign" / "runs"


def default_run_dir(name: str) -> Path:
    """``<default_runs_dir>/<name as a folder name>`` (lower case, runs of other characters
    replaced by ``-``), e.g. ``zero-shot pneumonia (SqueezeNet -> MiniLM)`` ->
    ``zero-shot-pneumonia-squeezenet-minilm``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "experiment"
    return default_runs_dir() / slug
