"""The built-in tasks (``zero-shot``, ``stitching``, ``translation``), registered through
``register_tasks`` like any plugin's.

Each is registered as a :class:`TaskRef`, which imports the task's module (and pydantic) only
when a task is used: ``semalign plugins`` and ``import semalign_core`` stay light. Tasks
validate their config with pydantic, which comes with the ``experiments`` extra; without it this
plugin registers nothing (and the rest of the core keeps working).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from .tasks.base import Task

__all__ = ["TaskRef"]


@dataclass(frozen=True)
class TaskRef:
    """A :class:`~.tasks.base.Task` subclass named by module and class, imported on first use.

    Register one instead of the class to keep plugin loading free of the task's imports;
    :func:`~.tasks.base.task_class` resolves it and calling it builds the task.
    """

    module: str
    name: str

    def load(self) -> type[Task]:
        """The task class."""
        return getattr(importlib.import_module(self.module), self.name)  # type: ignore[no-any-return]

    def __call__(self, *args: Any, **kwargs: Any) -> Task:
        return self.load()(*args, **kwargs)


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("pydantic") is None:
        return
    tasks = "semalign_core.experiments.tasks"
    register("zero-shot", TaskRef(f"{tasks}.zero_shot", "ZeroShotTask"),
             summary="translated images vs. class text embeddings")
    register("stitching", TaskRef(f"{tasks}.stitching", "StitchingTask"),
             summary="a target-space head on translated inputs")
    register("translation", TaskRef(f"{tasks}.translation", "TranslationTask"),
             summary="fidelity on held-out pairs")
    register("multilabel-zero-shot", TaskRef(f"{tasks}.multilabel", "MultilabelZeroShotTask"),
             summary="CheXzero-style positive vs. negative prompts per finding")
    register("retrieval", TaskRef(f"{tasks}.retrieval", "RetrievalTask"),
             summary="image -> report and report -> image, R@K and MRR")
