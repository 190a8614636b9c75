"""Ray with 2 CPU workers against Ray with 1 worker against the local engine, same images.

Every engine encodes the same real Kermany X-rays with SqueezeNet 1.1 (the torchvision plugin,
ImageNet weights from the shared models folder) into a fresh cache, one torch thread per worker
(and in the local process). The runs are interleaved, ``--repeats`` times, so the machine's load
drifts over all three alike. Printed side by side: the wall time of ``encode_dataset`` (actor
start and model load included; the Ray instance itself is started once, beforehand, as a
cluster would be), the steady-state time per image (from the first shard written to the last,
which leaves start-up out), and the ratios: 2 workers / 1 worker (throughput; target >= 1.7x on
2 cores) and Ray at 1 worker / local (overhead; target <= 1.15x).

Where an actor's start-up goes is printed too, from timestamps the encoder itself notes in
each Ray actor (``_startup_probe.py``: the same SqueezeNet class, so the same fingerprint and
vectors as ``torchvision-squeezenet1-1``): from the driver's call to the actor process existing
(scheduling, process spawn), then the worker's own imports (Ray, semalign and
the plugins' entry points), ``import torch``, ``import torchvision``, building the model and
loading the weights, the wait for the first block, and the first block against the later ones.

Usage::

    python benchmarks/bench_ray_encode.py                  # all 1024 Kermany images, 3 repeats
    python benchmarks/bench_ray_encode.py --n 192 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from semalign_core import register_plugin
from semalign_core.data.sources import find_shared_dir
from semalign_core.encoding.engines import EngineSpec, encode_dataset

BENCH = Path(__file__).resolve().parent
ENCODER = "bench-squeezenet1-1"  # _startup_probe.py: torchvision's SqueezeNet, timestamped
PROBE = "_startup_probe"
#: Start-up steps: (label, mark it starts at, mark it ends at). "call" is the driver's call to
#: encode_dataset; "ready" the later of that call and the actor's process start (Ray keeps idle
#: worker processes started, with Ray imported, and may give an actor one of those).
STEPS = [
    ("driver call -> actor process exists (schedule, spawn)", "call", "ready"),
    ("worker: actor set-up, imports (semalign_core, entry points)", "ready",
     "imported"),
    ("build the encoder (get_encoder, fingerprint)", "imported", "load_start"),
    ("import torch", "load_start", "torch"),
    ("import torchvision", "torch", "torchvision"),
    ("build the model, load the weights", "torchvision", "loaded"),
    ("wait for the first block", "loaded", "first_start"),
    ("first block", "first_start", "first_end"),
]
#: What a fresh Python process spends importing what a Ray actor worker imports before it builds
#: the encoder (printed beside the steps, to split the second one).
_IMPORTS = """
import time
t = time.perf_counter()
def mark(label):
    global t
    now = time.perf_counter()
    print(f"{label}\\t{now - t:.3f}")
    t = now
import ray; mark("import ray (done already in a worker Ray started beforehand)")
import semalign_core.encoding.ray_engine; mark("import semalign_core and its Ray engine")
from semalign_core.plugins.manager import plugin_infos
plugin_infos(); mark("load the plugins' entry points")
"""


def one_run(images: list[Path], options: dict, engine: EngineSpec, args
            ) -> tuple[float, float, list[dict]]:
    """Wall seconds, steady-state seconds per image (first shard to last) and the start-up
    timestamps of every Ray actor (``call``: when the driver called ``encode_dataset``)."""
    marks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as timing:
        t0, call = time.perf_counter(), time.time()
        out = encode_dataset(ENCODER, images, cache, options={**options, "timing_dir": timing},
                             engine=engine, batch_size=args.shard_size,
                             shard_size=args.shard_size,
                             on_shard=lambda done, _total: marks.append(
                                 (time.perf_counter(), done)))
        wall = time.perf_counter() - t0
        actors = [json.loads(p.read_text()) for p in Path(timing).glob("*.json")]
    assert len(out) == len(images)
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    if engine.name == "local":
        actors = []
    for actor in actors:
        first, *rest = actor["calls"]
        started = actor["process_start"]
        actor.update(call=call, ready=call if started is None else max(call, started),
                     prestarted=started is not None and started < call,
                     first_start=first[0], first_end=first[1],
                     later=[(end - start) / n for start, end, n in rest])
    return wall, (t_last - t_first) / max(n_last - n_first, 1), actors


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def fresh_imports() -> list[tuple[str, float]]:
    """Seconds a fresh interpreter spends on each import a Ray actor worker makes."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    return [(label, float(value)) for label, value in
            (line.split("\t") for line in out.splitlines() if "\t" in line)]


def print_startup(actors: list[dict], shard_size: int) -> None:
    """Median (min-max) seconds of each start-up step over every actor of every Ray run."""
    if not actors:
        return
    prestarted = sum(a["prestarted"] for a in actors)
    print(f"\nRay actor start-up: {len(actors)} actors over all Ray runs ({prestarted} in a "
          f"worker process Ray had started before the call); seconds, median (min-max)")
    for label, begin, end in STEPS:
        values = [a[end] - a[begin] for a in actors
                  if a.get(begin) is not None and a.get(end) is not None]
        if values:
            print(f"  {label:<72} {summary(values)}")
    total = [a["first_start"] - a["call"] for a in actors]
    print(f"  {'total: driver call -> first block starts':<72} {summary(total)}")
    later = [statistics.median(a["later"]) * shard_size for a in actors if a["later"]]
    if later:
        print(f"  {'(a later block, for comparison)':<72} {summary(later)}")
    preloaded = sorted({m for a in actors for m in a["preloaded"]})
    print(f"  heavy modules a worker had imported before building the encoder: "
          f"{', '.join(preloaded) or 'none'}")
    print("  a fresh interpreter, for comparison (one run, this process idle):")
    for label, seconds in fresh_imports():
        print(f"    {label:<70} {seconds:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="images (the shared set has 1024)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=16)
    args = parser.parse_args()
    import ray
    import torch

    shared = find_shared_dir()
    folder = shared / "data" / "kermany-cxr"
    images = sorted(folder.glob("*/*/*.jpeg"))[:args.n]
    if len(images) < args.n:
        sys.exit(f"--n {args.n}: the shared folder has {len(images)} Kermany images")
    options = {"weights": str(shared / "models" / "squeezenet1_1_imagenet.safetensors"),
               "device": "cpu", "autocast": False}
    torch.set_num_threads(1)  # the local engine gets one thread, like each worker
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # The probe plugin: registered here, and importable by the workers of the local Ray (they
    # inherit this environment; a runtime_env would add its own set-up to the start-up measured).
    sys.path.insert(0, str(BENCH))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(BENCH), os.environ.get("PYTHONPATH")) if p)
    import _startup_probe

    register_plugin(_startup_probe, name=PROBE)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    engines = {"local": EngineSpec("local"),
               "ray 1 worker": EngineSpec("ray", workers=1, plugin_modules=(PROBE,)),
               "ray 2 workers": EngineSpec("ray", workers=2, plugin_modules=(PROBE,))}
    walls: dict[str, list[float]] = {k: [] for k in engines}
    steady: dict[str, list[float]] = {k: [] for k in engines}
    actors: list[dict] = []
    for _ in range(args.repeats):
        for name, engine in engines.items():
            wall, per_item, started = one_run(images, options, engine, args)
            walls[name].append(wall)
            steady[name].append(per_item * 1e3)
            actors += started
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
    print_startup(actors, args.shard_size)


if __name__ == "__main__":
    main()
