"""The built-in tasks, registered through ``register_tasks`` like any plugin's.

Tasks validate their config with pydantic, which comes with the ``experiments`` extra; without it
this plugin registers nothing (and the rest of the core keeps working).
"""

from __future__ import annotations

import importlib.util

from ..plugins.hookspecs import hookimpl

__all__: list[str] = []


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("pydantic") is None:
        return
