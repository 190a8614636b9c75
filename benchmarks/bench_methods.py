"""Alignment methods side by side: the affine recipe, CCA and relative representations.

Two tasks on the shared data, SqueezeNet 1.1 (ImageNet) X-ray embeddings aligned with
all-MiniLM-L6-v2 report embeddings through class-level anchors (the pneumonia recipe's pairing:
each anchor image with the unit mean of ``k=10`` Open-i impressions of its class; half of each
class's reports, re-drawn per seed, held out):

- **Kermany zero-shot** normal vs. pneumonia on the 624 official test images; the class text of
  each class is the raw mean of its recipe prompts and held-out reports (the recipe's ``raw``
  ensemble); AUROC and balanced accuracy.
- **Open-i retrieval**: image -> report (test images against the held-out reports) and
  report -> image, class-level relevance (a report of the image's class is a hit); R@1/5/10
  and MRR, next to the seeded random ranking.

Methods (all in their comparison space, ``space="normalized"``; same anchors, pairing and
normalisers ``l2+standard`` -> ``center`` as the recipe):

``affine``    the recipe: ridge least squares with bias, ``alpha=1000``
``cca``       :class:`semalign_solvers.CCASolver`, ``n_components=8`` (fixed, not tuned)
``relative``  :class:`semalign_core.RelativeTranslator`: cosines to the anchors, no map fitted

Run (a few minutes the first time, on 2 CPU cores; embeddings are cached)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_methods.py
    HF_HUB_OFFLINE=1 python benchmarks/bench_methods.py --anchors 50 100 200 --seeds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cxr_embeddings

POSITIVE = "pneumonia"
NORMS = {"source_norm": "l2+standard", "target_norm": "center"}


def methods() -> dict[str, Callable[[], Any]]:
    from semalign_core import RelativeTranslator, Translator

    return {
        "affine": lambda: Translator("affine", solver_params={"alpha": 1000.0}, **NORMS),
        "cca": lambda: Translator("cca", solver_params={"n_components": 8}, **NORMS),
        "relative": lambda: RelativeTranslator(**NORMS),
    }


def class_texts(e: cxr_embeddings.CxrEmbeddings, held: np.ndarray, classes: Sequence[str]
                ) -> np.ndarray:
    """Raw mean of each class's prompts and held-out reports (the recipe's raw ensemble)."""
    out = []
    for c in classes:
        vectors = np.vstack([e.prompts[c], e.report_v[held & (e.report_y == c)]])
        out.append(vectors.mean(axis=0))
    return np.asarray(out, np.float32)


def run_one(e: cxr_embeddings.CxrEmbeddings, make: Callable[[], Any], n: int, seed: int
            ) -> dict[str, Any]:
    """Zero-shot scores and retrieval ranks for one method, anchor count and seed."""
    from semalign_core import Embeddings, ZeroShotClassifier
    from semalign_core.evaluation import retrieval_ranks

    idx = cxr_embeddings.stratified_anchors(e.train_y, n, seed)
    targets, held = cxr_embeddings.class_pairing(e.train_y[idx], e.report_y, e.report_v, k=10,
                                                 holdout=0.5, seed=seed)
    t = make().fit(e.train_x[idx], targets)
    classes = ["normal", POSITIVE]
    text = Embeddings(class_texts(e, held, classes), classes)
    clf = ZeroShotClassifier(t, text, space="normalized", device="cpu")
    s = clf.decision_scores(e.test_x).astype(np.float64)
    images = t.transform(e.test_x, space="normalized")
    reports = t.transform_target(e.report_v[held])
    keys = e.report_y[held]
    return {"score": s[:, 1] - s[:, 0], "pred": clf.predict(e.test_x),
            "i2r": retrieval_ranks(images, reports, query_keys=e.test_y, candidate_keys=keys),
            "r2i": retrieval_ranks(reports, images, query_keys=keys, candidate_keys=e.test_y),
            "n_reports": int(held.sum()), "held_keys": keys}


def _cell(values: Sequence[float]) -> str:
    return f"{np.mean(values):.3f} +- {np.std(values):.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    from semalign_core.evaluation import (
        auroc,
        balanced_accuracy,
        random_retrieval_ranks,
        retrieval_from_ranks,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--shared-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    e = cxr_embeddings.load(args.shared_dir, args.cache_dir)
    print(f"# {len(e.train_x)} pool / {len(e.test_x)} test images, {len(e.report_v)} Open-i "
          f"reports; {args.seeds} seeds, mean +- sd over seeds")
    header = (f"{'anchors':>7} | {'method':<9} | {'zs AUROC':<15} | {'zs bal.acc':<15} | "
              f"{'i->r R@1':<15} | {'i->r R@10':<15} | {'i->r MRR':<15} | {'r->i R@1':<15} | "
              f"{'r->i MRR':<15}")
    print(header)
    print("-" * len(header))
    last: dict[str, Any] = {}
    for n in args.anchors:
        for name, make in methods().items():
            runs = [run_one(e, make, n, seed) for seed in range(args.seeds)]
            last = runs[-1]
            i2r = [retrieval_from_ranks(r["i2r"]) for r in runs]
            r2i = [retrieval_from_ranks(r["r2i"]) for r in runs]
            print(f"{n:>7} | {name:<9} | "
                  f"{_cell([auroc(e.test_y, r['score'], pos_label=POSITIVE) for r in runs]):<15} | "
                  f"{_cell([balanced_accuracy(e.test_y, r['pred']) for r in runs]):<15} | "
                  f"{_cell([m['R@1'] for m in i2r]):<15} | {_cell([m['R@10'] for m in i2r]):<15} | "
                  f"{_cell([m['mrr'] for m in i2r]):<15} | {_cell([m['R@1'] for m in r2i]):<15} | "
                  f"{_cell([m['mrr'] for m in r2i]):<15}", flush=True)
    keys = last["held_keys"]
    chance_i2r = retrieval_from_ranks(random_retrieval_ranks(
        len(keys), query_keys=e.test_y, candidate_keys=keys, n_draws=20))
    chance_r2i = retrieval_from_ranks(random_retrieval_ranks(
        len(e.test_y), query_keys=keys, candidate_keys=e.test_y, n_draws=20))
    print(f"{'-':>7} | {'random':<9} | {'0.500':<15} | {'0.500':<15} | "
          f"{chance_i2r['R@1']:<15.3f} | {chance_i2r['R@10']:<15.3f} | "
          f"{chance_i2r['mrr']:<15.3f} | {chance_r2i['R@1']:<15.3f} | {chance_r2i['mrr']:<15.3f}")
    print(f"# retrieval: {len(e.test_y)} test images x {last['n_reports']} held-out reports, "
          f"class-level relevance; random = seeded random scores, 20 draws")
    print(f"# total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
