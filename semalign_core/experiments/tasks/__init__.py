"""Experiment tasks: what a run evaluates once a translator is fitted.

A task is a :class:`~.base.Task` subclass registered through the ``register_tasks`` hook. The
built-in ones (``zero-shot``, ``stitching``, ``translation``) register through the same hook
(:mod:`semalign_core.experiments.builtin_tasks`). See docs/experiments.md ("Writing a task").
"""

from __future__ import annotations

from .base import Baseline, Task, TaskConfig, TaskEvaluation, task_class

__all__ = ["Baseline", "Task", "TaskConfig", "TaskEvaluation", "task_class"]
