"""Bootstrap confidence intervals: the vectorised kernels next to the one-resample-at-a-time loop.

The loop is what ``bootstrap_ci`` ran for every metric before the kernels (and still runs for any
metric without one: here the same metric behind a plain lambda). Both draw the same resamples
from the same seed; the script checks that the bounds agree and prints both times and the ratio
(acceptance: >= 20x, same bounds). Default: the demo's shape, 624 test images, binary labels,
4 metrics x 500 resamples (``classification_metrics``), repeated interleaved.

Run::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_bootstrap.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_bootstrap.py --n 624 --resamples 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from semalign_core.evaluation.metrics import (
    accuracy,
    auroc,
    balanced_accuracy,
    bootstrap_ci,
    macro_f1,
)


def intervals(t: np.ndarray, p: np.ndarray, s: np.ndarray, resamples: int, generic: bool) -> list:
    out = []
    for metric, args in ((accuracy, (t, p)), (balanced_accuracy, (t, p)), (macro_f1, (t, p)),
                         (auroc, (t, s))):
        fn = (lambda *a, metric=metric: metric(*a)) if generic else metric
        out.append(bootstrap_ci(fn, *args, n_resamples=resamples, seed=0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=624)
    ap.add_argument("--resamples", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, args.n)
    p = np.where(rng.random(args.n) < 0.8, t, 1 - t)
    s = rng.normal(size=args.n) + t
    intervals(t, p, s, 10, False)  # import scikit-learn outside the timings
    fast_t, slow_t = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = intervals(t, p, s, args.resamples, False)
        t1 = time.perf_counter()
        slow = intervals(t, p, s, args.resamples, True)
        t2 = time.perf_counter()
        fast_t.append(t1 - t0)
        slow_t.append(t2 - t1)
    worst = max(max(abs(a.low - b.low), abs(a.high - b.high))
                for a, b in zip(fast, slow, strict=True))
    same = all(a == b for a, b in zip(fast[:3], slow[:3], strict=True))
    ratio = np.array(slow_t) / np.array(fast_t)
    print(f"4 CIs x {args.resamples} resamples on {args.n} items, {args.repeats} interleaved runs")
    print(f"vectorised {np.median(fast_t):.3f} s [{min(fast_t):.3f}-{max(fast_t):.3f}]  "
          f"loop {np.median(slow_t):.3f} s [{min(slow_t):.3f}-{max(slow_t):.3f}]  "
          f"speed-up {np.median(ratio):.1f}x [{ratio.min():.1f}-{ratio.max():.1f}] (target >= 20)")
    print(f"accuracy/balanced accuracy/F1 bounds identical: {same}; largest bound difference "
          f"over all four (AUROC: rank statistic vs trapezoid, round-off): {worst:.2e}")
    for a in fast:
        print(f"  {a}")


if __name__ == "__main__":
    main()
