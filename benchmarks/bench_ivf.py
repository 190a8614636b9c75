"""IVFIndex against the exact flat index at 10^5 and 10^6 synthetic vectors: recall@10 and speed.

The items are a mixture of Gaussian clusters (L2-normalised, as embeddings are), the queries
fresh draws of the same mixture: isotropic noise without clusters is the worst case of every
IVF index and unlike any encoder's output. The baseline is FAISS's own exact ``IndexFlatIP``
(the index :class:`~semalign_core.LabelIndex` uses), on the same threads. For each size the
script prints, side by side in one run: build time, query time per batch (median and min-max of
``--repeats``), recall@10 against the exact top 10, and the query speedup, for IVF-Flat at each
``nprobe`` and for IVF-PQ.

Usage::

    python benchmarks/bench_ivf.py                 # 10^5 and 10^6 (several minutes on 2 cores)
    python benchmarks/bench_ivf.py --sizes 100000  # one size
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from semalign_core.zeroshot.ivf_index import IVFIndex, recall_at_k


def clustered(n: int, dim: int, centers: np.ndarray, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):  # in chunks: float64 noise for 10^6 x d is large
        rows = min(100_000, n - start)
        which = rng.integers(0, len(centers), rows)
        block = centers[which] + noise * rng.standard_normal((rows, dim), dtype=np.float32)
        out[start:start + rows] = block
    faiss.normalize_L2(out)
    return out


def timed(fn, repeats: int) -> tuple[float, float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times), result


def run_size(n: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((args.clusters, args.dim)).astype(np.float32)
    X = clustered(n, args.dim, centers, 1, args.noise)
    Q = clustered(args.queries, args.dim, centers, 2, args.noise)
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(X)
    f_med, f_lo, f_hi, (_, exact) = timed(lambda: flat.search(Q, 10), args.repeats)
    nlist = args.nlist or int(np.sqrt(n))
    print(f"\nN = {n:,} vectors, d = {args.dim}, {args.queries} queries, k = 10, "
          f"faiss threads = {faiss.omp_get_max_threads()}")
    print(f"  exact IndexFlatIP: {f_med * 1e3:9.1f} ms per batch (min {f_lo * 1e3:.1f}, "
          f"max {f_hi * 1e3:.1f})")
    for kind in ("ivf-flat", "ivf-pq"):
        t0 = time.perf_counter()
        index = IVFIndex(kind, nlist=nlist, m=args.m, train_size=64 * nlist,
                         device="cpu").fit(X)
        build = time.perf_counter() - t0
        print(f"  {kind} (nlist={nlist}{f', m={args.m}' if kind == 'ivf-pq' else ''}), "
              f"built in {build:.1f} s:")
        print(f"    {'nprobe':>6}  {'ms/batch (median, min-max)':>28}  {'recall@10':>9}  "
              f"{'speedup':>8}")
        for nprobe in args.nprobe:
            index.nprobe = nprobe
            med, lo, hi, (_, rows) = timed(lambda index=index: index.search(Q, 10),
                                           args.repeats)
            print(f"    {nprobe:>6}  {med * 1e3:10.1f} ({lo * 1e3:.1f}-{hi * 1e3:.1f})"
                  f"{'':>8}  {recall_at_k(rows, exact):9.3f}  {f_med / med:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.6,
                        help="per-dimension noise around the cluster centres (overlap)")
    parser.add_argument("--nlist", type=int, help="default sqrt(N) (trained on 64 nlist)")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--m", type=int, default=32, help="IVF-PQ sub-quantisers")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for n in args.sizes:
        run_size(n, args)


if __name__ == "__main__":
    main()
