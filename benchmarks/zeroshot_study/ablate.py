"""Step 4: one-factor-at-a-time ablations around a base config (FINDINGS rounds 1 and 2).

CV = fit on 100 anchors drawn from the 400-image train pool, evaluate zero-shot on the other 300
train images (20 draws, seeds 100-119). Test = the 624 test images (anchor seeds 0-4), reported
alongside but never used to choose.

Usage::

    python ablate.py r1            # round 1: around the design-notes baseline (lib.DEFAULT)
    python ablate.py r2            # round 2: around {meank k=5, hand8+repmean, alpha=gcv}
    python ablate.py TAG '{"alpha": 300.0}'   # any other base (JSON overrides of lib.DEFAULT)

Writes ``$SEMALIGN_STUDY_DIR/ablate_<TAG>.json`` and prints the markdown table of FINDINGS.md.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from lib import DEFAULT, evaluate, fmt
from study_paths import study_dir

ROUNDS = {
    "r1": {},
    "r2": {"pairing": "meank", "k": 5, "classemb": "hand8+repmean", "alpha": "gcv"},
}
GRID = [
    ("section", ["imp", "find", "both"]),
    ("pairing", ["rand1", "meank", "classmean"]),
    ("classemb", ["hand2", "hand8", "names", "repmean", "hand8+repmean"]),
    ("k", [2, 5, 10, 20, 50]),
    ("map", ["ridge", "procrustes", "lstsq"]),
    ("alpha", [1, 10, 30, 100, 300, 1000, 3000, 1e4, 1e5, "gcv", "looauc"]),
    ("src_pre", ["none", "center", "standard", "l2std"]),
    ("tgt_pre", ["none", "center", "standard"]),
    ("selector", ["random", "strat", "kmeans"]),
    ("calib", ["zero", "loo_mid", "loo_bacc", "insample_mid", "trans_gmm"]),
]


def markdown(rows):
    lines = [
        "| variant | train-CV bacc / AUROC (20 draws) | test bacc / AUROC (seeds 0-4) |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['key']}={r['val']} | {r['cv_bacc'][0]:.3f} / {r['cv_auc'][0]:.3f} | "
            f"{r['test_bacc'][0]:.3f}±{r['test_bacc'][1]:.3f} / "
            f"{r['test_auc'][0]:.3f}±{r['test_auc'][1]:.3f} |"
        )
    return "\n".join(lines)


def main(argv):
    if not argv or (argv[0] not in ROUNDS and len(argv) < 2):
        sys.exit(__doc__)
    tag = argv[0]
    base = dict(DEFAULT)
    base.update(ROUNDS.get(tag, {}))
    if len(argv) > 1:
        base.update(json.loads(argv[1]))
    print("base:", json.dumps(base))
    rows = []
    for key, vals in GRID:
        if key == "k" and base["pairing"] != "meank":
            continue  # k only acts on the mean-of-k pairing (round 1 has no k rows)
        for v in vals:
            o = evaluate(base, **{key: v})
            al = o["cv"]["alpha"]
            extra = ""
            if isinstance(v, str) and key == "alpha":  # per-draw alpha: report the typical pick
                extra = f" (alpha median {np.median(al):g})"
            print(f"{key:9s}= {v!s:14s} {fmt(o)}{extra}", flush=True)
            rows.append(dict(key=key, val=str(v), cv_bacc=o["cv"]["bacc"], cv_auc=o["cv"]["auc"],
                             test_bacc=o["test"]["bacc"], test_auc=o["test"]["auc"]))
    with open(study_dir() / f"ablate_{tag}.json", "w") as fh:
        json.dump(dict(base=base, rows=rows), fh, indent=1)
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
