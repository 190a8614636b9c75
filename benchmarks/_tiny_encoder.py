"""A tiny text encoder for the scale benchmark: its cost is negligible, so what is measured is
the engine (hashing, scheduling, transfers, shard writes). Registered on every Ray worker through
``EngineSpec.plugin_modules``."""

from __future__ import annotations

import zlib

import numpy as np

from semalign_core import Encoder, Fingerprint, hookimpl


class TinyEncoder(Encoder):
    name = "bench-tiny"
    modality = "text"
    dim = 8
    default_batch_size = 512

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("bench-tiny", "crc32-bag", "none", self.dim)

    def encode_batch(self, items):
        out = np.zeros((len(items), self.dim), np.float32)
        for row, text in enumerate(items):
            for word in text.split():
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out


@hookimpl
def register_encoders(register):
    register("bench-tiny", TinyEncoder, description="benchmark: a near-free text encoder")
