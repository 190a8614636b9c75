"""Cost per item and driver peak memory of encode_dataset from 10^3 to 10^5 items.

A near-free encoder (``benchmarks/_tiny_encoder.py``) on synthetic texts, so the engine itself
is measured: content hashing, the cache lookup, Ray task scheduling and transfers, shard writes.
Each size runs in a fresh driver process (joining one local Ray started here, as a driver joins
a cluster), so that process's peak RSS (``ru_maxrss``) is that run's driver peak. Printed: wall
seconds per 1000 items, steady-state seconds per 1000 items (from the shard written once every
worker runs to the last: the cost an extra item adds), and the driver's memory, for the Ray engine (2 workers) and, as the
baseline, the local engine; then the ratio of the largest to the smallest size (target: cost
per item flat within 20%, memory flat).

The caller's input (N texts) and the returned Embeddings (N ids and N x dim vectors) are O(N)
whatever the engine does, so the driver's memory is printed in parts: peak RSS, the baseline
RSS after imports (before the texts are built), the input's and the output's Python object
bytes, and what is left, the engine's own share at its peak (MB and bytes per item).

Usage::

    python benchmarks/bench_ray_scale.py                    # 10^3, 10^4, 10^5
    python benchmarks/bench_ray_scale.py --sizes 1000 10000
    python benchmarks/bench_ray_scale.py --sizes 1000 100000 300000 --repeats 1

The engine plans a run in windows of 64 shards (16,384 items at the default shard size), so its
own memory stops growing past one window; what still grows is the output itself and
``Embeddings``' check that the N ids are unique (a set of N strings while it is built).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from semalign_core.encoding.cache import DEFAULT_SHARD_SIZE

HERE = Path(__file__).resolve().parent

_DRIVER = """
import json, resource, sys, tempfile, time
sys.path.insert(0, {here!r})
import ray, ray.data, tqdm.auto, _tiny_encoder
from semalign_core import register_plugin
from semalign_core.encoding.engines import EngineSpec, encode_dataset
engine = {engine!r}
if engine == "ray":
    ray.init(address={address!r}, log_to_driver=False, runtime_env={env!r})
register_plugin(_tiny_encoder, name="_tiny_encoder")
spec = EngineSpec("ray", workers={workers}, plugin_modules=("_tiny_encoder",)) if engine == "ray" \\
    else EngineSpec("local")

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2 ** 20

def size_mb(strings):
    return (sys.getsizeof(strings) + sum(sys.getsizeof(s) for s in strings)) / 2 ** 20

# What the call imports on first use, so that the baseline holds every module.
import pyarrow, safetensors.numpy
import semalign_core.encoding.cache_run, semalign_core.encoding.ray_engine
baseline = rss_mb()
texts = [f"item {{i}} finding {{i % 97}} lobe {{i % 13}} grade {{i % 5}}" for i in range({n})]
marks = []
with tempfile.TemporaryDirectory() as cache:
    t0 = time.perf_counter()
    out = encode_dataset("bench-tiny", texts, cache, engine=spec, shard_size={shard},
                         on_shard=lambda done, total: marks.append((time.perf_counter(), done)))
    wall = time.perf_counter() - t0
assert len(out) == {n}
# Steady state from the shard that the last actor to start delivered first: before it, fewer
# workers ran (the actors start one after the other).
(t1, n1), (t2, n2) = marks[min({workers} - 1, len(marks) - 1)], marks[-1]
print(json.dumps({{"wall": wall, "steady": (t2 - t1) / max(n2 - n1, 1),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "baseline_mb": baseline, "input_mb": size_mb(texts),
                  "output_mb": out.vectors.nbytes / 2 ** 20 + size_mb(out.ids)}}))
"""


def run(n: int, engine: str, address: str, shard: int) -> dict:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    script = _DRIVER.format(here=str(HERE), engine=engine, address=address, n=n, shard=shard,
                            env={"env_vars": {"PYTHONPATH": path}},
                            workers=2 if engine == "ray" else 1)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per (engine, size); the median run (by steady cost) counts")
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    rows = {}
    for engine in ("local", "ray"):
        for n in args.sizes:
            runs = sorted((run(n, engine, address, args.shard_size) for _ in range(args.repeats)),
                          key=lambda r: r["steady"])
            rows[(engine, n)] = runs[len(runs) // 2]
    ray.shutdown()
    print(f"tiny encoder, synthetic texts, shard {args.shard_size}; Ray: 2 workers, 1 CPU each; "
          f"median of {args.repeats} runs")
    print("driver MB: peak RSS; baseline (after imports, before the texts); input (the texts);")
    print("output (vectors + ids); engine = peak - baseline - input - output, what the engine")
    print("itself holds at its peak")
    print(f"{'engine':<7} {'items':>8} {'wall s/1k':>10} {'steady s/1k':>12} {'peak':>7} "
          f"{'base':>6} {'input':>6} {'output':>7} {'engine':>7} {'B/item':>7}")
    for (engine, n), r in rows.items():
        own = r["rss_mb"] - r["baseline_mb"] - r["input_mb"] - r["output_mb"]
        r["engine_mb"] = own
        print(f"{engine:<7} {n:>8} {r['wall'] * 1e3 / n:10.3f} {r['steady'] * 1e3:12.3f} "
              f"{r['rss_mb']:7.0f} {r['baseline_mb']:6.0f} {r['input_mb']:6.1f} "
              f"{r['output_mb']:7.1f} {own:7.1f} {own * 2 ** 20 / n:7.0f}")
    lo, hi = min(args.sizes), max(args.sizes)
    for engine in ("local", "ray"):
        a, b = rows[(engine, lo)], rows[(engine, hi)]
        print(f"{engine}: {hi}/{lo} items: steady cost per item x{b['steady'] / a['steady']:.2f}"
              f", wall cost per item x{b['wall'] * lo / (a['wall'] * hi):.2f}, driver peak RSS "
              f"x{b['rss_mb'] / a['rss_mb']:.2f}, engine's own MB "
              f"{a['engine_mb']:.1f} -> {b['engine_mb']:.1f}")


if __name__ == "__main__":
    main()
