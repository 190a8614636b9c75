"""Model stitching on real data, next to zero-shot and the supervised probes.

The walkthrough of docs/zeroshot.md ("Stitching walkthrough"), measured:

1. a classifier head (logistic regression, ``class_weight="balanced"``, nothing tuned) is trained
   on all-MiniLM-L6-v2 embeddings of labelled Open-i reports (normal / pneumonia, the half of
   each class's reports that the anchor pairing holds out, re-drawn per seed);
2. SqueezeNet 1.1 (ImageNet) embeddings of Kermany X-rays are translated into MiniLM space with
   100 class-level anchors (the pneumonia recipe: affine, ``alpha=1000``, ``l2+standard`` ->
   ``center``; each anchor image paired with the unit mean of 10 impressions of its class);
3. the head classifies the 624 Kermany test images through the translation
   (:class:`semalign_core.StitchedClassifier`, raw MiniLM space).

Next to it, with the same anchors and seeds: zero-shot (the class texts of
``bench_methods.py``), the linear probe on all 400 labelled pool images and the k-shot probe
(k = 1, 2, 4, 8, 16 images per class) on the source encoder
(:mod:`semalign_core.evaluation.probes`). Labels used: stitching and zero-shot use no image
label beyond the anchors' classes (class-level pairing needs them; the head also uses the Open-i
reports' labels); the probes use labelled images.

Run::

    HF_HUB_OFFLINE=1 python benchmarks/bench_stitching.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cxr_embeddings
from bench_methods import NORMS, POSITIVE, class_texts

CLASSES = ["normal", POSITIVE]


def stitch_and_zero_shot(e: cxr_embeddings.CxrEmbeddings, n: int, seed: int
                         ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"stitching": (pred, score), "zero-shot": (pred, score)}`` for one seed."""
    from sklearn.linear_model import LogisticRegression

    from semalign_core import Embeddings, StitchedClassifier, Translator, ZeroShotClassifier

    idx = cxr_embeddings.stratified_anchors(e.train_y, n, seed)
    targets, held = cxr_embeddings.class_pairing(e.train_y[idx], e.report_y, e.report_v, k=10,
                                                 holdout=0.5, seed=seed)
    t = Translator("affine", solver_params={"alpha": 1000.0}, **NORMS).fit(e.train_x[idx],
                                                                          targets)
    head = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    head.fit(e.report_v[held], e.report_y[held])  # raw MiniLM report embeddings
    stitched = StitchedClassifier(t, head, space="raw")
    pos = list(head.classes_).index(POSITIVE)
    out = {"stitching": (stitched.predict(e.test_x),
                         stitched.decision_function(e.test_x) * (1 if pos == 1 else -1))}
    clf = ZeroShotClassifier(t, Embeddings(class_texts(e, held, CLASSES), CLASSES),
                             space="normalized", device="cpu")
    s = clf.decision_scores(e.test_x).astype(np.float64)
    out["zero-shot"] = (clf.predict(e.test_x), s[:, 1] - s[:, 0])
    return out


def _row(label: str, labels: str, y: np.ndarray, runs: Sequence[tuple[np.ndarray, np.ndarray]]
         ) -> str:
    from semalign_core.evaluation import auroc, balanced_accuracy

    auc = [auroc(y, s, pos_label=POSITIVE) for _, s in runs]
    bacc = [balanced_accuracy(y, p) for p, _ in runs]
    return (f"{label:<28} | {labels:<26} | {np.mean(auc):.3f} +- {np.std(auc):.3f} | "
            f"{np.mean(bacc):.3f} +- {np.std(bacc):.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    from semalign_core.evaluation import linear_probe, probe_curve

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anchors", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--shared-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    e = cxr_embeddings.load(args.shared_dir, args.cache_dir)
    seeds = range(args.seeds)
    runs: dict[str, list[Any]] = {"stitching": [], "zero-shot": []}
    for seed in seeds:
        for name, value in stitch_and_zero_shot(e, args.anchors, seed).items():
            runs[name].append(value)
    print(f"# Kermany test: {len(e.test_y)} images; {args.seeds} seeds; mean +- sd over seeds")
    print(f"{'method':<28} | {'labels used':<26} | {'AUROC':<14} | balanced accuracy")
    print("-" * 92)
    print(_row(f"stitching ({args.anchors} anchors)",
               f"{args.anchors} anchor classes + reports", e.test_y, runs["stitching"]))
    print(_row(f"zero-shot ({args.anchors} anchors)", f"{args.anchors} anchor classes", e.test_y,
               runs["zero-shot"]))
    curve = probe_curve(e.train_x, e.train_y, e.test_x, e.test_y, seeds=seeds, classes=CLASSES,
                        n_resamples=1)
    for k in sorted({r.shots for r in curve}):
        rows = [(r.y_pred, r.y_score) for r in curve if r.shots == k]
        print(_row(f"{k}-shot probe", f"{2 * k} labelled images", e.test_y, rows))
    full = linear_probe(e.train_x, e.train_y, e.test_x, e.test_y, classes=CLASSES,
                        n_resamples=1)
    print(_row("linear probe", f"{full.n_train} labelled images", e.test_y,
               [(full.y_pred, full.y_score)]))
    print(f"# total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
