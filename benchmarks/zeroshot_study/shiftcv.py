"""Step 7: shift-proxy CV and prior-shift CV around the clean-CV winner (train only).

Shift proxy: anchors clean, the held-out train images replaced by their perturbed features
(7 generic perturbations from ``embed_perturbed.py``), 20 draws each (seeds 100-119).
Prior-shift CV: the clean held-out train images subsampled to a normal fraction q of
25/37.5/62.5/75 % (40 draws), to show the class-prior sensitivity of the transductive variants.
Needs ``cache_pert.npz``.
"""

from __future__ import annotations

import numpy as np
from lib import DEFAULT, PERT, evaluate, run_seed

SEEDS = range(100, 120)
# the clean-CV winner of grid.py (imp, mean of 10 reports, hand8+repmean, alpha=300, standard)
W = dict(DEFAULT, pairing="meank", k=10, classemb="hand8+repmean", alpha=300.0)
VARIANTS = [
    ("winner(a=300)", {}),
    *[(f"alpha={a}", dict(alpha=a)) for a in [100.0, 1000.0, 3000.0, 1e4, "gcv"]],
    ("k=5", dict(k=5)),
    ("k=20", dict(k=20)),
    ("rand1", dict(pairing="rand1")),
    ("classmean", dict(pairing="classmean")),
    ("classemb=repmean", dict(classemb="repmean")),
    ("classemb=hand8", dict(classemb="hand8")),
    ("src l2std", dict(src_pre="l2std")),
    ("tgt none", dict(tgt_pre="none")),
    ("procrustes", dict(map="procrustes")),
    ("selector random", dict(selector="random")),
    ("calib loo_mid", dict(calib="loo_mid")),
    ("TRANS src", dict(trans_src=True)),
    ("TRANS gmm", dict(calib="trans_gmm")),
]


def pcv(c):
    """Mean bacc and AUROC over the 7 perturbed held-out sets, and bacc per perturbation."""
    b, a = [], []
    for p in PERT:
        cp = dict(c, pert=p)
        r = [run_seed(cp, s, "cv") for s in SEEDS]
        b.append(np.mean([x["bacc"] for x in r]))
        a.append(np.mean([x["auc"] for x in r]))
    return np.mean(b), np.mean(a), dict(zip(PERT, np.round(b, 3), strict=True))


def main():
    if not PERT:
        raise SystemExit("cache_pert.npz is missing: run embed_perturbed.py first")
    for name, v in VARIANTS:
        c = dict(W, **v)
        b, a, per = pcv(c)
        print(f"{name:18s} shiftCV bacc {b:.3f} auc {a:.3f}  {per}", flush=True)
    print("prior-shift CV (clean held-out subsampled to normal fraction q):")
    for name, v in [("winner", {}), ("TRANS src", dict(trans_src=True)),
                    ("TRANS gmm", dict(calib="trans_gmm"))]:
        row = []
        for q in [0.25, 0.375, 0.625, 0.75]:
            o = evaluate(dict(W, cv_prior=q, **v), cv_seeds=range(100, 140), test_seeds=None)
            row.append(f"q={q}: {o['cv']['bacc'][0]:.3f}/{o['cv']['auc'][0]:.3f}")
        print(f"{name:10s}", "  ".join(row), flush=True)


if __name__ == "__main__":
    main()
