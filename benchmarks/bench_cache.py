"""A warm 10-item request against a 100k-item embedding cache (acceptance: < 0.2 s).

Builds a cache of N items (512-d, shards of 256, as ``encode_cached`` writes them) once under
``--cache-dir``, then times, each in a fresh Python process (as a user's second run would be):

- ``encode_cached`` of 10 cached texts: it reads the index and the shards holding those 10;
- the full read the cache used to do on every call (``EmbeddingCache.load()``, all shards).

Each figure is the median [min-max] over ``--repeats`` interleaved runs, measured inside the
process around the call (imports excluded; the process's own start-up is printed apart).

Then the cost of keeping the index up to date while a run writes ``--index-n`` items in shards
of ``--index-shard`` (4-d vectors, so that the index, not the vectors, is what is timed): the
index as it is (one run a shard, merged as a binary counter) against the index rewritten whole
after every shard (what it did before, ``ShardIndex.compact`` after each ``put``), side by side:
seconds per 1,000 items over the first and the last tenth of the run, and index bytes written.

Run::

    python benchmarks/bench_cache.py                  # 100k items
    python benchmarks/bench_cache.py --n 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 512
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from benchmarks.bench_cache import NoEncodeEncoder
from semalign_core.encoding.cache import EmbeddingCache, encode_cached
t1 = time.perf_counter()
mode, cache_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
encoder = NoEncodeEncoder()
if mode == "lookup":
    texts = [f"item {i}" for i in range(0, n, n // 10)][:10]
    t2 = time.perf_counter()
    out = encode_cached(encoder, texts, cache_dir)
    assert out.metadata["cache"]["hits"] == 10 and out.vectors[3, 0] == (n // 10) * 3
else:
    t2 = time.perf_counter()
    cache = EmbeddingCache(cache_dir, encoder.fingerprint).load()
    assert len(cache) == n
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "call": t3 - t2}))
"""


def _encoder_class():  # type: ignore[no-untyped-def]
    from semalign_core import Encoder, Fingerprint

    class NoEncodeEncoder(Encoder):
        """A text encoder that must never run: every item of the benchmark is cached."""

        name = "bench-cache"
        modality = "text"

        @property
        def fingerprint(self) -> Fingerprint:
            return Fingerprint(self.name, "none", "bench", DIM)

        def encode_batch(self, items):  # type: ignore[no-untyped-def]
            raise AssertionError("a warm request encoded something")

    return NoEncodeEncoder


NoEncodeEncoder = _encoder_class()


def build(cache_dir: Path, n: int) -> None:
    from semalign_core.encoding.cache import EmbeddingCache, content_key

    fp = NoEncodeEncoder().fingerprint
    if any((cache_dir / fp.id).glob("index*.safetensors")):
        return
    cache = EmbeddingCache(cache_dir, fp).load([])
    t0 = time.perf_counter()
    for lo in range(0, n, 256):
        keys = [content_key(f"item {i}", "text") for i in range(lo, min(lo + 256, n))]
        vectors = np.zeros((len(keys), DIM), np.float32)
        vectors[:, 0] = np.arange(lo, lo + len(keys)) * 1.0  # recognisable values
        cache.put(keys, vectors)
    print(f"built {n} items in {(n + 255) // 256} shards in {time.perf_counter() - t0:.1f} s")


def index_cost(n: int, shard: int, rewrite: bool) -> dict:
    """Write ``n`` items in shards of ``shard``; time the first and last tenth of the puts."""
    from semalign_core import Fingerprint
    from semalign_core.encoding import cache_index
    from semalign_core.encoding.cache import EmbeddingCache

    written = []
    original = cache_index.write_arrays

    def counting(path, arrays, **kw):  # type: ignore[no-untyped-def]
        written.append(sum(a.nbytes for a in arrays.values()))
        return original(path, arrays, **kw)

    cache_index.write_arrays = counting
    rng = np.random.default_rng(0)
    times = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cache = EmbeddingCache(tmp, Fingerprint("bench-index", "none", "bench", 4)).open()
            for _ in range(n // shard):
                keys = rng.integers(0, 256, (shard, 32), dtype=np.uint8)
                t0 = time.perf_counter()
                cache.put(keys, np.zeros((shard, 4), np.float32))
                if rewrite:
                    cache._index.compact(cache.path)
                times.append(time.perf_counter() - t0)
    finally:
        cache_index.write_arrays = original
    tenth = max(len(times) // 10, 1)
    per_1k = 1000 / (tenth * shard)
    return {"first": sum(times[:tenth]) * per_1k, "last": sum(times[-tenth:]) * per_1k,
            "bytes": sum(written)}


def run(mode: str, cache_dir: Path, n: int) -> dict:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(cache_dir), str(n)],
                         capture_output=True, text=True, check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--index-n", type=int, default=200_000)
    ap.add_argument("--index-shard", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        build(cache_dir, args.n)
        lookups, fulls, imports = [], [], []
        for _ in range(args.repeats):
            a, b = run("lookup", cache_dir, args.n), run("full", cache_dir, args.n)
            lookups.append(a["call"])
            fulls.append(b["call"])
            imports.append(a["imports"])
        lk, fu = np.array(lookups), np.array(fulls)
        print(f"10-item warm request, {args.n}-item cache: {np.median(lk):.3f} s "
              f"[{lk.min():.3f}-{lk.max():.3f}] (target < 0.2 s)")
        print(f"reading every shard (the old path):     {np.median(fu):.3f} s "
              f"[{fu.min():.3f}-{fu.max():.3f}]  ratio {np.median(fu / lk):.0f}x")
        print(f"(imports of semalign_core in the fresh process: {np.median(imports):.3f} s)")
    runs = index_cost(args.index_n, args.index_shard, rewrite=False)
    whole = index_cost(args.index_n, args.index_shard, rewrite=True)
    print(f"index upkeep, {args.index_n} items in shards of {args.index_shard} (s per 1k items "
          f"put, first tenth -> last tenth; index MB written):")
    for name, r in (("runs merged as a binary counter", runs),
                    ("whole index rewritten per shard", whole)):
        print(f"  {name}: {r['first']:.4f} -> {r['last']:.4f} (x{r['last'] / r['first']:.2f}), "
              f"{r['bytes'] / 2 ** 20:.0f} MB")
    print(f"  last tenth, rewrite / runs: x{whole['last'] / runs['last']:.1f}; bytes written "
          f"x{whole['bytes'] / runs['bytes']:.1f}")


if __name__ == "__main__":
    main()
