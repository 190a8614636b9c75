"""Zero-shot normal vs. pneumonia on Kermany chest X-rays with an ImageNet vision model.

The seed paper's method on real data, with general-purpose encoders that never saw each other:
an ImageNet SqueezeNet 1.1 (512-d) translated into all-MiniLM-L6-v2's sentence space (384-d)
with anchors that pair Kermany train images with Open-i reports of their class, evaluated on the
624 official Kermany test images.

The recipe is **not** defined here: it is
:func:`~semalign_core.experiments.recipes.pneumonia_zero_shot_config`
(the same one ``semalign demo`` and ``tests/test_zeroshot_real.py`` run), executed by
:func:`semalign_core.experiments.runner.run_experiment`. This script adds two things on top of the
runner's per-seed scores:

- the table across anchor counts (25, 50, 100, 200, 400), each row with mean +- sd over the
  anchor seeds and a 95% bootstrap CI (over test images) of the seed-averaged metric;
- a second row per count for the opt-in **transductive** calibration (``calibration="gmm"`` in
  :class:`~semalign_core.zeroshot.classifier.ZeroShotClassifier`): the decision threshold on
  ``cos(pneumonia) - cos(normal)`` is fitted, without labels, to the unlabeled test batch with
  :func:`~semalign_core.zeroshot.gmm_threshold` (exactly what ``fit_calibration(test images)``
  computes, see the unit tests). AUROC does not change; only the threshold does.

Next to them: the supervised probe (logistic regression on all 400 labelled train images, the
runner's baseline) and chance (the most frequent class).

Run::

    HF_HUB_OFFLINE=1 python benchmarks/bench_zeroshot.py             # the full table
    HF_HUB_OFFLINE=1 python benchmarks/bench_zeroshot.py --anchors 100

Embeddings are cached under ``--cache-dir`` (default: the per-user cache that ``semalign demo``
fills, ``$SEMALIGN_CACHE_DIR`` or ``~/.cache/semalign/embeddings``);
shared data is found like ``semalign demo`` does (``--shared-dir``, ``$SEMALIGN_SHARED_DIR``,
``../shared``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ANCHOR_COUNTS = (25, 50, 100, 200, 400)
POSITIVE = "pneumonia"
VARIANTS = ("inductive", "gmm-calibrated")


def run_recipe(anchors: Sequence[int], seeds: Sequence[int], *,
               shared_dir: str | Path | None = None, cache_dir: str | Path | None = None,
               bootstrap: int = 1, echo: Callable[[str], None] | None = None) -> Any:
    """Run the pneumonia recipe (:mod:`semalign_core.experiments.recipes`); an ExperimentResult.

    ``bootstrap`` sets the runner's own per-seed CIs (not used here; 1 keeps them cheap).
    """
    from semalign_core.data.sources import find_shared_dir, shared_demo_inputs
    from semalign_core.experiments.config import parse_config
    from semalign_core.experiments.recipes import pneumonia_zero_shot_config
    from semalign_core.experiments.runner import run_experiment

    inputs = shared_demo_inputs(find_shared_dir(shared_dir))
    from semalign_core.locations import default_cache_dir

    # The per-user cache `semalign demo` fills: a benchmark after the demo encodes nothing.
    cache = default_cache_dir() if cache_dir is None else Path(cache_dir)
    with tempfile.TemporaryDirectory() as out:  # nothing is written there (write_report=False)
        config = parse_config(pneumonia_zero_shot_config(
            kermany=inputs.kermany, openi_reports=inputs.openi_reports,
            vision_weights=inputs.vision_weights, output_dir=out, cache_dir=cache,
            anchors=list(anchors), seeds=list(seeds), bootstrap=bootstrap))
        return run_experiment(config, write_report=False, echo=echo)


def per_seed(result: Any, n_anchors: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{variant: [(y_pred, y_score) per seed]}`` for one anchor count.

    ``y_score`` is ``cos(pneumonia) - cos(normal)`` in the translator's target space. The
    ``gmm-calibrated`` predictions cut it at :func:`gmm_threshold` of the same (unlabeled)
    test batch; the inductive ones are the runner's argmax.
    """
    from semalign_core.zeroshot.classifier import gmm_threshold

    # the runner's score is column 1 minus column 0 of its class order (positive last)
    negative, positive = result.document["classes"]
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {v: [] for v in VARIANTS}
    keys = sorted((k for k in result.curves if k.startswith(f"{n_anchors}/")),
                  key=lambda k: int(k.split("/")[1]))
    for key in keys:
        score = np.asarray(result.curves[key]["y_score"], dtype=np.float64)
        out["inductive"].append((np.asarray(result.curves[key]["y_pred"]), score))
        threshold = gmm_threshold(score, random_state=0).threshold  # no labels involved
        out["gmm-calibrated"].append((np.where(score > threshold, positive, negative), score))
    return out


