"""Ray with 2 CPU workers against Ray with 1 worker against the local engine, same images.

Every engine encodes the same real Kermany X-rays with SqueezeNet 1.1 (the torchvision plugin,
ImageNet weights from the shared models folder) into a fresh cache, one torch thread per worker
(and in the local process). The runs are interleaved, ``--repeats`` times, so the machine's load
drifts over all three alike. Printed side by side: the wall time of ``encode_dataset`` (actor
start and model load included; the Ray instance itself is started once, beforehand, as a
cluster would be), the steady-state time per image (from the first shard written to the last,
which leaves start-up out), and the ratios: 2 workers / 1 worker (throughput; target >= 1.7x on
2 cores) and Ray at 1 worker / local (overhead; target <= 1.15x).

Usage::

    python benchmarks/bench_ray_encode.py                  # 192 images, 3 repeats
    python benchmarks/bench_ray_encode.py --n 96 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from semalign_core.data.sources import find_shared_dir
from semalign_core.encoding.engines import EngineSpec, encode_dataset


def one_run(images: list[Path], options: dict, engine: EngineSpec, args) -> tuple[float, float]:
    """Wall seconds and steady-state seconds per image (first shard to last)."""
    marks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        out = encode_dataset("torchvision-squeezenet1-1", images, cache, options=options,
                             engine=engine, batch_size=args.shard_size,
                             shard_size=args.shard_size,
                             on_shard=lambda done, _total: marks.append(
                                 (time.perf_counter(), done)))
        wall = time.perf_counter() - t0
    assert len(out) == len(images)
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    return wall, (t_last - t_first) / max(n_last - n_first, 1)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=192, help="images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=16)
    args = parser.parse_args()
    import ray
    import torch

    shared = find_shared_dir()
    folder = shared / "data" / "kermany-cxr" / "train"
    images = sorted(folder.glob("*/*.jpeg"))[:args.n]
    options = {"weights": str(shared / "models" / "squeezenet1_1_imagenet.safetensors"),
               "device": "cpu", "autocast": False}
    torch.set_num_threads(1)  # the local engine gets one thread, like each worker
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    engines = {"local": EngineSpec("local"), "ray 1 worker": EngineSpec("ray", workers=1),
               "ray 2 workers": EngineSpec("ray", workers=2)}
    walls: dict[str, list[float]] = {k: [] for k in engines}
    steady: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(args.repeats):
        for name, engine in engines.items():
            wall, per_item = one_run(images, options, engine, args)
            walls[name].append(wall)
            steady[name].append(per_item * 1e3)
    ray.shutdown()
    print(f"{len(images)} Kermany images, SqueezeNet 1.1, 1 thread per worker, shard "
          f"{args.shard_size}, {args.repeats} repeats; median (min-max)")
    print(f"{'engine':<14} {'wall s':>22} {'steady ms/image':>24} {'images/s (wall)':>16}")
    for name in engines:
        rate = len(images) / statistics.median(walls[name])
        print(f"{name:<14} {summary(walls[name]):>22} {summary(steady[name]):>24} {rate:16.1f}")
    ratio = [a / b for a, b in zip(walls["ray 1 worker"], walls["ray 2 workers"], strict=True)]
    ratio_s = [a / b for a, b in zip(steady["ray 1 worker"], steady["ray 2 workers"],
                                     strict=True)]
    over = [a / b for a, b in zip(walls["ray 1 worker"], walls["local"], strict=True)]
    over_s = [a / b for a, b in zip(steady["ray 1 worker"], steady["local"], strict=True)]
    print(f"2 workers / 1 worker speedup: wall {summary(ratio)}x, steady {summary(ratio_s)}x"
          f"   (target >= 1.7x)")
    print(f"Ray 1 worker / local time:    wall {summary(over)}x, steady {summary(over_s)}x"
          f"   (target <= 1.15x)")


if __name__ == "__main__":
    main()
