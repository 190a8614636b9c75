"""Cost per item and driver peak memory of encode_dataset from 10^3 to 10^5 items.

A near-free encoder (``benchmarks/_tiny_encoder.py``) on synthetic texts, so the engine itself
is measured: content hashing, the cache lookup, Ray task scheduling and transfers, shard writes.
Each (engine, size) runs in a fresh driver process (joining one local Ray started here, as a
driver joins a cluster), so that process's peak RSS (``ru_maxrss``) is that run's driver peak.

Printed, for the Ray engine (2 workers) and the local engine:

- wall seconds per 1000 items, and steady-state seconds per 1000 items: from the shard written
  once every worker has started to the last;
- the marginal cost per item between consecutive sizes, the cost an extra item adds: the
  difference of two sizes' steady spans (or wall times) over the difference of their items, so
  that what a run pays once (an actor's first task and start-up, the cache folder's first files)
  cancels out (target: flat within 20% from the smallest sizes to the largest). The steady
  span leaves out the hashing and lookup of the first window (they come before the first
  shard), so it flatters runs of one window (up to 16,384 items) by that much; the wall times
  include everything but carry the noise of the actors' start-up;

- the driver's peak RSS, and the same for the *floor*: a process with the same imports that
  builds the same input (N texts) and the same returned ``Embeddings`` (N x dim vectors, N ids,
  checked unique) without encoding anything. Any engine that takes a list and returns
  ``Embeddings`` pays the floor; the difference is the engine's own memory (target: flat in N).

The engine plans a run in windows of 64 shards (16,384 items at the default shard size), so its
own memory stops growing past one window.

Usage::

    python benchmarks/bench_ray_scale.py                    # 10^3, 10^4, 10^5; 5 runs each
    python benchmarks/bench_ray_scale.py --sizes 1000 100000 300000 --repeats 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from semalign_core.encoding.cache import DEFAULT_SHARD_SIZE

HERE = Path(__file__).resolve().parent

_PROLOGUE = """
import json, resource, sys, tempfile, time
sys.path.insert(0, {here!r})
import numpy as np, ray, tqdm.auto, pyarrow, safetensors.numpy, _tiny_encoder
import semalign_core.encoding.cache_run, semalign_core.encoding.ray_engine
from semalign_core import Embeddings, register_plugin
from semalign_core.encoding.engines import EngineSpec, encode_dataset
texts = [f"item {{i}} finding {{i % 97}} lobe {{i % 13}} grade {{i % 5}}" for i in range({n})]
"""

_FLOOR = _PROLOGUE + """
# Ones, not zeros: untouched zero pages would not count in the RSS.
out = Embeddings(np.ones(({n}, _tiny_encoder.TinyEncoder.dim), np.float32),
                 [str(i) for i in range({n})], _tiny_encoder.TinyEncoder().fingerprint)