def summarise(y_true: np.ndarray, runs: list[tuple[np.ndarray, np.ndarray]],
              n_resamples: int = 1000) -> dict[str, Any]:
    """Per-seed balanced accuracy and AUROC, their mean/sd, and bootstrap CIs of the means."""
    from semalign_core.evaluation.metrics import auroc, balanced_accuracy, bootstrap_ci

    bacc = [balanced_accuracy(y_true, p) for p, _ in runs]
    auc = [auroc(y_true, s, pos_label=POSITIVE) for _, s in runs]
    out: dict[str, Any] = {"bacc": bacc, "auroc": auc}
    if n_resamples > 0:
        preds = np.column_stack([p for p, _ in runs])
        scores = np.column_stack([s for _, s in runs])
        # resample test images once per replicate, shared by all seeds: the CI of the mean
        out["bacc_ci"] = bootstrap_ci(
            lambda t, M: float(np.mean([balanced_accuracy(t, M[:, j])
                                        for j in range(M.shape[1])])),
            y_true, preds, n_resamples=n_resamples, seed=0)
        out["auroc_ci"] = bootstrap_ci(
            lambda t, M: float(np.mean([auroc(t, M[:, j], pos_label=POSITIVE)
                                        for j in range(M.shape[1])])),
            y_true, scores, n_resamples=n_resamples, seed=0)
    return out


def _cell(values: list[float], ci: Any | None) -> str:
    text = f"{np.mean(values):.3f} +- {np.std(values):.3f}"
    return text + (f" [{ci.low:.3f}, {ci.high:.3f}]" if ci is not None else "")


def main(argv: Sequence[str] | None = None) -> int:
    from semalign_core.evaluation.metrics import auroc, balanced_accuracy, bootstrap_ci

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=list(ANCHOR_COUNTS))
    parser.add_argument("--seeds", type=int, default=5, help="anchor draws per row")
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--shared-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    from semalign_core.errors import SemalignError
    from semalign_core.experiments.recipes import PNEUMONIA_RECIPE

    start = time.perf_counter()
    try:
        result = run_recipe(args.anchors, range(args.seeds), shared_dir=args.shared_dir,
                            cache_dir=args.cache_dir)
    except SemalignError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    y = np.asarray(result.curves["y_true"])
    print(f"# recipe (semalign_core.experiments.recipes.PNEUMONIA_RECIPE): {PNEUMONIA_RECIPE}")
    print(f"# test: {len(y)} images ({', '.join(f'{c}: {(y == c).sum()}' for c in np.unique(y))})"
          f"; {args.seeds} anchor seeds; mean +- sd over seeds [95% bootstrap CI over test "
          f"images, {args.n_resamples} resamples]")
    header = (f"{'anchors':>7} | {'decision':<24} | {'balanced accuracy':<32} | "
              f"{'AUROC':<32}")
    print(header)
    print("-" * len(header))
    for n in args.anchors:
        runs = per_seed(result, n)
        for variant in VARIANTS:
            s = summarise(y, runs[variant], args.n_resamples)
            label = ("argmax (default)" if variant == "inductive"
                     else "GMM on test batch (T)")
            print(f"{n:>7} | {label:<24} | {_cell(s['bacc'], s.get('bacc_ci')):<32} | "
                  f"{_cell(s['auroc'], s.get('auroc_ci')):<32}", flush=True)
    for name in ("probe", "chance"):
        base = result.curves[f"baseline/{name}"]
        pred, score = np.asarray(base["y_pred"]), np.asarray(base["y_score"], dtype=np.float64)
        b = bootstrap_ci(balanced_accuracy, y, pred, n_resamples=args.n_resamples, seed=0)
        if np.ptp(score) > 0:
            a = bootstrap_ci(lambda t, sc: auroc(t, sc, pos_label=POSITIVE), y, score,
                             n_resamples=args.n_resamples, seed=0)
            a_txt = f"{a.estimate:.3f} [{a.low:.3f}, {a.high:.3f}]"
        else:  # a constant score ranks nothing
            a_txt = "0.500 (constant score)"
        label = "probe: LogReg, 400 lab." if name == "probe" else "chance: majority class"
        print(f"{'-':>7} | {label:<24} | {f'{b.estimate:.3f} [{b.low:.3f}, {b.high:.3f}]':<32} | "
              f"{a_txt:<32}")
    print("# (T) = transductive: the threshold is fitted to the unlabeled test batch's scores "
          "(ZeroShotClassifier(calibration='gmm').fit_calibration); opt-in, see "
          "docs/zeroshot.md")
    print(f"# total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
