"""The plugin manager: built-in plugins plus the ``semalign`` entry-point group, loaded lazily.

Plugins are loaded on the first registry access, never at import time, so ``import semalign_core``
stays cheap. Each plugin is loaded and asked to register in isolation: a plugin that fails to
import, implements a hook that does not exist, or raises while registering is recorded as failed
(with its distribution name and the reason) and every other plugin keeps working.

Environment variables (both comma-separated lists of distribution or entry-point names):

``SEMALIGN_LOAD_PLUGINS``
    Allow-list. When set, only the named entry-point plugins are loaded (an empty value loads
    none). Built-in plugins are always loaded.
``SEMALIGN_DISABLE_PLUGINS``
    Deny-list. Named entry-point plugins are skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ..errors import DuplicatePluginError, PluginError
from . import hookspecs

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "MODALITIES",
    "PluginInfo",
    "RegistryEntry",
    "get_plugin_manager",
    "plugin_infos",
    "register_plugin",
    "registry_entries",
    "reset_plugins",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "semalign"

#: Modules shipped with the core that register components like any other plugin.
BUILTIN_PLUGINS: tuple[str, ...] = ("semalign_core.align.identity", "semalign_core.data.builtin",
                                     "semalign_core.experiments.builtin_tasks")

#: Component kind -> the hook that registers it.
KINDS: dict[str, str] = {
    "encoder": "register_encoders",
    "anchor_selector": "register_anchor_selectors",
    "solver": "register_solvers",
    "dataset": "register_datasets",
    "task": "register_tasks",
}


#: What an encoder takes as input; ``register(..., modality=...)`` and
#: ``list_encoders(modality=...)`` accept these.
MODALITIES: tuple[str, ...] = ("image", "text")


@dataclass(frozen=True)
class RegistryEntry:
    """One registered component: what ``get_<kind>(name)`` builds and who registered it.

    ``modality`` is what an encoder takes (``"image"`` or ``"text"``; ``None`` for other kinds
    and for encoders whose plugin did not say); ``summary`` is the one line tooling shows.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...]
    plugin: str
    summary: str | None = None
    modality: str | None = None

    @property
    def description(self) -> str | None:
        """The summary under its old name (``register(..., description=...)``)."""
        return self.summary

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "aliases": list(self.aliases),
                "modality": self.modality, "summary": self.summary}


def _make_entry(kind: str, plugin: str, name: str, factory: Callable[..., Any],
                aliases: Iterable[str], modality: str | None, summary: str | None,
                description: str | None) -> RegistryEntry:
    """Validate one ``register(...)`` call; a bad call fails the plugin, naming the fix."""
    if not isinstance(name, str) or not name:
        raise PluginError(f"{plugin}: register() needs a non-empty name, got {name!r}")
    if not callable(factory):
        raise PluginError(f"{plugin}: the factory for {name!r} is not callable")
    if description is not None and summary is not None and description != summary:
        raise PluginError(f"{plugin}: {name!r} got both summary= and description= (its old "
                          f"name); pass only summary=")
    summary = summary if summary is not None else description
    if summary is not None and (not isinstance(summary, str) or "\n" in summary):
        raise PluginError(f"{plugin}: the summary of {name!r} must be one line of text, "
                          f"got {summary!r}")
    if kind == "encoder":
        # A plain Encoder subclass already says its modality; partials and functions cannot.
        if modality is None and isinstance(factory, type):
            modality = getattr(factory, "modality", None) or None
        if modality is not None and modality not in MODALITIES:
            raise PluginError(f"{plugin}: encoder {name!r} has modality {modality!r}; use one "
                              f"of {list(MODALITIES)}")
    elif modality is not None:
        raise PluginError(f"{plugin}: modality= describes encoders; {kind} {name!r} takes none")
    if isinstance(aliases, str):
        aliases = (aliases,)
    return RegistryEntry(kind, name, factory, tuple(aliases), plugin, summary, modality)


