"""Paths in experiment configs: ``~``, environment variables and ``${SEMALIGN_SHARED_DIR}``.

A path naming a variable that is not set is an error that names the variable, never a path
with ``${...}`` left in it; ``${SEMALIGN_SHARED_DIR}`` falls back to the discovered shared
folder and, when there is none, the error says where it was looked for.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InvalidInputError

__all__ = ["resolve_path"]


def resolve_path(value: str, base: Path) -> Path:
    """Expand ``~`` and environment variables (``${SEMALIGN_SHARED_DIR}`` has a fallback).

    Raises
    ------
    ConfigError
        ``value`` names an unset variable, or ``${SEMALIGN_SHARED_DIR}`` when no shared-data
        folder is found (the message says where it was looked for).
    """
    env = dict(os.environ)
    if "SEMALIGN_SHARED_DIR" in value:
        env["SEMALIGN_SHARED_DIR"] = str(_shared_dir_for(value))
    expanded = value
    for key in sorted(env, key=len, reverse=True):  # longest first: $SEMALIGN_X before $SEMALIGN
        expanded = expanded.replace("${" + key + "}", env[key])
    expanded = os.path.expandvars(expanded)
    unset = _VARIABLE.search(expanded)
    if unset:
        name = unset.group(1) or unset.group(2)
        from .config import ConfigError

        raise ConfigError(f"path {value!r} uses the environment variable {name}, which is not "
                          f"set; set it or write the path out")
    path = Path(expanded).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


_VARIABLE = re.compile(r"\$\{(\w+)\}|\$([A-Za-z_]\w*)")


def _shared_dir_for(value: str) -> Path:
    """The folder ``${SEMALIGN_SHARED_DIR}`` in ``value`` stands for: the variable when set
    (a missing file below it is reported by whoever reads it, with its full path), else the
    discovered shared folder."""
    from ..data.sources import find_shared_dir

    explicit = os.environ.get("SEMALIGN_SHARED_DIR")
    if explicit:
        return Path(explicit).expanduser()
    try:
        return find_shared_dir(required=True)  # type: ignore[return-value]
    except InvalidInputError as exc:
        from .config import ConfigError

        raise ConfigError(f"path {value!r} uses ${{SEMALIGN_SHARED_DIR}}, which is not set, "
                          f"and {exc}") from None
