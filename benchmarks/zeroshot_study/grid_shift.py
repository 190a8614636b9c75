"""Step 8: final selection (train only), the shift-robust grid.

Criterion (fixed before running): mean over 8 conditions (clean held-out train + 7 perturbed
held-out train) of (bacc + AUROC), 20 anchor draws (seeds 100-119), over 48 configs
(alpha x src_pre x k x classemb). Writes ``$SEMALIGN_STUDY_DIR/grid_shift.json`` and prints the
top 15; the first row is the final recipe used by ``final.py``. Needs ``cache_pert.npz``.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
from joblib import Parallel, delayed
from lib import DEFAULT, PERT, run_seed
from study_paths import study_dir

SEEDS = range(100, 120)
CONDS = [None, *PERT]
SPACE = dict(alpha=[300.0, 1000.0, 3000.0, "gcv"], src_pre=["standard", "l2std"], k=[5, 10, 20],
             classemb=["repmean", "hand8+repmean"])


def one(c):
    per = {}
    for p in CONDS:
        r = [run_seed(dict(c, pert=p), s, "cv") for s in SEEDS]
        per[str(p)] = (np.mean([x["bacc"] for x in r]), np.mean([x["auc"] for x in r]))
    crit = np.mean([b + a for b, a in per.values()])
    return dict(cfg=c, per=per, crit=crit)


def main():
    if not PERT:
        raise SystemExit("cache_pert.npz is missing: run embed_perturbed.py first")
    cfgs = [dict(DEFAULT, pairing="meank", alpha=a, src_pre=s, k=k, classemb=ce)
            for a, s, k, ce in itertools.product(*SPACE.values())]
    res = Parallel(n_jobs=2)(delayed(one)(c) for c in cfgs)
    res.sort(key=lambda r: -r["crit"])
    with open(study_dir() / "grid_shift.json", "w") as fh:
        json.dump(res, fh, indent=0)
    for r in res[:15]:
        c = r["cfg"]
        cl = r["per"]["None"]
        shifted = [v for k, v in r["per"].items() if k != "None"]
        sh = np.mean([v[0] for v in shifted]), np.mean([v[1] for v in shifted])
        print(f"crit {r['crit']:.4f} clean {cl[0]:.3f}/{cl[1]:.3f} shift {sh[0]:.3f}/{sh[1]:.3f}  "
              f"a={c['alpha']} {c['src_pre']} k={c['k']} {c['classemb']}")


if __name__ == "__main__":
    main()
