"""The embeddings the method, stitching and retrieval benchmarks share, encoded through semalign.

- **images**: the 1024 Kermany chest X-rays of the shared folder (400 train = anchor pool, 624
  official test), ImageNet SqueezeNet 1.1 (``torchvision-squeezenet1-1``, 512-d), through
  :func:`semalign_core.data.kermany_manifest`;
- **reports**: the Open-i reports labelled normal / pneumonia from their MeSH tags
  (:func:`semalign_core.data.openi_manifest`, impression section), all-MiniLM-L6-v2
  (``st-all-minilm-l6-v2-text``, 384-d);
- **prompts**: the pneumonia recipe's hand-written class prompts
  (:data:`semalign_core.experiments.recipes.PNEUMONIA_PROMPTS`), same text encoder.

Everything goes through semalign's content-addressed embedding cache (``--cache-dir``, default
``~/.cache/semalign/bench_cxr``), so the second run encodes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CxrEmbeddings:
    """Kermany image embeddings (train / test), Open-i report embeddings, prompt embeddings."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    report_y: np.ndarray  # one class per report
    report_v: np.ndarray
    report_ids: list[str]
    prompts: dict[str, np.ndarray]  # class -> (n_prompts, 384)
    source_fingerprint: object
    target_fingerprint: object


def default_cache() -> Path:
    return Path.home() / ".cache" / "semalign" / "bench_cxr"


def load(shared_dir: str | Path | None = None, cache_dir: str | Path | None = None,
         device: str = "cpu") -> CxrEmbeddings:
    """Encode (or read from the cache) everything the benchmarks use."""
    from semalign_core import get_encoder
    from semalign_core.data import kermany_manifest, openi_manifest
    from semalign_core.data.sources import find_shared_dir, shared_demo_inputs
    from semalign_core.encoding.cache import encode_cached
    from semalign_core.experiments.recipes import PNEUMONIA_PROMPTS

    inputs = shared_demo_inputs(find_shared_dir(shared_dir))
    cache = Path(cache_dir) if cache_dir is not None else default_cache()
    images = kermany_manifest(inputs.kermany)
    reports = openi_manifest(inputs.openi_reports, section="impression")
    vision = get_encoder("torchvision-squeezenet1-1", weights=inputs.vision_weights,
                         device=device)
    text = get_encoder("st-all-minilm-l6-v2-text", device=device)
    img = encode_cached(vision, images.items("image"), cache, ids=images.ids)
    rep = encode_cached(text, reports.items("text"), cache, ids=reports.ids)
    prompts = {c: encode_cached(text, p, cache).vectors for c, p in PNEUMONIA_PROMPTS.items()}
    split = np.array([r.split for r in images])
    labels = images.labels()
    return CxrEmbeddings(img.vectors[split == "train"], labels[split == "train"],
                         img.vectors[split == "test"], labels[split == "test"],
                         reports.labels(), rep.vectors, reports.ids, prompts,
                         img.fingerprint, rep.fingerprint)


def stratified_anchors(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` pool indices, as balanced over the classes as the pool allows (seeded)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = [n // len(classes) + (i < n % len(classes)) for i in range(len(classes))]
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=False)
                                   for c, k in zip(classes, per, strict=True)]))


def class_pairing(anchor_y: np.ndarray, report_y: np.ndarray, report_v: np.ndarray, *,
                  k: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-level anchor targets (the pneumonia recipe's pairing) and the held-out reports.

    Half (``holdout``) of each class's reports, re-drawn per seed, never pair; each anchor image
    is paired with the unit mean of ``k`` random other reports of its class. Returns the
    (n_anchors, 384) targets and the boolean mask of held-out reports.
    """
    rng = np.random.default_rng(seed)
    held = np.zeros(len(report_y), bool)
    pools = {}
    for c in np.unique(report_y):
        members = rng.permutation(np.flatnonzero(report_y == c))
        cut = round(holdout * len(members))
        held[members[:cut]] = True
        pools[c] = members[cut:]
    targets = []
    for c in anchor_y:
        chosen = rng.choice(pools[c], k, replace=False)
        mean = report_v[chosen].mean(axis=0)
        targets.append(mean / np.linalg.norm(mean))
    return np.asarray(targets, np.float32), held
