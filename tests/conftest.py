"""Shared fixtures for the core and cross-plugin tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# A hub call without these hangs for 30 s or more before failing; no test may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = ["pytester"]  # tests/test_plugins.py runs the fixtures in an inner session

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``../shared`` beside the checkout, or ``$SEMALIGN_SHARED_DIR``."""
    return Path(os.environ.get("SEMALIGN_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "data").is_dir():
        pytest.skip(f"shared data not found at {path}; set SEMALIGN_SHARED_DIR")
    return path
