"""Look up encoders, anchor selectors, solvers, datasets and tasks by name (the timm idea).

This module knows names, entries and factories, not the components' classes: the typed
``get_<kind>`` functions live beside each base class (``align.solvers.get_solver``,
``encoding.encoder.get_encoder``, ...) and build through :func:`build_component`.

>>> from semalign_core import get_solver, list_solvers
>>> "identity" in list_solvers()
True
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, TypeVar

from ..errors import InvalidInputError, PluginError, UnknownPluginError
from .manager import MODALITIES, RegistryEntry, duplicate_error, registry_entries

__all__ = [
    "build_component",
    "get_entry",
    "list_anchor_selectors",
    "list_datasets",
    "list_encoders",
    "list_solvers",
    "list_tasks",
]

T = TypeVar("T")

_LABELS = {"encoder": "encoder", "anchor_selector": "anchor selector", "solver": "solver",
           "dataset": "dataset", "task": "task"}


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
    duplicate = duplicate_error(kind, name)
    if duplicate is not None:
        raise duplicate
    label = _LABELS[kind]
    available = sorted(entries)
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(available) if available else "none (is the plugin installed?)"
    raise UnknownPluginError(
        f"unknown {label} {name!r}.{hint} Available: {listing}. "
        f"Run `semalign plugins` to see which plugins are installed and whether any failed.")


def build_component(kind: str, name: str, options: dict[str, Any], base: type[T]) -> T:
    """Build the ``kind`` component registered as ``name`` with ``options``; check it is a ``base``.

    The typed look-ups (``get_solver``, ``get_encoder``, ...) live beside their base classes in
    the layers above and call this, so this lowest layer never imports those layers.

    Raises
    ------
    UnknownPluginError
        For a name nobody registered.
    InvalidInputError
        For options the factory does not accept.
    PluginError
        When the factory builds something other than a ``base`` (or of another modality than
        it registered).
    """
    entry = get_entry(kind, name)
    try:
        signature = inspect.signature(entry.factory)
    except (TypeError, ValueError):  # some builtins have no signature; let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(**options)
        except TypeError as exc:
            accepted = [p.name for p in signature.parameters.values()
                        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
            raise InvalidInputError(
                f"bad options for {_LABELS[kind]} {entry.name!r}: {exc}; it accepts "
                f"{accepted or 'no options'}") from None
    obj = _call_factory(entry, kind, options)
    if not isinstance(obj, base):
        raise PluginError(
            f"{entry.plugin!r} registered {_LABELS[kind]} {entry.name!r}, but its factory "
            f"returned {type(obj).__name__}, not a {base.__name__}")
    if entry.modality is not None and getattr(obj, "modality", None) != entry.modality:
        raise PluginError(
            f"{entry.plugin!r} registered {_LABELS[kind]} {entry.name!r} as modality "
            f"{entry.modality!r}, but its factory built a {type(obj).__name__} with modality "
            f"{getattr(obj, 'modality', None)!r}; fix the modality= it registers")
    return obj


def _call_factory(entry: RegistryEntry, kind: str, kwargs: dict[str, Any]) -> Any:
    """Build the component; a factory's own failure names the plugin that registered it."""
    from ..errors import SemalignError

    try:
        return entry.factory(**kwargs)
    except SemalignError:
        raise
    except TypeError as exc:  # an option the signature accepted but __init__ refused
        raise InvalidInputError(f"bad options for {_LABELS[kind]} {entry.name!r} (from plugin "
                                f"{entry.plugin!r}): {exc}") from exc
    except Exception as exc:
        raise PluginError(f"plugin {entry.plugin!r} failed to build {_LABELS[kind]} "
                          f"{entry.name!r}: {type(exc).__name__}: {exc}") from exc


def _names(kind: str) -> list[str]:
    entries = registry_entries(kind)
    # a name two plugins registered is left out even where an alias still reaches one of them
    return sorted({e.name for e in entries.values() if entries.get(e.name) is e})


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
