"""A plugin the Ray tests register on every worker (``EngineSpec.plugin_modules``).

``test-recording`` is :class:`helpers.HashTextEncoder` that logs every text it receives (one file
per process under ``log_dir``), can sleep per batch (so a test can kill a run mid-way) and can
kill its own process once (``die_once``: a marker file), so a test can check that Ray retries the
lost task. The runtime options are not part of the fingerprint: they do not change the vectors.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers import HashTextEncoder

from semalign_core import hookimpl


class RecordingEncoder(HashTextEncoder):
    name = "test-recording"

    def __init__(self, dim: int = 16, log_dir: str | None = None, sleep: float = 0.0,
                 die_once: str | None = None) -> None:
        super().__init__(dim)
        self.log_dir, self.sleep, self.die_once = log_dir, float(sleep), die_once
        self.batches = 0

    def encode_batch(self, items):
        self.batches += 1
        if self.die_once and self.batches == 2 and not Path(self.die_once).exists():
            Path(self.die_once).write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-task, as on a lost node
        if self.log_dir:
            with open(Path(self.log_dir) / f"{os.getpid()}.log", "a", encoding="utf-8") as fh:
                fh.writelines(f"{item}\n" for item in items)
        if self.sleep:
            time.sleep(self.sleep)
        return super().encode_batch(items)


def received(log_dir: Path) -> list[str]:
    """Every text any worker received, over all processes."""
    return [line for log in sorted(Path(log_dir).glob("*.log"))
            for line in log.read_text(encoding="utf-8").splitlines()]


@hookimpl
def register_encoders(register):
    register("test-recording", RecordingEncoder, description="test: logs what it receives")