@dataclass
class PluginInfo:
    """What ``semalign plugins`` shows for one plugin."""

    name: str
    version: str | None
    source: str  # "builtin", "entrypoint" or "manual"
    status: str = "loaded"  # "loaded", "failed" or "disabled"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    components: list[RegistryEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
            "registered": {k: list(v) for k, v in self.registered.items()},
            "components": [entry.to_dict() for entry in self.components],
        }


def _normalise(name: str) -> str:
    """PEP 503 normalisation, so ``semalign_solvers`` matches ``semalign-solvers``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_list(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {_normalise(part) for part in value.split(",") if part.strip()}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _PluginState:
    """Everything loaded so far; rebuilt by :func:`reset_plugins`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._entries: dict[str, dict[str, RegistryEntry]] | None = None
        #: kind -> name -> the error a lookup of that (duplicated) name raises
        self.duplicates: dict[str, dict[str, DuplicatePluginError]] = {}

    # -- loading ---------------------------------------------------------------------------
    def load_all(self) -> None:
        for module_name in BUILTIN_PLUGINS:
            self._load(module_name, lambda m=module_name: importlib.import_module(m),
                       source="builtin", version=None)
        allow = _env_list("SEMALIGN_LOAD_PLUGINS")
        deny = _env_list("SEMALIGN_DISABLE_PLUGINS") or set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else ep.name
            version = dist.version if dist is not None else None
            keys = {_normalise(dist_name), _normalise(ep.name)}
            if dist_name in self.infos:  # one distribution, several entry points
                dist_name = f"{dist_name}:{ep.name}"
            if allow is not None and not keys & allow:
                self.infos[dist_name] = PluginInfo(
                    dist_name, version, "entrypoint", status="disabled",
                    error="not listed in SEMALIGN_LOAD_PLUGINS")
                continue
            if keys & deny:
                self.infos[dist_name] = PluginInfo(
                    dist_name, version, "entrypoint", status="disabled",
                    error="listed in SEMALIGN_DISABLE_PLUGINS")
                continue
            self._load(dist_name, ep.load, source="entrypoint", version=version)

    def _load(self, name: str, importer: Callable[[], object], *, source: str,
              version: str | None) -> None:
        info = PluginInfo(name, version, source)
        self.infos[name] = info
        try:
            plugin = importer()
        except BaseException as exc:  # a broken plugin must not take the others down
            if isinstance(exc, KeyboardInterrupt):
                raise
            # SystemExit included: a plugin calling sys.exit() at import must not end every
            # semalign command silently
            info.status, info.error = "failed", f"import failed: {_describe(exc)}"
            return
        self.add(plugin, info)

    def add(self, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` with pluggy; record a failure instead of raising."""
        self.infos[info.name] = info
        try:
            self.pm.register(plugin, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            info.status, info.error = "failed", f"invalid plugin: {exc}"
            return
        try:
            # Implementations of hooks that no spec declares are an error (typos would
            # otherwise be silently ignored).
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=info.name)
            info.status, info.error = "failed", f"implements an unknown hook: {exc}"
            return
        info.hooks = sorted(
            caller.name for caller in (self.pm.get_hookcallers(plugin) or [])
        )
        self._entries = None

    # -- registration ----------------------------------------------------------------------
    def entries(self) -> dict[str, dict[str, RegistryEntry]]:
        if self._entries is None:
            self.duplicates = {kind: {} for kind in KINDS}
            self._entries = self._collect()
        return self._entries

    def _collect(self) -> dict[str, dict[str, RegistryEntry]]:
        per_plugin: dict[str, list[RegistryEntry]] = {}
        for info in self.infos.values():
            if info.status == "loaded":
                info.registered, info.components = {}, []
        for kind, hook_name in KINDS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                info = self.infos[plugin_name]
                if info.status != "loaded":
                    continue
                collected: list[RegistryEntry] = []

                def register(name: str, factory: Callable[..., Any], *,
                             aliases: Iterable[str] = (), modality: str | None = None,
                             summary: str | None = None, description: str | None = None,
                             _kind: str = kind, _plugin: str = plugin_name,
                             _out: list[RegistryEntry] = collected) -> None:
                    _out.append(_make_entry(_kind, _plugin, name, factory, aliases, modality,
                                            summary, description))

                try:
                    impl.function(register=register)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    info.status = "failed"
                    info.error = f"{hook_name} raised {_describe(exc)}"
                    per_plugin.pop(plugin_name, None)
                    continue
                per_plugin.setdefault(plugin_name, []).extend(collected)

        tables: dict[str, dict[str, RegistryEntry]] = {kind: {} for kind in KINDS}
        for plugin_name, entries in per_plugin.items():
            info = self.infos[plugin_name]
            if info.status != "loaded":
                continue
            for entry in entries:
                table = tables[entry.kind]
                for key in (entry.name, *entry.aliases):
                    existing = table.get(key)
                    clash = self.duplicates[entry.kind].get(key)
                    if clash is not None or (existing is not None and existing is not entry):
                        # only lookups of this one name fail; every other name keeps working
                        owners = clash.args[1] if clash is not None else [existing.plugin]
                        owners = [*owners, entry.plugin]
                        self.duplicates[entry.kind][key] = DuplicatePluginError(
                            f"{entry.kind} name {key!r} is registered by "
                            f"{' and '.join(repr(o) for o in owners)}; uninstall one of them "
                            f"or disable it with SEMALIGN_DISABLE_PLUGINS", owners)
                        table.pop(key, None)
                        continue
                    table[key] = entry
                info.registered.setdefault(entry.kind, []).append(entry.name)
                info.components.append(entry)
        return tables


_lock = threading.RLock()
_state: _PluginState | None = None


def _get_state() -> _PluginState:
    global _state
    with _lock:
        if _state is None:
            state = _PluginState()
            state.load_all()
            _state = state
        return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The pluggy ``PluginManager``, with every plugin loaded."""
    return _get_state().pm


def registry_entries(kind: str) -> dict[str, RegistryEntry]:
    """Every name and alias of ``kind`` mapped to its entry (duplicated names left out)."""
    with _lock:
        return dict(_get_state().entries()[kind])


def duplicate_error(kind: str, name: str) -> DuplicatePluginError | None:
    """The error for ``name`` if two plugins registered it as a ``kind``, else ``None``."""
    with _lock:
        state = _get_state()
        state.entries()
        return state.duplicates.get(kind, {}).get(name)


def duplicate_errors() -> list[DuplicatePluginError]:
    """One error per name that two plugins registered (for ``semalign plugins``)."""
    with _lock:
        state = _get_state()
        state.entries()
        return [err for table in state.duplicates.values() for err in table.values()]


def plugin_infos() -> list[PluginInfo]:
    """Status of every plugin that was found, loaded or not, in load order."""
    with _lock:
        state = _get_state()
        state.entries()
        return list(state.infos.values())


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module or any object with ``@hookimpl`` methods) by hand.

    Unlike entry-point plugins, a manually registered plugin that is invalid raises
    :class:`PluginError` at once, because the caller is there to see it.

    Returns
    -------
    str
        The name it was registered under; pass it to :func:`unregister_plugin`.
    """
    name = name or getattr(plugin, "__name__", None) or f"manual-{id(plugin)}"
    with _lock:
        state = _get_state()
        if name in state.infos:
            raise PluginError(f"a plugin named {name!r} is already registered")
        info = PluginInfo(name, None, "manual")
        state.add(plugin, info)
        if info.status != "loaded":
            del state.infos[name]
            raise PluginError(f"plugin {name!r} is invalid: {info.error}")
        return name


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    with _lock:
        state = _get_state()
        if name not in state.infos:
            raise PluginError(f"no plugin named {name!r} is registered")
        if state.pm.has_plugin(name):
            state.pm.unregister(name=name)
        del state.infos[name]
        state._entries = None


def reset_plugins() -> None:
    """Forget every loaded plugin; the next registry access loads them again.

    Use it after changing ``SEMALIGN_LOAD_PLUGINS`` / ``SEMALIGN_DISABLE_PLUGINS`` or installing
    a plugin in a running process.
    """
    global _state
    with _lock:
        _state = None
