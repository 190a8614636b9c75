"""A plugin for ``bench_ray_encode.py``: SqueezeNet 1.1 that notes when each start-up step ends.

``bench-squeezenet1-1`` is the torchvision plugin's SqueezeNet (same class, so the same
fingerprint, vectors and cache entries as ``torchvision-squeezenet1-1``) that records wall-clock
timestamps of its own process: when the process started (``/proc/self/stat``), when this module
was imported (Ray worker start, ``import ray`` and ``semalign_core``, the plugins' entry points),
when the encoder was built, ``import torch``, ``import torchvision``, model build and weights, and
every ``encode`` call (the Ray actor calls it once per block). With ``timing_dir`` set each
process writes them to ``<timing_dir>/<pid>.json`` after every call; nothing else changes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from semalign_torchvision.encoder import TorchvisionEncoder

from semalign_core import hookimpl

IMPORTED = time.time()
#: Heavy modules already imported when this plugin was (imported by the entry-point scan).
PRELOADED = [m for m in ("torch", "torchvision", "transformers", "sentence_transformers",
                         "open_clip", "sklearn", "scipy", "faiss", "pandas") if m in sys.modules]


def process_start() -> float | None:
    """Wall-clock start of this process (Linux ``/proc``), or None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text()
                    .splitlines() if line.startswith("btime"))
        return boot + int(fields[19]) / ticks  # field 22 of stat: starttime, in clock ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return None


class TimedSqueezeNet(TorchvisionEncoder):
    """SqueezeNet 1.1 from the torchvision plugin, with start-up timestamps."""

    def __init__(self, timing_dir: str | None = None, **options: Any) -> None:
        self.marks: dict[str, Any] = {"process_start": process_start(), "imported": IMPORTED,
                                      "preloaded": PRELOADED, "init": time.time(), "calls": []}
        self.timing_dir = timing_dir
        super().__init__("squeezenet1_1", **options)

    def _load(self) -> None:
        self.marks["load_start"] = time.time()
        import torch  # noqa: F401 - timed: the real _load imports it too

        self.marks["torch"] = time.time()
        import torchvision  # noqa: F401

        self.marks["torchvision"] = time.time()
        super()._load()
        self.marks["loaded"] = time.time()

    def encode(self, items, **kwargs):  # type: ignore[no-untyped-def, override]
        start = time.time()
        out = super().encode(items, **kwargs)
        self.marks["calls"].append((start, time.time(), len(items)))
        if self.timing_dir:
            path = Path(self.timing_dir) / f"{os.getpid()}-{id(self)}.json"
            path.write_text(json.dumps(self.marks))
        return out


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("bench-squeezenet1-1", TimedSqueezeNet, modality="image",
             summary="benchmark only: torchvision SqueezeNet 1.1 with start-up timestamps")
