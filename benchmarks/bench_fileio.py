"""What the integrity checks cost: loading an Embeddings file with its SHA-256 verification
against reading the same safetensors file without it, side by side in one run.

Run::

    python benchmarks/bench_fileio.py [--rows 100000] [--dim 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    from safetensors.numpy import load_file

    from semalign_core import Embeddings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    emb = Embeddings(rng.normal(size=(args.rows, args.dim)).astype(np.float32),
                     [f"item-{i:07d}" for i in range(args.rows)])
    with tempfile.TemporaryDirectory() as tmp:
        path = emb.save(Path(tmp) / "e.safetensors")
        size_mb = path.stat().st_size / 1e6
        raw = _best(lambda: load_file(str(path)), args.repeats)
        verified = _best(lambda: Embeddings.load(path), args.repeats)
        save = _best(lambda: emb.save(Path(tmp) / "f.safetensors"), args.repeats)
    print(f"{args.rows} x {args.dim} float32 embeddings, {size_mb:.0f} MB")
    print(f"safetensors load_file, no checks : {raw:.3f} s")
    print(f"Embeddings.load, SHA-256 verified: {verified:.3f} s  ({verified / raw:.2f}x)")
    print(f"Embeddings.save, SHA-256 + fsync : {save:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
