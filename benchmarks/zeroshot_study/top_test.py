"""Step 6: test numbers of the top-10 clean-CV configs (reporting only; selection was by CV),
plus variants of the clean-CV winner. Needs ``grid_cv.json`` from ``grid.py``."""

from __future__ import annotations

import json

import numpy as np
from lib import evaluate, fmt
from study_paths import study_dir

CV40 = range(100, 140)


def main():
    with open(study_dir() / "grid_cv.json") as fh:
        res = json.load(fh)
    res.sort(key=lambda r: -(np.mean(r["bacc"]) + np.mean(r["auc"])))
    win = np.array(res[0]["bacc"]) + np.array(res[0]["auc"])
    for r in res[:10]:
        c = r["cfg"]
        o = evaluate(c, cv_seeds=None)
        d = np.array(r["bacc"]) + np.array(r["auc"]) - win
        name = (f"{c['section']} {c['pairing']}{c['k']} {c['classemb']} a={c['alpha']} "
                f"{c['src_pre']}")
        print(f"CV {np.mean(r['bacc']):.3f}/{np.mean(r['auc']):.3f} (paired diff vs #1 "
              f"{d.mean():+.4f}±{d.std() / np.sqrt(len(d)):.4f})  {fmt(o)}  {name}")
    W = res[0]["cfg"]
    print("winner:", W)
    for cal in ["zero", "loo_mid", "loo_bacc", "trans_gmm"]:
        print(f"calib={cal:10s}", fmt(evaluate(W, cv_seeds=CV40, calib=cal)))
    print("trans_src  ", fmt(evaluate(W, cv_seeds=CV40, trans_src=True)))
    print("trans_src+gmm", fmt(evaluate(W, cv_seeds=CV40, trans_src=True, calib="trans_gmm")))
    for sel in ["random", "kmeans"]:
        print(f"selector={sel}", fmt(evaluate(W, cv_seeds=CV40, selector=sel)))
    print("procrustes", fmt(evaluate(W, cv_seeds=CV40, map="procrustes")))
    print("tgt standard", fmt(evaluate(W, cv_seeds=CV40, tgt_pre="standard")))
    print("tgt none", fmt(evaluate(W, cv_seeds=CV40, tgt_pre="none")))
    print("find section", fmt(evaluate(W, cv_seeds=CV40, section="find")))


if __name__ == "__main__":
    main()
