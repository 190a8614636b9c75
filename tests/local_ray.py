"""One local Ray for a test module: this machine only, 2 CPUs, no dashboard (helper module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def local_ray(**init: Any) -> Iterator[Any]:
    """Start a local Ray for the duration of a fixture and shut it down after; skip when Ray
    is missing or another Ray already runs in this process. ``init`` adds ``ray.init``
    arguments (e.g. ``runtime_env``)."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("another Ray is running in this process")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 ** 2,
             log_to_driver=False, **init)
    try:
        yield ray
    finally:
        ray.shutdown()
