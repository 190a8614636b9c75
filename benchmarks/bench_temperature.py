"""How the zero-shot softmax temperature trades calibration against ties in predict_proba.

On the 624 Kermany test images (the pneumonia recipe, 100 anchors, seeds 0-4; see
``bench_zeroshot.py``), ``predict_proba`` for two classes is ``sigmoid(d / T)`` with ``d`` =
``cos(pneumonia) - cos(normal)``. For each temperature ``T`` this prints, averaged over seeds:

- ``ties``: how many distinct scores ``d`` collapse onto one probability (saturation at 0/1);
- ``auroc(p)`` against ``auroc(d)``: the ranking the probabilities keep;
- ``nll`` and ``ece``: log loss and expected calibration error (10 bins) of ``P(pneumonia)``.

Run::

    HF_HUB_OFFLINE=1 python benchmarks/bench_temperature.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

TEMPERATURES = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def _bench_zeroshot():
    path = Path(__file__).with_name("bench_zeroshot.py")
    spec = importlib.util.spec_from_file_location("bench_zeroshot", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(y: np.ndarray, d: np.ndarray, T: float) -> tuple[int, float, float, float, float]:
    from semalign_core.evaluation.metrics import auroc

    z = d / T
    p = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(
        -np.abs(z))))
    ties = len(np.unique(d)) - len(np.unique(p))
    eps = 1e-15
    pc = np.clip(p, eps, 1 - eps)
    nll = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    bins = np.minimum((p * 10).astype(int), 9)
    ece = float(sum(abs(p[bins == b].mean() - y[bins == b].mean()) * np.mean(bins == b)
                    for b in range(10) if np.any(bins == b)))
    return ties, auroc(y, p), auroc(y, d), nll, ece


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir")
    parser.add_argument("--shared-dir")
    args = parser.parse_args(argv)
    bench = _bench_zeroshot()
    result = bench.run_recipe([100], (0, 1, 2, 3, 4), shared_dir=args.shared_dir,
                              cache_dir=args.cache_dir)
    y = (np.asarray(result.curves["y_true"]) == bench.POSITIVE).astype(float)
    runs = [d for _, d in bench.per_seed(result, 100)["inductive"]]
    spread = np.concatenate(runs)
    print(f"score difference d: min {spread.min():.3f}, max {spread.max():.3f}, "
          f"sd {spread.std():.3f}")
    print(f"{'T':>6} {'ties':>6} {'auroc(p)':>9} {'auroc(d)':>9} {'nll':>7} {'ece':>6}")
    for T in TEMPERATURES:
        rows = np.asarray([_row(y, d, T) for d in runs])
        ties, ap, ad, nll, ece = rows.mean(axis=0)
        print(f"{T:>6} {ties:>6.1f} {ap:>9.4f} {ad:>9.4f} {nll:>7.3f} {ece:>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
