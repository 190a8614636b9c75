"""Step 5: joint clean-CV grid (480 configs), train-CV only.

40 anchor draws (seeds 100-139), evaluated on the 300 non-anchor train images. Selection
criterion (fixed before running): CV bacc + CV AUROC. Writes ``$SEMALIGN_STUDY_DIR/grid_cv.json``
and prints the top 25. The slowest stage (480 configs x 40 draws); ``top_test.py`` reads it.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
from joblib import Parallel, delayed
from lib import DEFAULT, run_seed
from study_paths import study_dir

SPACE = dict(
    section=["imp", "both"],
    pk=[("rand1", 1), ("meank", 2), ("meank", 5), ("meank", 10), ("meank", 20), ("classmean", 0)],
    classemb=["hand2", "hand8", "repmean", "hand8+repmean"],
    alpha=[100.0, 300.0, 1000.0, 3000.0, "gcv"],
    src_pre=["standard", "l2std"],
)
SEEDS = range(100, 140)


def one(c):
    r = [run_seed(c, s, "cv") for s in SEEDS]
    return dict(cfg=c, bacc=[x["bacc"] for x in r], auc=[x["auc"] for x in r])


def main():
    cfgs = [
        dict(DEFAULT, section=sec, pairing=pk[0], k=pk[1], classemb=ce, alpha=al, src_pre=sp)
        for sec, pk, ce, al, sp in itertools.product(*SPACE.values())
    ]
    res = Parallel(n_jobs=2)(delayed(one)(c) for c in cfgs)
    with open(study_dir() / "grid_cv.json", "w") as fh:
        json.dump(res, fh)
    res.sort(key=lambda r: -(np.mean(r["bacc"]) + np.mean(r["auc"])))
    for r in res[:25]:
        c = r["cfg"]
        k = c["k"] if c["pairing"] == "meank" else ""
        print(f"{np.mean(r['bacc']):.4f} {np.mean(r['auc']):.4f}  {c['section']} {c['pairing']}{k} "
              f"{c['classemb']} a={c['alpha']} {c['src_pre']}")


if __name__ == "__main__":
    main()
