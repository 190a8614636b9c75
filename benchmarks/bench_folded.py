"""Translation, zero-shot prediction and label search next to the raw float32 calls, side by side.

Each semalign call (A) runs interleaved with the strongest raw NumPy baseline computing the same
thing (B), A B A B ..., and the script prints the median and min-max of each and the median of
the per-pair ratios A/B (pairing the runs keeps the ratio honest while the machine's load drifts):

transform   ``Translator.transform`` (affine, standard both sides) of N x 512 -> 384, against
            float32 ``X @ W' + b'`` with the folded ``W', b'``, chunked (both write into one
            preallocated output).
predict     ``ZeroShotClassifier.predict`` for K = 2 and 14 classes, against the folded raw form
            ``argmax(X @ (W' C^T) + b' C^T)`` in float32 chunks, and (for reference) the general
            path: translate, L2-normalise, ``@ C^T``, argmax.
search      ``LabelIndex.search_indices(Q, 1)`` for K labels against numpy ``argmax(Q @ E^T)``;
            and the FAISS flat index at each K, which is what chose ``BLAS_MAX_LABELS``.
memory      tracemalloc peak of transform and predict at N = 100k and 1M, less the returned
            array: the working memory, which must not grow with N.

Run with one BLAS thread so that the ratios compare the code, not the thread count::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_folded.py
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_folded.py --n 200000 --quick
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from semalign_core import Embeddings, Translator
from semalign_core.zeroshot.classifier import LabelIndex, ZeroShotClassifier

CHUNK = 2048


def paired(a: Callable[[], object], b: Callable[[], object], repeats: int) -> dict:
    """Run a and b alternately; medians, ranges and the median of per-pair ratios."""
    ta, tb = [], []
    a(), b()  # warm-up: page faults, BLAS buffers, lazy builds
    for _ in range(repeats):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    ratios = np.array(ta) / np.array(tb)
    return {"a": np.array(ta), "b": np.array(tb), "ratio": ratios}


def show(name: str, res: dict, target: str = "") -> None:
    a, b, r = res["a"], res["b"], res["ratio"]
    print(f"{name:<34} {np.median(a):7.3f} s [{a.min():.3f}-{a.max():.3f}]  "
          f"raw {np.median(b):7.3f} s [{b.min():.3f}-{b.max():.3f}]  "
          f"ratio {np.median(r):5.2f} [{r.min():.2f}-{r.max():.2f}] {target}")


def make_inputs(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.empty((n, d), np.float32)
    for lo in range(0, n, 65536):  # float32 throughout: no 8-byte temporary of the whole array
        X[lo:lo + 65536] = rng.standard_normal((min(65536, n - lo), d), dtype=np.float32)
    return X


def fitted_translator(dx: int = 512, dy: int = 384) -> Translator:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4000, dx)).astype(np.float32)
    B = (A @ rng.normal(size=(dx, dy)).astype(np.float32) / np.sqrt(dx)
         + rng.standard_normal((4000, dy), dtype=np.float32) + 1.0)
    return Translator("affine").fit(A, B)


def raw_affine(X: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    for lo in range(0, len(X), CHUNK):
        np.matmul(X[lo:lo + CHUNK], W, out=out[lo:lo + CHUNK])
        out[lo:lo + CHUNK] += b
    return out


def raw_argmax(X: np.ndarray, M: np.ndarray, c: np.ndarray) -> np.ndarray:
    out = np.empty(len(X), np.int64)
    for lo in range(0, len(X), CHUNK):
        out[lo:lo + CHUNK] = (X[lo:lo + CHUNK] @ M + c).argmax(axis=1)
    return out


def raw_general(X: np.ndarray, W: np.ndarray, b: np.ndarray, C: np.ndarray) -> np.ndarray:
    out = np.empty(len(X), np.int64)
    for lo in range(0, len(X), CHUNK):
        Z = X[lo:lo + CHUNK] @ W + b
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        out[lo:lo + CHUNK] = (Z @ C.T).argmax(axis=1)
    return out


def classifier(t: Translator, K: int) -> tuple[ZeroShotClassifier, np.ndarray]:
    rng = np.random.default_rng(K)
    C = rng.standard_normal((K, t.target_dim_)).astype(np.float32)
    clf = ZeroShotClassifier(t, Embeddings(C, [f"class{i}" for i in range(K)]), device="cpu")
    return clf, clf.index.embeddings  # the class rows in the comparison space, L2-normalised


def bench_transform(X: np.ndarray, t: Translator, repeats: int) -> None:
    folded = t.folded().affine64(t.source_dim_)
    W, b = folded.A.astype(np.float32), folded.b.astype(np.float32)
    out = np.empty((len(X), t.target_dim_), np.float32)
    res = paired(lambda: t.transform(X), lambda: raw_affine(X, W, b, out), repeats)
    show(f"transform {len(X)} x 512 -> 384", res, "(target <= 1.5)")


def bench_predict(X: np.ndarray, t: Translator, repeats: int) -> None:
    plan = t.folded(space=t.comparison_space).affine64(t.source_dim_)  # the classifier's
    W, b = plan.A.astype(np.float32), plan.b.astype(np.float32)
    for K in (2, 14):
        clf, C = classifier(t, K)
        M = (plan.A @ C.T.astype(np.float64)).astype(np.float32)
        c = (plan.b @ C.T.astype(np.float64)).astype(np.float32)
        assert (clf.predict(X[:20000]) == clf.classes_[raw_argmax(X[:20000], M, c)]).all()
        res = paired(lambda clf=clf: clf.predict(X), lambda M=M, c=c: raw_argmax(X, M, c),
                     repeats)
        show(f"predict {len(X)}, K={K} vs folded raw", res, "(target <= 1.3)")
        res = paired(lambda clf=clf: clf.predict(X), lambda C=C: raw_general(X, W, b, C),
                     max(1, repeats // 2))
        show(f"predict {len(X)}, K={K} vs general raw", res)


def bench_search(n: int, ks: tuple[int, ...], repeats: int) -> None:
    import faiss

    from semalign_core.zeroshot import label_index

    Q = make_inputs(n, 384, 2)
    print(f"(LabelIndex BLAS_MAX_LABELS = {label_index.BLAS_MAX_LABELS})")
    for K in ks:
        E = np.random.default_rng(K).standard_normal((K, 384), dtype=np.float32)
        index = LabelIndex([str(i) for i in range(K)], E, device="cpu")
        flat = faiss.IndexFlatIP(384)
        flat.add(E)
        res = paired(lambda index=index: index.search_indices(Q, 1),
                     lambda E=E: (Q @ E.T).argmax(axis=1), repeats)
        show(f"LabelIndex[{index.backend_}] {n}, K={K}", res,
             "(target <= 1.2)" if K <= 64 else "")
        res = paired(lambda flat=flat: flat.search(Q, 1), lambda E=E: (Q @ E.T).argmax(axis=1),
                     repeats)
        show(f"  FAISS flat {n}, K={K}", res)


def working_memory(t: Translator, n: int) -> tuple[float, float]:
    """Peak traced bytes of transform and predict beyond their returned arrays (MB)."""
    X = make_inputs(n, t.source_dim_, 3)
    clf, _ = classifier(t, 14)
    clf.predict(X[:10])  # build the folded form outside the measurement
    out = []
    for fn in (lambda: t.transform(X), lambda: clf.predict(X)):
        tracemalloc.start()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out.append((peak - result.nbytes) / 1e6)
        del result
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer K values and repeats")
    parser.add_argument("--only", choices=("transform", "predict", "search", "memory"))
    args = parser.parse_args()
    t = fitted_translator()
    X = make_inputs(args.n, 512, 1) if args.only in (None, "transform", "predict") else None
    if args.only in (None, "transform"):
        bench_transform(X, t, args.repeats)
    if args.only in (None, "predict"):
        bench_predict(X, t, args.repeats)
    del X
    if args.only in (None, "search"):
        ks = (2, 14, 64, 256) if args.quick else (2, 14, 64, 256, 1024)
        bench_search(args.n, ks, max(3, args.repeats // 2) if not args.quick else 3)
    if args.only in (None, "memory"):
        small, large = working_memory(t, 100_000), working_memory(t, 1_000_000)
        for name, a, b in (("transform", small[0], large[0]), ("predict", small[1], large[1])):
            print(f"working memory of {name}: {a:.1f} MB at 100k, {b:.1f} MB at 1M "
                  f"(ratio {b / a:.2f}; target within 10%)")


if __name__ == "__main__":
    main()
