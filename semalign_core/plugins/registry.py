"""Look up encoders, anchor selectors, solvers, datasets and tasks by name (the timm idea).

>>> from semalign_core import get_solver, list_solvers
>>> "identity" in list_solvers()
True
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, PluginError, UnknownPluginError
from .manager import MODALITIES, RegistryEntry, registry_entries

if TYPE_CHECKING:
    from ..align.anchors import AnchorSelector
    from ..align.solvers import Solver
    from ..data.manifest import Manifest
    from ..encoding.encoder import Encoder
    from ..experiments.tasks.base import Task

__all__ = [
    "get_anchor_selector",
    "get_dataset",
    "get_encoder",
    "get_entry",
    "get_solver",
    "get_task",
    "list_anchor_selectors",
    "list_datasets",
    "list_encoders",
    "list_solvers",
    "list_tasks",
]

_LABELS = {"encoder": "encoder", "anchor_selector": "anchor selector", "solver": "solver",
           "dataset": "dataset", "task": "task"}
# Looked up by module name, so this lowest layer never imports the layers whose bases it checks.
_EXPECTED_BASE = {
    "encoder": ("semalign_core.encoding.encoder", "Encoder"),
    "anchor_selector": ("semalign_core.align.anchors", "AnchorSelector"),
    "solver": ("semalign_core.align.solvers", "Solver"),
    "dataset": ("semalign_core.data.manifest", "Manifest"),
    "task": ("semalign_core.experiments.tasks.base", "Task"),
}


def get_entry(kind: str, name: str) -> RegistryEntry:
    """The registry entry for ``name`` (or one of its aliases).

    Raises
    ------
    UnknownPluginError
        Listing every available name and the closest match.
    """
    if kind not in _LABELS:
        raise UnknownPluginError(f"unknown component kind {kind!r}; use one of {sorted(_LABELS)}")
    if not isinstance(name, str):
        raise UnknownPluginError(f"{_LABELS[kind]} name must be a string, got {name!r}")
    entries = registry_entries(kind)
    entry = entries.get(name)
    if entry is not None:
        return entry
    label = _LABELS[kind]
    available = sorted(entries)
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(available) if available else "none (is the plugin installed?)"
    raise UnknownPluginError(
        f"unknown {label} {name!r}.{hint} Available: {listing}. "
        f"Run `semalign plugins` to see which plugins are installed and whether any failed.")


def _build(kind: str, name: str, kwargs: dict[str, Any]) -> Any:
    entry = get_entry(kind, name)
    try:
        signature = inspect.signature(entry.factory)
    except (TypeError, ValueError):  # some builtins have no signature; let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            accepted = [p.name for p in signature.parameters.values()
                        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
            raise InvalidInputError(
                f"bad options for {_LABELS[kind]} {entry.name!r}: {exc}; it accepts "
                f"{accepted or 'no options'}") from None
    obj = entry.factory(**kwargs)
    module_name, class_name = _EXPECTED_BASE[kind]
    base = getattr(importlib.import_module(module_name), class_name)
    if not isinstance(obj, base):
        raise PluginError(
            f"{entry.plugin!r} registered {_LABELS[kind]} {entry.name!r}, but its factory "
            f"returned {type(obj).__name__}, not a {class_name}")
    if entry.modality is not None and getattr(obj, "modality", None) != entry.modality:
        raise PluginError(
            f"{entry.plugin!r} registered {_LABELS[kind]} {entry.name!r} as modality "
            f"{entry.modality!r}, but its factory built a {type(obj).__name__} with modality "
            f"{getattr(obj, 'modality', None)!r}; fix the modality= it registers")
    return obj


def _names(kind: str) -> list[str]:
    return sorted({entry.name for entry in registry_entries(kind).values()})


def get_encoder(name: str, **options: Any) -> Encoder:
    """Build the encoder registered as ``name`` (weights load on first use)."""
    return _build("encoder", name, options)


def get_anchor_selector(name: str, **params: Any) -> AnchorSelector:
    """Build the anchor selector registered as ``name``."""
    return _build("anchor_selector", name, params)


def get_solver(name: str, **params: Any) -> Solver:
    """Build an unfitted solver registered as ``name``."""
    return _build("solver", name, params)


def get_dataset(name: str, root: Any, **options: Any) -> Manifest:
    """Read the dataset registered as ``name`` from ``root`` (a folder or file) as a Manifest.

    >>> from semalign_core import list_datasets
    >>> {"kermany", "openi"} <= set(list_datasets())
    True
    """
    return _build("dataset", name, {"root": root, **options})


def get_task(name: str, **params: Any) -> Task:
    """Build the experiment task registered as ``name``; ``params`` are its config section."""
    return _build("task", name, params)


def list_encoders(*, modality: str | None = None, aliases: bool = False) -> list[str]:
    """Registered encoder names, sorted.

    Parameters
    ----------
    modality : {"image", "text"}, optional
        Only encoders registered with this modality (an encoder whose plugin did not state one
        is listed only without the filter).
    aliases : bool
        Include aliases.

    Raises
    ------
    InvalidInputError
        For a modality other than ``"image"`` or ``"text"``.
    """
    if modality is not None and modality not in MODALITIES:
        raise InvalidInputError(
            f"list_encoders(modality={modality!r}): use one of {list(MODALITIES)} or None")
    entries = registry_entries("encoder")
    keys = [key for key, entry in entries.items()
            if modality is None or entry.modality == modality]
    return sorted(keys if aliases else {entries[key].name for key in keys})


def list_anchor_selectors(*, aliases: bool = False) -> list[str]:
    """Registered anchor-selector names, sorted; ``aliases=True`` includes aliases."""
    return sorted(registry_entries("anchor_selector")) if aliases else _names("anchor_selector")


def list_solvers(*, aliases: bool = False) -> list[str]:
    """Registered solver names, sorted; ``aliases=True`` includes aliases."""
    return sorted(registry_entries("solver")) if aliases else _names("solver")


def list_datasets(*, aliases: bool = False) -> list[str]:
    """Registered dataset names, sorted; ``aliases=True`` includes aliases."""
    return sorted(registry_entries("dataset")) if aliases else _names("dataset")


def list_tasks(*, aliases: bool = False) -> list[str]:
    """Registered task kinds, sorted; ``aliases=True`` includes aliases."""
    return sorted(registry_entries("task")) if aliases else _names("task")
