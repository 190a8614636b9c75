"""Solver speed next to the raw NumPy/LAPACK calls, and memory of large batched translation.

(a) fit + transform time of every solver for n = 1,000 and 10,000 anchors at d = 512 and 768
    (d_x = d_y = d), next to the plain NumPy pipeline that computes the same map, with the ratio.
(c) each solver fitted *via Translator* (standard scaling both sides) on 10k x 768 -> 512 float32
    anchors, interleaved with its fastest stable raw LAPACK pipeline computing the same map
    (NumPy standardisation, then Cholesky ``solve(G [+ aI], X^T Y, assume_a="pos")`` or
    ``svd(X^T Y)``), with the median ratio of the pairs (acceptance: <= 1.3).
(b) translating N = 100k and 1M vectors (512 -> 384) from an ``np.memmap`` through
    ``Translator.iter_transform`` in batches; the peak of Python-heap allocations (tracemalloc,
    which NumPy reports its buffers to) must not grow with N. RSS is not used: pages of the
    memory-mapped *input* count towards RSS while they are cached, which measures the page cache,
    not what the translator holds.

Usage::

    python benchmarks/bench_solvers.py            # everything (a few minutes on 2 cores)
    python benchmarks/bench_solvers.py --quick    # smaller sizes, seconds
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from semalign_solvers import DEFAULT_ALPHA

from semalign_core import Translator, get_solver
from semalign_core.align.translator import DEFAULT_BATCH_SIZE


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# -- the raw references: the shortest NumPy code computing the same map --------------------------
def raw_ridge(X: np.ndarray, Y: np.ndarray, alpha: float, bias: bool) -> np.ndarray:
    mx, my = (X.mean(0), Y.mean(0)) if bias else (0.0, 0.0)
    Xc, Yc = X - mx, Y - my
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    return (X - mx) @ W + my


def raw_lstsq(X: np.ndarray, Y: np.ndarray, bias: bool) -> np.ndarray:
    A = np.column_stack([X, np.ones(len(X))]) if bias else X
    W = np.linalg.lstsq(A, Y, rcond=None)[0]
    return A @ W


def raw_procrustes(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(X.T @ Y)
    return X @ (U @ Vt)


def raw_lstsq_ortho(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    W = np.linalg.lstsq(X, Y, rcond=None)[0]
    U, _, Vt = np.linalg.svd(W)
    return X @ (U @ Vt)


CASES: list[tuple[str, dict, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("affine", {}, "solve(XcT Xc + aI)", lambda X, Y: raw_ridge(X, Y, DEFAULT_ALPHA, True)),
    ("affine", {"alpha": 0.0}, "lstsq([X 1], Y)", lambda X, Y: raw_lstsq(X, Y, True)),
    ("linear", {}, "solve(XT X + aI)", lambda X, Y: raw_ridge(X, Y, DEFAULT_ALPHA, False)),
    ("linear", {"alpha": 0.0}, "lstsq(X, Y)", lambda X, Y: raw_lstsq(X, Y, False)),
    ("orthogonal", {}, "svd(XT Y)", raw_procrustes),
    ("lstsq-ortho", {}, "lstsq + svd(W)", raw_lstsq_ortho),
]


def bench_fit(ns: list[int], dims: list[int], repeats: int) -> None:
    print("(a) fit + transform on the anchors, best of", repeats, "(seconds)")
    header = f"{'solver':<12} {'params':<12} {'n':>6} {'d':>4} {'ours':>8} {'raw':>8} " \
             f"{'ratio':>6}  raw call"
    print(header)
    print("-" * len(header))
    for d in dims:
        for n in ns:
            rng = np.random.default_rng(0)
            X = rng.normal(size=(n, d)).astype(np.float32)
            Y = (X @ rng.normal(size=(d, d)) / np.sqrt(d) + 0.1 * rng.normal(size=(n, d))
                 ).astype(np.float32)
            X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
            for name, params, raw_name, raw in CASES:
                def ours(name=name, params=params, X=X, Y=Y) -> np.ndarray:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        return get_solver(name, **params).fit(X, Y).transform(X)

                t_ours = best_time(ours, repeats)
                t_raw = best_time(lambda raw=raw, X=X64, Y=Y64: raw(X, Y), repeats)
                # Same map: the outputs agree (a check that the comparison is fair).
                gap = np.abs(ours() - raw(X64, Y64)).max()
                assert gap < 1e-3 * np.abs(Y).max(), (name, params, gap)
                label = ",".join(f"{k}={v:g}" for k, v in params.items()) or "default"
                print(f"{name:<12} {label:<12} {n:>6} {d:>4} {t_ours:8.3f} {t_raw:8.3f} "
                      f"{t_ours / t_raw:6.2f}  {raw_name}")
    print()


def bench_translate(sizes: list[int], batch_size: int, workdir: Path) -> None:
    d_x, d_y = 512, 384
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, d_x)).astype(np.float32)
    Y = (X @ rng.normal(size=(d_x, d_y)) / np.sqrt(d_x)).astype(np.float32)
    translator = Translator("affine").fit(X, Y)
    print(f"(b) Translator.iter_transform from np.memmap, {d_x}->{d_y}, batch_size={batch_size}")
    header = f"{'N':>10} {'input MB':>9} {'seconds':>8} {'vec/s':>10} {'peak alloc MB':>14}"
    print(header)
    print("-" * len(header))
    peaks = []
    for N in sizes:
        path = workdir / f"source_{N}.f32"
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(N, d_x))
        for start in range(0, N, 100_000):  # fill in chunks: never hold the whole input
            stop = min(N, start + 100_000)
            mm[start:stop] = rng.normal(size=(stop - start, d_x))
        mm.flush()
        del mm
        source = np.memmap(path, dtype=np.float32, mode="r", shape=(N, d_x))
        checksum = 0.0
        tracemalloc.start()
        t0 = time.perf_counter()
        rows = 0
        for chunk in translator.iter_transform(source, batch_size=batch_size):
            rows += len(chunk)
            checksum += float(chunk[:, 0].sum())  # consume the batch (a caller would store it)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert rows == N and np.isfinite(checksum)
        del source
        path.unlink()
        peaks.append(peak)
        print(f"{N:>10} {N * d_x * 4 / 2**20:9.0f} {seconds:8.1f} {N / seconds:10.0f} "
              f"{peak / 2**20:14.1f}")
    if len(peaks) > 1:
        print(f"peak ratio largest/smallest N: {peaks[-1] / peaks[0]:.2f} "
              f"(N ratio {sizes[-1] / sizes[0]:.0f}); one batch of float64 temporaries is "
              f"~{batch_size * (2 * d_x + 2 * d_y) * 8 / 2**20:.0f} MB")
    print()


def _standardise(A: np.ndarray) -> np.ndarray:
    A = A.astype(np.float64)
    A -= A.mean(axis=0)
    A /= A.std(axis=0)
    return A


def _raw_normal(X: np.ndarray, Y: np.ndarray, alpha: float) -> np.ndarray:
    import scipy.linalg

    Xs, Ys = _standardise(X), _standardise(Y)
    G = Xs.T @ Xs
    G.flat[::G.shape[0] + 1] += alpha
    return scipy.linalg.solve(G, Xs.T @ Ys, assume_a="pos")


def _raw_procrustes(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(_standardise(X).T @ _standardise(Y), full_matrices=False)
    return U @ Vt


def bench_translator_fit(n: int, dx: int, dy: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, dx), dtype=np.float32) * 2 + 0.5
    Y = (X @ rng.standard_normal((dx, dy), dtype=np.float32) / np.sqrt(dx)
         + 0.3 * rng.standard_normal((n, dy), dtype=np.float32))
    cases = [("affine", {}, "solve(G + aI) [Cholesky]",
              lambda: _raw_normal(X, Y, DEFAULT_ALPHA)),
             ("affine", {"alpha": 0.0}, "solve(G) [Cholesky]", lambda: _raw_normal(X, Y, 0.0)),
             ("linear", {}, "solve(G + aI) [Cholesky]",
              lambda: _raw_normal(X, Y, DEFAULT_ALPHA)),
             ("orthogonal", {}, "svd(X^T Y)", lambda: _raw_procrustes(X, Y))]
    print(f"(c) fit via Translator (standard both sides), {n} x {dx} -> {dy}, {repeats} pairs "
          f"interleaved: median [min-max] seconds")
    for name, params, raw_name, raw in cases:
        def ours(name=name, params=params) -> Translator:
            return Translator(name, solver_params=params).fit(X, Y)

        ours(), raw()  # warm-up
        t_ours, t_raw = [], []
        for _ in range(repeats):
            t_ours.append(best_time(ours, 1))
            t_raw.append(best_time(raw, 1))
        ratio = np.array(t_ours) / np.array(t_raw)
        label = ",".join(f"{k}={v:g}" for k, v in params.items()) or "default"
        print(f"{name:<10} {label:<9} ours {np.median(t_ours):6.3f} [{min(t_ours):.3f}-"
              f"{max(t_ours):.3f}]  raw {np.median(t_raw):6.3f} [{min(t_raw):.3f}-"
              f"{max(t_raw):.3f}]  ratio {np.median(ratio):4.2f} [{ratio.min():.2f}-"
              f"{ratio.max():.2f}]  {raw_name}")
    print()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="rows per batch (default: the translator's DEFAULT_BATCH_SIZE)")
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--skip-translate", action="store_true")
    ap.add_argument("--translator-fit", action="store_true",
                    help="only (c): fits via Translator against raw LAPACK at 10k x 768 -> 512")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the memmap input is written (default: a temporary folder)")
    args = ap.parse_args(argv)
    ns, dims = ([200, 1000], [64, 128]) if args.quick else ([1000, 10000], [512, 768])
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    repeats = args.repeats or (2 if args.quick else 3)
    print(f"numpy {np.__version__}")
    if args.translator_fit:
        n, dx, dy = (2000, 256, 128) if args.quick else (10_000, 768, 512)
        bench_translator_fit(n, dx, dy, args.repeats or 5)
        return
    if not args.skip_fit:
        bench_fit(ns, dims, repeats)
    if not args.skip_translate:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            bench_translate(sizes, args.batch_size or DEFAULT_BATCH_SIZE, Path(tmp))


if __name__ == "__main__":
    main()
