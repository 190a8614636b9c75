"""Working memory of transform and zero-shot prediction at N = 100k and 1M, side by side.

#14's acceptance: memory stays flat in N for transform and predict (1M within 10% of 100k).
Every (operation, N) runs in a FRESH subprocess on a memory-mapped ``.npy`` input
(``np.load(mmap_mode="r")``), N x 512 float32 source vectors translated to 384, so the input's
pages are file-backed and never count as the process's anonymous memory. Each child builds the
translator and classifier (as ``bench_folded.py`` does), warms the call up on 1000 rows, collects
garbage and returns freed heap to the OS (``malloc_trim``), then measures the one call:

rss      peak ``RssAnon`` (``/proc/self/status``, sampled every ~1 ms by a thread: numpy releases
         the GIL in BLAS and in large ufunc loops) above ``RssAnon`` just before the call,
traced   ``tracemalloc``'s peak during the call (numpy reports every array buffer to it),

each MINUS THE BYTES OF THE RETURNED OUTPUT (``result.nbytes``; 0 for ``iter_transform`` streamed
into a memory-mapped ``.npy`` output, whose pages are file-backed). What is left is the
operation's own working memory; the ratio 1M/100k of it must be <= 1.10 (for figures of a few
MB: within 4 MB in rss, what RSS sampling resolves, and 64 KB traced). The output bytes are
printed too: an N-row result is O(N) by nature. The exit status is 1 when something is not
flat.

The children run with ``NUMPY_MADVISE_HUGEPAGE=0`` (``--hugepages`` keeps numpy's default):
numpy asks for transparent huge pages on every large array, and the kernel then accounts a
1.5 GB output being filled in 2 MB steps, adding a few MB of RssAnon that is neither the
operation's nor reproducible (``transform`` at 1M: 1.1 -> 4.4 MB with huge pages, 1.1 -> 1.3 MB
without, same run; tracemalloc 1.1 MB both ways). Operations:

transform             ``Translator.transform``, folded float32 path (standard -> affine -> standard)
transform-l2          the folded path with a per-row scaling (``source_norm="standard+l2"``)
transform-float64     the step-by-step float64 path (a solver without ``linear_map``)
iter_transform-mmap   ``iter_transform`` streamed into a memory-mapped output file
predict-folded-K      ``ZeroShotClassifier.predict``, the folded ``(d_x x K)`` path, K = 2 and 14
predict-general-K     the general path (translate, L2-normalise, search): a translator whose
                      plan is not one affine map (an ``l2`` source step), K = 2 and 14
predict-multilabel-*  14 findings with negative prompts: folded and general
decision_scores-14, predict_proba-14   both chunked through the translation

Run (about 5 minutes on two loaded cores; writes a 2 GB input and up to 1.5 GB output under
``--tmp``, both deleted at the end)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_memory.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_memory.py --sizes 20000 200000 --ops transform
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_folded import fitted_translator

DX, DY = 512, 384
OPS = ("transform", "transform-l2", "transform-float64", "iter_transform-mmap",
       "predict-folded-2", "predict-folded-14", "predict-general-2", "predict-general-14",
       "predict-multilabel-folded", "predict-multilabel-general",
       "decision_scores-14", "predict_proba-14")
TARGET = 1.10
#: RSS figures a few MB apart are within what RSS sampling resolves (the kernel's RSS counters
#: are batched per CPU, malloc keeps freed chunks): "flat" for a ratio of tiny numbers.
NOISE = 4e6
#: tracemalloc is exact; this only absorbs Python objects (a 1M-row bool mask is 1 MB: caught).
TRACED_NOISE = 65536


# -- the child: one operation, one N ---------------------------------------------------------------
def rss_anon() -> int:
    """Anonymous resident bytes of this process (heap, numpy buffers; not file-backed maps)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


