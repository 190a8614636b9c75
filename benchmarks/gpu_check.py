"""GPU checks that CI cannot make (it has no GPU): run on a CUDA machine.

1. Every torch image encoder gives the same embeddings on CUDA as on the CPU: exactly (to float32
   round-off) with ``autocast=False``, and to cosine >= 0.999 with the default CUDA autocast.
2. ``device="auto"`` picks CUDA when one is present.

Usage::

    python benchmarks/gpu_check.py            # prints one line per check, exits 1 on failure

Weights are random (seeded), images as in bench_encoders.py: only CPU/GPU agreement is checked.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
from bench_encoders import _images  # same folder: the Kermany images, else random JPEGs


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def main() -> int:
    import torch

    from semalign_core import get_encoder
    from semalign_core.encoding.torch_batching import resolve_device

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    assert resolve_device("auto").type == "cuda", "device='auto' must pick CUDA"
    print("ok  device='auto' -> cuda")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = _images(24, Path(tmp))
        cases = {
            "squeezenet1_1": ("torchvision", {"model": "squeezenet1_1", "weights": "random"}),
            "resnet50": ("torchvision", {"model": "resnet50", "weights": "random"}),
            "biovil-image": ("biovil-image", {"weights": "random"}),
        }
        for label, (name, options) in cases.items():
            try:
                cpu = get_encoder(name, device="cpu", **options).encode(paths, progress=False)
                exact = get_encoder(name, device="cuda", autocast=False, **options).encode(
                    paths, progress=False)
                mixed = get_encoder(name, device="cuda", **options).encode(paths, progress=False)
            except Exception as exc:  # report every encoder, not just the first failure
                print(f"FAIL {label}: {type(exc).__name__}: {exc}")
                failures += 1
                continue
            diff = float(np.abs(exact.vectors - cpu.vectors).max() /
                         (np.abs(cpu.vectors).max() + 1e-12))
            cos = _cosine(mixed.vectors, cpu.vectors)
            ok = diff < 1e-3 and cos >= 0.999 and exact.fingerprint == cpu.fingerprint
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {label}: fp32 CUDA vs CPU rel. max diff {diff:.2e}; "
                  f"autocast min cosine {cos:.5f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
