"""The task interface: a task owns its config section, what it encodes, how it scores a fitted
translator, its baselines and its plots. The runner knows nothing else about it.

A run calls, in order::

    task = TaskClass(config.task)               # the validated ``task:`` section
    task.prepare(context)                       # once: encode what it needs (through the cache)
    for count in anchor counts, for seed in seeds:
        task.evaluate(context, translator, seed)  -> TaskEvaluation (metrics with CIs)
    task.baselines(context)                     # once: references that need no translator
    task.describe(context)                      # what results.json records about the data
    task.curves(context)                        # run-level arrays for the plots (y_true)
    task.plots(result, folder)                  # task-specific figures for the report

``context`` is the :class:`~semalign_core.experiments.context.RunContext`: both encoders, the
anchor pool and the evaluation set with their source-side embeddings, the per-seed target side
of the pool, and ``encode`` / ``encode_texts`` / ``dataset`` helpers that go through the cache.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ...errors import InvalidInputError, PluginError
from ...plugins.registry import build_component

if TYPE_CHECKING:
    from ...align.translator import Translator
    from ...evaluation.metrics import ConfidenceInterval
    from ..config import ExperimentConfig
    from ..context import RunContext
    from ..runner import ExperimentResult

__all__ = ["Baseline", "Task", "TaskConfig", "TaskEvaluation", "get_task", "task_class"]


class TaskConfig(BaseModel):
    """Base of every task's config section; ``kind`` is the registered task name.

    Subclasses add their fields; unknown keys are refused, so a typo is an error.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str


@dataclass
class TaskEvaluation:
    """What :meth:`Task.evaluate` returns for one (anchor count, seed).

    Attributes
    ----------
    metrics : dict
        Metric name -> :class:`~semalign_core.evaluation.metrics.ConfidenceInterval` (bootstrap
        over evaluation items); the names are a subset of the task's ``metrics``.
    curves : dict
        Per-item arrays the task's plots need (e.g. ``y_pred``, ``y_score``); kept in memory
        for the report, never written to ``results.json``.
    """

    metrics: dict[str, ConfidenceInterval]
    curves: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Baseline:
    """A reference result that needs no translator (a supervised probe, chance).

    ``label`` and ``anchors`` are the first cells of its row in the result table.
    """

    name: str
    description: str
    metrics: dict[str, ConfidenceInterval]
    label: str
    anchors: str = "-"
    curves: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` entry (curves are left out)."""
        return {"description": self.description, "label": self.label, "anchors": self.anchors,
                "metrics": {k: v.to_dict() for k, v in self.metrics.items()}}


class Task(ABC):
    """Base class of experiment tasks.

    Class attributes
    ----------------
    kind : str
        The registered name (the config's ``task.kind``).
    config_model : type of TaskConfig
        Validates the config's ``task:`` section.
    metrics : tuple of str
        Every metric the task can report, in table order; ``evaluation.metrics`` picks a subset.
    metric_labels : dict
        Optional column headings for the result table (metric name -> label).
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[TaskConfig]] = TaskConfig
    metrics: ClassVar[tuple[str, ...]] = ()
    metric_labels: ClassVar[dict[str, str]] = {}

    def __init__(self, config: TaskConfig | Mapping[str, Any] | None = None,
                 **params: Any) -> None:
        if config is not None and params:
            raise InvalidInputError(f"task {self.kind!r}: give a config or keyword parameters, "
                                    f"not both")
        if isinstance(config, self.config_model):
            self.config = config
            return
        data = {"kind": self.kind, **dict(config or {}), **params}
        try:
            self.config = self.config_model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                                 for e in exc.errors(include_url=False))
            raise InvalidInputError(f"invalid config for task {self.kind!r}: {problems}") from None

    # -- validation ----------------------------------------------------------------------------
    @classmethod
    def check_experiment(cls, config: ExperimentConfig) -> None:
        """Checks that span sections (e.g. the task needs a pairing option); raise ValueError.

        Called while the experiment config is validated; the default checks nothing.
        """
        return None

    # -- the run -------------------------------------------------------------------------------
    def prepare(self, context: RunContext) -> None:
        """Encode (through ``context``) and fit whatever every evaluation reuses."""
        return None

    @abstractmethod
    def evaluate(self, context: RunContext, translator: Translator, seed: int
                 ) -> TaskEvaluation:
        """Score one fitted translator; ``seed`` seeds the bootstrap and any per-seed choice."""

    def baselines(self, context: RunContext) -> list[Baseline]:
        """References evaluated once per run (``evaluation.baselines`` says which)."""
        return []

    def describe(self, context: RunContext) -> dict[str, Any]:
        """Facts about the evaluation data for ``results.json`` (e.g. ``classes``)."""
        return {}

    def curves(self, context: RunContext) -> dict[str, np.ndarray]:
        """Run-level arrays the plots compare every evaluation with (e.g. ``y_true``)."""
        return {}

    def plots(self, result: ExperimentResult, folder: Path) -> dict[str, Path]:
        """Write task-specific figures into ``folder``; return file name -> path."""
        return {}

    def report_sections(self, result: ExperimentResult) -> list[str]:
        """Extra Markdown lines for ``summary.md``, after the result table (e.g. a per-finding
        table); the default adds nothing."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r})"


def get_task(name: str, **params: Any) -> Task:
    """Build the experiment task registered as ``name``; ``params`` are its config section."""
    return build_component("task", name, params, Task)


def task_class(kind: str) -> type[Task]:
    """The :class:`Task` subclass registered as ``kind`` (``register_tasks``).

    Raises
    ------
    UnknownPluginError
        Listing the registered tasks and the closest match.
    PluginError
        If the registered factory is not a Task subclass.
    """
    from ...plugins.registry import get_entry
    from ..builtin_tasks import TaskRef

    entry = get_entry("task", kind)
    factory = entry.factory
    if isinstance(factory, TaskRef):
        factory = factory.load()
    if not (isinstance(factory, type) and issubclass(factory, Task)):
        raise PluginError(f"{entry.plugin!r} registered task {entry.name!r} as "
                          f"{factory!r}; register_tasks takes a Task subclass")
    return factory