class PeakSampler(threading.Thread):
    """Samples :func:`rss_anon` every ``interval`` seconds and keeps the maximum."""

    def __init__(self, interval: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, rss_anon(), threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_anon())
            time.sleep(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        self.peak = max(self.peak, rss_anon())
        return self.peak


class Unfolded:
    """Wraps a fitted-by-Translator affine solver but hides its ``linear_map``: the float64 path."""

    @staticmethod
    def make() -> Any:
        from semalign_core.align.solvers import get_solver

        base = type(get_solver("affine"))

        class NoLinearMap(base):  # type: ignore[misc, valid-type]
            name = "bench-affine-unfolded"

            def linear_map(self) -> None:
                return None

        return NoLinearMap()


def translator_for(kind: str) -> Any:
    from semalign_core import Translator

    if kind == "affine":
        return fitted_translator(DX, DY)
    rng = np.random.default_rng(0)  # the anchors of bench_folded.fitted_translator
    A = rng.standard_normal((4000, DX)).astype(np.float32)
    B = (A @ rng.normal(size=(DX, DY)).astype(np.float32) / np.sqrt(DX)
         + rng.standard_normal((4000, DY), dtype=np.float32) + 1.0)
    if kind == "l2":
        return Translator("affine", source_norm="standard+l2").fit(A, B)
    return Translator(Unfolded.make()).fit(A, B)


def classifier_for(t: Any, K: int, multilabel: bool = False) -> Any:
    from semalign_core import Embeddings
    from semalign_core.zeroshot import PromptSet, ZeroShotClassifier

    rng = np.random.default_rng(K)
    if not multilabel:  # as bench_folded.classifier: K random class vectors
        C = rng.standard_normal((K, DY)).astype(np.float32)
        return ZeroShotClassifier(t, Embeddings(C, [f"class{i}" for i in range(K)]), device="cpu")
    ps = PromptSet.from_templates([f"finding{i}" for i in range(K)], "{} is present",
                                  negative_templates="no {}")
    texts = list(ps.texts())
    V = rng.standard_normal((len(texts), DY)).astype(np.float32)
    return ZeroShotClassifier(t, Embeddings(V, texts), ps, device="cpu")


def operation(op: str, tmp: Path) -> tuple[Callable[[Any], Any], Any]:
    """The call to measure (taking the input array) and the object whose build it needs."""
    if op.startswith("transform") or op.startswith("iter_transform"):
        kind = {"transform-l2": "l2", "transform-float64": "float64"}.get(op, "affine")
        t = translator_for(kind)
        if op != "iter_transform-mmap":
            return t.transform, t

        def streamed(X: Any) -> np.ndarray:
            out = np.lib.format.open_memmap(tmp / f"out-{os.getpid()}.npy", mode="w+",
                                            dtype=np.float32, shape=(X.shape[0], t.target_dim_))
            pos = 0
            for Z in t.iter_transform(X):
                out[pos:pos + len(Z)] = Z
                pos += len(Z)
            out.flush()
            return out
        return streamed, t
    name, _, rest = op.partition("-")
    if name == "predict" and rest.startswith("multilabel"):
        clf = classifier_for(translator_for("l2" if rest.endswith("general") else "affine"), 14,
                             multilabel=True)
        return clf.predict, clf
    if name == "predict":
        path, _, K = rest.partition("-")
        clf = classifier_for(translator_for("l2" if path == "general" else "affine"), int(K))
        return clf.predict, clf
    clf = classifier_for(translator_for("affine"), int(rest))
    return getattr(clf, name), clf


def child(op: str, n: int, source: Path, tmp: Path) -> None:
    X = np.load(source, mmap_mode="r")[:n]
    call, built = operation(op, tmp)
    call(X[:1000])  # warm-up: lazy builds (folded forms, label index), BLAS buffers
    if hasattr(built, "_folded"):  # check which predict path this classifier really takes
        assert (built._folded is not None) == ("general" not in op), op
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed setup memory would hide new allocations
    sampler = PeakSampler()  # started first: its own stack and malloc arena are not the call's
    sampler.start()
    time.sleep(0.05)
    before = sampler.peak = rss_anon()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = call(X)
    seconds = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = sampler.stop()
    anon_out = 0 if isinstance(result, np.memmap) else int(result.nbytes)
    print(json.dumps({"op": op, "n": n, "seconds": seconds, "out_bytes": int(result.nbytes),
                      "anon_out_bytes": anon_out, "rss": peak - before - anon_out,
                      "traced": traced - anon_out, "before": before}))


# -- the parent: inputs, one subprocess per (operation, N), the table ------------------------------
def write_input(path: Path, n: int) -> None:
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DX))
    rng = np.random.default_rng(1)
    for lo in range(0, n, 65536):
        X[lo:lo + 65536] = rng.standard_normal((min(65536, n - lo), DX), dtype=np.float32)
    X.flush()
    del X


