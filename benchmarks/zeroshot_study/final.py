"""Step 9: the final numbers (FINDINGS "Final test numbers" and the anchor-count table).

The recipe is the one selected by the train-only shift-robust CV (``grid_shift.py``). Test =
the 624 Kermany test images, anchor seeds 0-4; clean train-CV = seeds 100-139. Needs only
``cache.npz`` and ``prompts.npz``; takes about a minute.
"""

from __future__ import annotations

import numpy as np
from lib import DEFAULT, evaluate, fmt, run_seed

FINAL = dict(DEFAULT, section="imp", pairing="meank", k=10, classemb="repmean", map="ridge",
             alpha=1000.0, src_pre="l2std", tgt_pre="center", selector="strat", calib="zero")


def test_stats(c, seeds=range(5)):
    r = [run_seed(c, s, "test") for s in seeds]
    b, a = [x["bacc"] for x in r], [x["auc"] for x in r]
    return (f"bacc {np.mean(b):.3f}±{np.std(b):.3f}  AUROC {np.mean(a):.3f}±{np.std(a):.3f}  "
            f"per-seed bacc {np.round(b, 3).tolist()} auc {np.round(a, 3).tolist()}")


def main():
    print("FINAL recipe:", FINAL)
    print("100 anchors, test, seeds 0-4:", test_stats(FINAL))
    print("  clean train-CV (seeds 100-139):",
          fmt(evaluate(FINAL, cv_seeds=range(100, 140), test_seeds=None)))
    print("Anchor-count table (test, seeds 0-4; stratified n//2 per class):")
    for n in [25, 50, 100, 200, 400]:
        print(f"  n={n:3d} FINAL(alpha=1000): {test_stats(dict(FINAL, n=n))}")
        print(f"  n={n:3d} alpha=GCV       : {test_stats(dict(FINAL, n=n, alpha='gcv'))}")
    print("Transductive variants (use unlabeled test images; not the default):")
    print("  re-standardise test features with test-batch stats:",
          test_stats(dict(FINAL, trans_src=True)))
    print("  GMM threshold on test scores                      :",
          test_stats(dict(FINAL, calib="trans_gmm")))


if __name__ == "__main__":
    main()
