"""Fixtures for the BioViL / CXR-BERT plugin tests: small checkpoints in the reference layouts,
written at run time, and a few shared Kermany images."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from biovil_testutils import write_random_image_checkpoint, write_text_checkpoint

# A hub call without these hangs for 30 s or more before failing; no test may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[3]

def shared_dir() -> Path:
    return Path(os.environ.get("SEMALIGN_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def kermany() -> list[Path]:
    """Six shared Kermany test images (3 normal, 3 pneumonia), or skip."""
    root = shared_dir() / "data" / "kermany-cxr"
    labels = root / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"shared Kermany data not found at {root}; set SEMALIGN_SHARED_DIR")
    rows = [line.split(",") for line in labels.read_text().splitlines()[1:]]
    picked = ([r for r in rows if r[1] == "test" and r[2] == "normal"][:3]
              + [r for r in rows if r[1] == "test" and r[2] == "pneumonia"][:3])
    return [root / r[0] for r in picked]


@pytest.fixture(scope="session")
def kermany_labels(kermany: list[Path]) -> list[str]:
    return [p.parent.name for p in kermany]


@pytest.fixture
def text_checkpoint(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "cxr-bert", **kwargs: Any) -> Path:
        return write_text_checkpoint(tmp_path / name, **kwargs)

    return make


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_text_checkpoint(tmp_path_factory.mktemp("cxr-bert") / "tiny")


@pytest.fixture(scope="session")
def resnet18_image_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_image_checkpoint(tmp_path_factory.mktemp("biovil") / "r18.pt",
                                         backbone="resnet18")


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Offline, an empty hub cache, no $SEMALIGN_WEIGHTS_DIR, an empty temp dir."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("SEMALIGN_WEIGHTS_DIR", raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    return cache