print(json.dumps({{"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_DRIVER = _PROLOGUE + """
engine = {engine!r}
if engine == "ray":
    ray.init(address={address!r}, log_to_driver=False, runtime_env={env!r})
register_plugin(_tiny_encoder, name="_tiny_encoder")
spec = (EngineSpec("ray", workers={workers}, plugin_modules=("_tiny_encoder",))
        if engine == "ray" else EngineSpec("local"))
marks = []
with tempfile.TemporaryDirectory(dir={tmp!r}) as cache:
    t0 = time.perf_counter()
    out = encode_dataset("bench-tiny", texts, cache, engine=spec, shard_size={shard},
                         on_shard=lambda done, total: marks.append((time.perf_counter(), done)))
    wall = time.perf_counter() - t0
    from semalign_core.encoding.cache import EmbeddingCache
    indexed = len(EmbeddingCache(cache, out.fingerprint).open())
assert len(out) == {n}
# Steady state from the shard that the last actor to start delivered first: before it, fewer
# workers ran (the actors start one after the other).
(t1, n1), (t2, n2) = marks[min({workers} - 1, len(marks) - 1)], marks[-1]
print(json.dumps({{"wall": wall, "steady": (t2 - t1) / max(n2 - n1, 1), "indexed": indexed,
                  "span_s": t2 - t1, "span_items": n2 - n1, "n": {n},
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _python(script: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(n: int, engine: str, address: str, shard: int, tmp: str | None) -> dict:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    return _python(_DRIVER.format(here=str(HERE), engine=engine, address=address, n=n,
                                  shard=shard, env={"env_vars": {"PYTHONPATH": path}}, tmp=tmp,
                                  workers=2 if engine == "ray" else 1))


def floor(n: int) -> float:
    return _python(_FLOOR.format(here=str(HERE), n=n))["rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE)
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per (engine, size); the median run (by steady cost) counts")
    parser.add_argument("--cache-root", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the benchmark's caches go (default: /dev/shm, a RAM disk, "
                        "so that the time a disk takes to create each file, which varies from "
                        "run to run, does not hide how the engine scales; both engines write "
                        "the same files; --cache-root /tmp measures on the disk)")
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    floors = {n: min(floor(n) for _ in range(args.repeats)) for n in args.sizes}
    # Repeats interleaved (every engine and size once per round): this VM's speed drifts by
    # tens of percent over minutes, and a drift then spreads over all sizes alike.
    runs: dict[tuple[str, int], list[dict]] = {}
    for _ in range(args.repeats):
        for engine in ("local", "ray"):
            for n in args.sizes:
                runs.setdefault((engine, n), []).append(
                    run(n, engine, address, args.shard_size, args.cache_root))
    rows = {key: sorted(got, key=lambda r: r["steady"])[len(got) // 2]
            for key, got in runs.items()}
    ray.shutdown()
    print(f"tiny encoder, synthetic texts, shard {args.shard_size}; Ray: 2 workers, 1 CPU each; "
          f"median of {args.repeats} runs; caches under {args.cache_root or 'the temp folder'}")
    print("driver peak RSS MB; floor: the same input and returned Embeddings, nothing encoded; "
          "engine: peak - floor; index: the cache's in-memory index at the end (12 bytes a "
          "vector; a merge holds it twice); run state: engine - index")
    print(f"{'engine':<7} {'items':>8} {'wall s/1k':>10} {'steady s/1k':>12} {'peak':>7} "
          f"{'floor':>7} {'engine':>7} {'index':>6} {'run state':>9}")
    for (engine, n), r in rows.items():
        r["engine_mb"] = r["rss_mb"] - floors[n]
        index_mb = 12 * r["indexed"] / 2 ** 20
        r["state_mb"] = r["engine_mb"] - index_mb
        print(f"{engine:<7} {n:>8} {r['wall'] * 1e3 / n:10.3f} {r['steady'] * 1e3:12.3f} "
              f"{r['rss_mb']:7.1f} {floors[n]:7.1f} {r['engine_mb']:7.1f} {index_mb:6.1f} "
              f"{r['state_mb']:9.1f}")
    # The cost an extra item adds, between consecutive sizes: differences of the steady spans,
    # so that what every run pays once (an actor's first task, the cache folder's first
    # files: ~10-20 ms, a third of a 10^3-item span) cancels out.
    sizes = sorted(args.sizes)
    for engine in ("local", "ray"):
        for label, cost in (("steady spans", lambda r: (r["span_s"], r["span_items"])),
                            ("wall", lambda r: (r["wall"], r["n"]))):
            marginal = []
            for a, b in itertools.pairwise(sizes):
                (ta, na), (tb, nb) = cost(rows[(engine, a)]), cost(rows[(engine, b)])
                marginal.append((tb - ta) / (nb - na))
            if marginal:
                steps = ", ".join(f"{a}->{b}: {m * 1e3:.4f}" for (a, b), m in
                                  zip(itertools.pairwise(sizes), marginal, strict=True))
                print(f"{engine}: marginal ms per item ({label}) {steps}; last/first "
                      f"x{marginal[-1] / marginal[0]:.2f}")
    lo, hi = min(args.sizes), max(args.sizes)
    for engine in ("local", "ray"):
        a, b = rows[(engine, lo)], rows[(engine, hi)]
        print(f"{engine}: {hi}/{lo} items: steady cost per item x{b['steady'] / a['steady']:.2f}"
              f", wall cost per item x{b['wall'] * lo / (a['wall'] * hi):.2f}, driver peak RSS "
              f"x{b['rss_mb'] / a['rss_mb']:.2f} (floor x{floors[hi] / floors[lo]:.2f}), "
              f"engine's own MB {a['engine_mb']:.1f} -> {b['engine_mb']:.1f}, run state "
              f"{a['state_mb']:.1f} -> {b['state_mb']:.1f}")


if __name__ == "__main__":
    main()
