"""The built-in tasks (``zero-shot``, ``stitching``, ``translation``), registered through
``register_tasks`` like any plugin's.

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
    from .tasks.stitching import StitchingTask
    from .tasks.translation import TranslationTask
    from .tasks.zero_shot import ZeroShotTask

    register("zero-shot", ZeroShotTask, description="translated images vs. class text embeddings")
    register("stitching", StitchingTask, description="a target-space head on translated inputs")
    register("translation", TranslationTask, description="fidelity on held-out pairs")
