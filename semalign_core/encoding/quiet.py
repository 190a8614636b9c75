"""Quiet model loading for encoder plugins built on Hugging Face transformers.

transformers 5 draws a ``Loading weights`` progress bar (and huggingface_hub a ``Fetching``
bar) every time a model is built, whatever the caller asked for. Encoders load lazily, on first
use, in the middle of a run that may have been asked to be quiet; a plugin wraps its model
construction in :func:`quiet_model_loading` so that only the encoding progress bar the user
asked for (``progress=True``, ``--progress``) is ever drawn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["quiet_model_loading"]


@contextlib.contextmanager
def quiet_model_loading() -> Iterator[None]:
    """Disable transformers' and huggingface_hub's progress bars inside the block, then restore
    them as they were. Without transformers installed it does nothing."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
