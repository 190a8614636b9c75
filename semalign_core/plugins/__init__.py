"""The plugin contract: hook specifications, the plugin manager and the component registry.

The lowest layer of the core: it knows how plugins register components and how users look them
up by name, and nothing about what the components do. The typed look-ups (``get_solver``,
``get_encoder``, ``get_dataset``, ...) live beside the base classes they return and are exported
from :mod:`semalign_core`.
"""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec
from .manager import plugin_infos, register_plugin, reset_plugins, unregister_plugin
from .registry import (
    build_component,
    list_anchor_selectors,
    list_datasets,
    list_encoders,
    list_solvers,
    list_tasks,
)

__all__ = [
    "build_component",
    "hookimpl",
    "hookspec",
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