def run_child(op: str, n: int, source: Path, tmp: Path, hugepages: bool) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    if not hugepages:  # RssAnon at 4 KB resolution, not the huge pages' 2 MB (docstring)
        env["NUMPY_MADVISE_HUGEPAGE"] = "0"
    proc = subprocess.run([sys.executable, __file__, "--child", op, str(n), str(source),
                           str(tmp)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{op} at N={n} failed:\n{proc.stderr[-3000:]}")
    for leftover in tmp.glob("out-*.npy"):
        leftover.unlink()
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mb(x: float) -> str:
    return f"{x / 1e6:8.1f}"


def report(rows: dict[tuple[str, int], dict], ops: list[str], small: int, large: int) -> bool:
    print("\nWorking memory = peak during the call above the process just before it, MINUS the "
          "returned output's bytes (MB; rss = RssAnon sampled ~1 ms, traced = tracemalloc).")
    print(f"{'operation':<27}{'rss ' + str(small):>12}{'rss ' + str(large):>12}{'ratio':>7}"
          f"{'traced ' + str(small):>15}{'traced ' + str(large):>15}{'ratio':>7}"
          f"{'output ' + str(large):>16}{'s ' + str(large):>10}")
    flat = True
    for op in ops:
        a, b = rows[op, small], rows[op, large]
        r_rss = b["rss"] / max(a["rss"], 1)
        r_tr = b["traced"] / max(a["traced"], 1)
        ok = all(big <= TARGET * small_ or big - small_ <= noise for small_, big, noise in (
            (a["rss"], b["rss"], NOISE), (a["traced"], b["traced"], TRACED_NOISE)))
        flat &= ok
        out = mb(b["out_bytes"]) + ("*" if b["anon_out_bytes"] == 0 else " ")
        print(f"{op:<27}{mb(a['rss']):>12}{mb(b['rss']):>12}{r_rss:7.2f}{mb(a['traced']):>15}"
              f"{mb(b['traced']):>15}{r_tr:7.2f}{out:>16}{b['seconds']:10.2f}"
              f"  {'flat' if ok else 'NOT FLAT'}")
    print(f"(* memory-mapped output: file-backed, not subtracted. flat: ratio <= {TARGET} for "
          f"both, or at most {NOISE / 1e6:.0f} MB more in rss (its resolution) and "
          f"{TRACED_NOISE // 1024} KB more traced)")
    return flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(100_000, 1_000_000))
    parser.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    parser.add_argument("--tmp", default=None, help="where the input and outputs go (default /tmp)")
    parser.add_argument("--hugepages", action="store_true",
                        help="keep numpy's transparent huge pages in the children (RSS then "
                             "moves in 2 MB steps)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        op, n, source, tmp = args.child
        child(op, int(n), Path(source), Path(tmp))
        return
    small, large = sorted(args.sizes)
    tmp = Path(tempfile.mkdtemp(prefix="semalign-bench-memory-", dir=args.tmp))
    try:
        source = tmp / "X.npy"
        write_input(source, large)  # N = small reads the first rows of the same file
        rows = {}
        for op in args.ops:
            for n in (small, large):
                rows[op, n] = run_child(op, n, source, tmp, args.hugepages)
                print(f"  {op} N={n}: {rows[op, n]['seconds']:.2f} s", flush=True)
        flat = report(rows, args.ops, small, large)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if flat else 1)


if __name__ == "__main__":
    main()
