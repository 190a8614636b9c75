"""Hook specifications: the whole contract between semalign and its plugins.

Modelled on simonw/llm and pytest. Registration hooks receive a ``register`` callable instead of
returning values, so a plugin can register any number of things and the core can attribute every
registration to the plugin that made it. Hooks are called with keyword arguments only and only
ever gain arguments, so existing plugins keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

__all__ = ["PROJECT_NAME", "RegisterCallback", "hookimpl", "hookspec"]

PROJECT_NAME = "semalign"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterCallback(Protocol):
    """The ``register`` argument passed to every ``register_*`` hook.

    ``modality`` (encoders only: ``"image"`` or ``"text"``) lets ``list_encoders(modality=...)``
    filter; an ``Encoder`` subclass passed as the factory supplies its own. ``summary`` is the
    one line ``semalign plugins`` shows; ``description`` is its old name and still accepted.
    """

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        aliases: tuple[str, ...] | list[str] = (),
        modality: str | None = None,
        summary: str | None = None,
        description: str | None = None,
    ) -> None: ...


@hookspec
def register_encoders(register: RegisterCallback) -> None:
    """Register encoder factories.

    Call ``register(name, factory, aliases=(...), modality=..., summary=...)`` once per
    encoder; name it ``<family>-<arch>[-<tag>][-text]`` (see ``docs/writing-plugins.md``).
    ``factory(**options)`` must return a :class:`semalign_core.Encoder`; it is only called when a
    user asks for that encoder, so do not load weights (or import torch) in the hook itself.
    """


@hookspec
def register_anchor_selectors(register: RegisterCallback) -> None:
    """Register anchor-selector factories.

    ``factory(**params)`` must return a :class:`semalign_core.AnchorSelector`.
    """


@hookspec
def register_solvers(register: RegisterCallback) -> None:
    """Register transform-solver factories.

    ``factory(**params)`` must return a :class:`semalign_core.Solver`.
    """


@hookspec
def register_datasets(register: RegisterCallback) -> None:
    """Register dataset readers.

    ``factory(root, **options)`` must return a :class:`semalign_core.data.manifest.Manifest`
    (what :func:`semalign_core.get_dataset` returns and an experiment config names with
    ``dataset: {name: ..., root: ...}``). Read nothing in the hook itself.
    """


@hookspec
def register_tasks(register: RegisterCallback) -> None:
    """Register experiment tasks.

    ``factory`` is a subclass of :class:`semalign_core.experiments.tasks.Task` (its class
    attribute ``config_model`` validates the config's ``task:`` section); ``factory(**params)``
    returns the task. Register the class, do not build it.
    """
