"""Which defaults should a user who composes the zero-shot parts get? Measured on train images only.

The user of the issue: ``Translator("affine")`` with its default arguments, each anchor image
paired with **one** Open-i report of its class, and **two** prompts per class, scored by
``ZeroShotClassifier`` with its default arguments. Against them, the tuned recipe
(:mod:`semalign_core.experiments.recipes`: ridge alpha 1000, ``l2+standard`` source, ``center``
target, ten reports per anchor, eight prompts plus the held-out reports per class).

Train-only cross-validation, the rule the recipe study followed: per seed, 100 stratified
anchors from the 400 Kermany train images; zero-shot on the **other 300 train images**; the
624 test images are never read. The rows vary where images and class vectors are compared
(``space``) and how the prompts are ensembled (in that space: ``PromptSet``; or in the raw text
space: ``ClassEmbeddings``), everything else at its default.

Run (about a minute with a warm cache; the first run encodes 400 images and ~1500 reports)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_zeroshot_defaults.py --seeds 10

Prints one row per variant: balanced accuracy and AUROC, mean +- sd over the seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

N_ANCHORS = 100
POSITIVE = "pneumonia"


def load(shared_dir: str | None, cache_dir: Path) -> dict[str, Any]:
    """Train images, labelled report impressions and the prompts, encoded through the cache."""
    from semalign_core import get_dataset, get_encoder
    from semalign_core.data.sources import find_shared_dir, shared_demo_inputs
    from semalign_core.encoding.cache import encode_cached
    from semalign_core.experiments.recipes import PNEUMONIA_PROMPTS

    inputs = shared_demo_inputs(find_shared_dir(shared_dir))
    train = get_dataset("kermany", inputs.kermany).filter(split="train")
    reports = get_dataset("openi", inputs.openi_reports, section="impression").filter(
        has=("text", "labels"))
    reports = reports.subset([r.id for r in reports if len(r.labels) == 1])
    image = get_encoder("torchvision-squeezenet1-1", weights=inputs.vision_weights, device="cpu")
    text = get_encoder("st-all-minilm-l6-v2-text", device="cpu")
    prompts = [p for v in PNEUMONIA_PROMPTS.values() for p in v]
    return {"images": encode_cached(image, train.items("image"), cache_dir, ids=train.ids),
            "labels": np.asarray(train.labels()),
            "reports": encode_cached(text, reports.items("text"), cache_dir, ids=reports.ids),
            "report_labels": {r.id: r.labels[0] for r in reports},
            "prompts": encode_cached(text, prompts, cache_dir, ids=prompts)}


def anchor_targets(data: dict[str, Any], anchors: np.ndarray, k: int, holdout: float,
                   seed: int) -> tuple[Any, dict[str, list[str]]]:
    """Each anchor's target: the unit mean of ``k`` reports of its class (and the held-out ids)."""
    from semalign_core import Embeddings
    from semalign_core.experiments.pairing import pair_by_label, split_texts
    from semalign_core.zeroshot.class_embeddings import unit_mean

    pairing, held = split_texts(data["report_labels"], holdout, seed)
    chosen = pair_by_label(data["labels"][anchors].tolist(), pairing, k=k, seed=seed)
    vectors = np.stack([unit_mean(data["reports"].subset(ids).vectors) for ids in chosen])
    ids = [data["images"].ids[i] for i in anchors]
    return Embeddings(vectors.astype(np.float32), ids, data["reports"].fingerprint), held


def score(clf: Any, images: Any, labels: np.ndarray) -> tuple[float, float]:
    from semalign_core.evaluation.metrics import auroc, balanced_accuracy

    S = clf.decision_scores(images)
    columns = list(clf.classes_)
    margin = S[:, columns.index(POSITIVE)] - S[:, 1 - columns.index(POSITIVE)]
    return (balanced_accuracy(labels, clf.classes_[S.argmax(axis=1)]),
            auroc(labels, margin, pos_label=POSITIVE))


def one_seed(data: dict[str, Any], seed: int) -> dict[str, tuple[float, float]]:
    from semalign_core import (
        ClassEmbeddings,
        PromptSet,
        Translator,
        ZeroShotClassifier,
        get_anchor_selector,
    )
    from semalign_core.experiments.recipes import PNEUMONIA_PROMPTS, PNEUMONIA_RECIPE

    y = data["labels"]
    anchors = get_anchor_selector("stratified", seed=seed).select(
        data["images"].vectors, N_ANCHORS, labels=y)
    rest = np.setdiff1d(np.arange(len(y)), anchors)
    images, y_rest = data["images"].subset(rest), y[rest]
    out: dict[str, tuple[float, float]] = {}
    # -- the composing user: defaults, one report per anchor, two prompts per class
    targets, _ = anchor_targets(data, anchors, k=1, holdout=0.0, seed=seed)
    plain = Translator("affine").fit(data["images"].subset(anchors), targets)
    two = PromptSet({c: p[:2] for c, p in PNEUMONIA_PROMPTS.items()})
    raw_two = ClassEmbeddings.from_prompts(two, data["prompts"])
    for space in ("normalized", "centered", "raw"):
        out[f"defaults, PromptSet, space={space}"] = score(
            ZeroShotClassifier(plain, data["prompts"], two, space=space, device="cpu"),
            images, y_rest)
        out[f"defaults, ClassEmbeddings, space={space}"] = score(
            ZeroShotClassifier(plain, raw_two, space=space, device="cpu"), images, y_rest)
    # -- the tuned recipe (what `semalign run` does on the recipe config)
    r = PNEUMONIA_RECIPE
    targets, held = anchor_targets(data, anchors, k=r["k"], holdout=r["holdout"], seed=seed)
    tuned = Translator(r["solver"], source_norm=r["source_norm"], target_norm=r["target_norm"],
                       solver_params={"alpha": r["alpha"]}).fit(
        data["images"].subset(anchors), targets)
    classes = (ClassEmbeddings.from_prompts(PNEUMONIA_PROMPTS, data["prompts"])
               + ClassEmbeddings.from_texts(held, data["reports"], name="held_out_reports"))
    for space in ("normalized", "centered"):
        out[f"tuned recipe, space={space}"] = score(
            ZeroShotClassifier(tuned, classes, space=space, device="cpu"), images, y_rest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="anchor draws (seeds 100, 101...)")
    parser.add_argument("--shared-dir")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "semalign" / "bench_zeroshot")
    args = parser.parse_args(argv)
    data = load(args.shared_dir, args.cache_dir)
    runs = [one_seed(data, 100 + s) for s in range(args.seeds)]  # not the test seeds 0-4
    print(f"train-only CV: {N_ANCHORS} stratified anchors of {len(data['labels'])} train images, "
          f"scored on the other {len(data['labels']) - N_ANCHORS}; {args.seeds} seeds")
    print(f"{'variant':<46} | balanced accuracy | AUROC")
    for name in runs[0]:
        ba, au = np.array([run[name] for run in runs]).T
        print(f"{name:<46} | {ba.mean():.3f} +- {ba.std(ddof=1):.3f}    | "
              f"{au.mean():.3f} +- {au.std(ddof=1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
