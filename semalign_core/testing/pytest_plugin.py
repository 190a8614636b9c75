"""pytest fixtures for semalign plugin authors (loaded automatically through ``pytest11``).

``semalign_register_plugin``
    A function ``register(plugin, name=None) -> name`` that registers a plugin object (a module or
    a class instance with ``@hookimpl`` methods) for the duration of one test.
``semalign_isolated_plugins``
    Runs the test with *only* the built-in plugins plus whatever the test registers (entry-point
    plugins are not loaded), and restores the normal plugin set afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ..plugins.manager import register_plugin, reset_plugins, unregister_plugin


@pytest.fixture
def semalign_register_plugin() -> Iterator[Callable[..., str]]:
    registered: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        registered.append(register_plugin(plugin, name))
        return registered[-1]

    yield register
    for name in reversed(registered):
        try:
            unregister_plugin(name)
        except Exception:  # the plugin set may have been reset by the test itself
            pass


@pytest.fixture
def semalign_isolated_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SEMALIGN_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    monkeypatch.undo()
    reset_plugins()
