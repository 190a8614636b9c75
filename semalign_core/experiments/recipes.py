"""The zero-shot pneumonia recipe, in one place: ``semalign demo``, the zero-shot benchmark,
the example config and the tests all read it from here.

The task: label the Kermany chest X-rays normal vs. pneumonia with an ImageNet SqueezeNet 1.1
(which never saw text) translated into all-MiniLM-L6-v2's sentence space, using anchors that pair
train images with Open-i reports of their class. Every choice below was made on the train images
only, never on the test split: ridge ``alpha`` by the solver benchmark's cross-validation on the
400 train images (``benchmarks/bench_alpha.py``: 1000 gives the best held-out zero-shot balanced
accuracy at every anchor count >= 50), and ``l2+standard`` source normalisation by cross-validation
on the anchor pool with the held-out train images perturbed (gamma, contrast, blur, zoom) as a
stand-in for the shift between acquisition sites. On unperturbed train cross-validation hundreds
of variants tie within 0.003 balanced accuracy, so robustness to such shifts decided.

:data:`PNEUMONIA_RECIPE`
    Solver, ridge ``alpha``, space normalisers, anchor selector, pairing (``k`` reports averaged per
    anchor, half of each class's reports held out for the class embeddings).
:data:`PNEUMONIA_PROMPTS`
    Hand-written Open-i-style prompts, written before looking at any result.
:func:`pneumonia_zero_shot_config`
    The whole experiment as a config mapping for :func:`~.config.parse_config`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["PNEUMONIA_PROMPTS", "PNEUMONIA_RECIPE", "pneumonia_zero_shot_config"]

#: The tuned choices (train-only cross-validation).
PNEUMONIA_RECIPE: dict[str, Any] = {
    "solver": "affine",
    "alpha": 1000.0,
    # L2 first removes each image's overall feature scale (exposure, contrast), which varies
    # between sites more than between classes; then standardise on the anchors
    "source_norm": "l2+standard",
    "target_norm": "center",
    "selector": "stratified",
    # each anchor image is paired with the unit mean of k impressions of its class: one report
    # describes one other patient; the mean of a few describes the class, which is all the
    # class-level pairing knows
    "k": 10,
    # half of each class's reports (re-drawn per seed) never pair with an anchor; they build
    # the class embeddings together with the prompts
    "holdout": 0.5,
    "report_section": "impression",
    "ensemble": "raw",
}

#: Written before looking at any result; Open-i impression style.
PNEUMONIA_PROMPTS: dict[str, list[str]] = {
    "normal": ["No acute cardiopulmonary abnormality.", "No acute cardiopulmonary disease.",
               "The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.",
               "Normal chest x-ray.",
               "Heart size and mediastinal contours are normal. Lungs are clear.",
               "No active disease.", "No focal airspace disease.",
               "Clear lungs without infiltrate."],
    "pneumonia": ["Focal airspace consolidation consistent with pneumonia.",
                  "Findings consistent with pneumonia.", "Right lower lobe pneumonia.",
                  "Left lower lobe airspace disease concerning for pneumonia.",
                  "Patchy bilateral infiltrates compatible with pneumonia.",
                  "There is consolidation in the lung base.",
                  "Airspace opacity suspicious for infection.",
                  "Bilateral airspace disease and infiltrate."],
}


def pneumonia_zero_shot_config(*, kermany: str | os.PathLike[str],
                               openi_reports: str | os.PathLike[str],
                               vision_weights: str | os.PathLike[str],
                               output_dir: str | os.PathLike[str] | None = None,
                               anchors: int | Sequence[int] = 100,
                               seeds: Sequence[int] = (0, 1, 2, 3, 4),
                               cache_dir: str | os.PathLike[str] | None = None,
                               bootstrap: int = 1000, device: str = "cpu",
                               progress: bool = False,
                               calibration: str = "none") -> dict[str, Any]:
    """The pneumonia zero-shot experiment as a config mapping (see docs/experiments.md).

    Parameters
    ----------
    kermany : path
        Kermany images folder (``labels.csv`` layout or ``<split>/<class>/``).
    openi_reports : path
        ``NLMCXR_reports.tgz``.
    vision_weights : str or path
        A local SqueezeNet 1.1 state dict, or a torchvision weights name (``IMAGENET1K_V1``).
    output_dir : path, optional
        Report folder (default: ``<per-user runs folder>/<name>``, see
        :func:`semalign_core.locations.default_run_dir`).
    anchors : int or sequence of int
    seeds : sequence of int
        Anchor draws (and report pairings); results are averaged over them.
    cache_dir : path, optional
        Embedding cache (default: the per-user cache, see
        :func:`semalign_core.locations.default_cache_dir`).
    bootstrap : int
        Bootstrap resamples per confidence interval.
    device : str
        Where the encoders run.
    progress : bool
        Show encoding progress bars.
    calibration : {"none", "gmm"}
        ``"gmm"`` fits the decision threshold to the unlabeled test batch (transductive, opt-in;
        see docs/zeroshot.md).
    """
    r = PNEUMONIA_RECIPE
    reports = {"name": "openi", "root": str(openi_reports),
               "options": {"section": r["report_section"]}}
    config: dict[str, Any] = {
        "name": "zero-shot pneumonia (SqueezeNet -> MiniLM)",
        "description": "Zero-shot normal vs. pneumonia on Kermany chest X-rays: an ImageNet "
                       "SqueezeNet 1.1 that never saw text, aligned to all-MiniLM-L6-v2 with "
                       "anchors paired with Open-i reports of their class.",
        "encoders": {
            "source": {"name": "torchvision-squeezenet1_1",
                       "options": {"weights": str(vision_weights), "device": device,
                                   "progress": progress}},
            "target": {"name": "all-minilm-l6-v2", "options": {"device": device}},
        },
        "anchors": {
            "dataset": {"name": "kermany", "root": str(kermany), "split": "train"},
            "count": anchors if isinstance(anchors, int) else list(anchors),
            "selector": {"name": r["selector"]},
            "texts": {"dataset": reports, "k": r["k"], "holdout": r["holdout"]},
        },
        "translator": {"solver": r["solver"], "params": {"alpha": r["alpha"]},
                       "source_norm": r["source_norm"],
                       "target_norm": r["target_norm"]},
        "task": {"kind": "zero-shot", "prompts": PNEUMONIA_PROMPTS,
                 "class_texts": {"holdout": True}, "ensemble": r["ensemble"],
                 "positive_label": "pneumonia", "calibration": calibration},
        "evaluation": {"dataset": {"name": "kermany", "root": str(kermany), "split": "test"},
                       "bootstrap": bootstrap},
        "seeds": list(seeds),
    }
    if output_dir is not None:
        config["output_dir"] = str(output_dir)
    if cache_dir is not None:
        config["cache_dir"] = str(cache_dir)
    return config
