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


def running_in_ci() -> bool:
    """``CI`` set to anything but empty/0/false/no (what CI services and .ci/run export)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Locally the real-data tests skip without ../shared; in CI that would turn the acceptance
    # tests into silent skips and the run green, so a missing shared folder stops the run.
    path = shared_dir()
    if running_in_ci() and not (path / "data").is_dir():
        raise pytest.UsageError(
            f"CI is set but the shared data folder {path} has no data/ sub-folder: the "
            f"real-data tests would all be skipped. Put the shared folder beside the checkout "
            f"or set SEMALIGN_SHARED_DIR (unset CI to let those tests skip)")


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "data").is_dir():
        pytest.skip(f"shared data not found at {path}; set SEMALIGN_SHARED_DIR")
    return path


@pytest.fixture(autouse=True)
def _private_default_folders(tmp_path_factory: pytest.TempPathFactory,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes into the user's embedding cache or runs folder by accident, and no test
    sees what another test left in the default cache (a folder of its own per test)."""
    base = tmp_path_factory.mktemp("defaults")
    monkeypatch.setenv("SEMALIGN_CACHE_DIR", str(base / "default-embedding-cache"))
    monkeypatch.setenv("SEMALIGN_RUNS_DIR", str(base / "default-runs"))


@pytest.fixture(scope="session")
def warm_embedding_cache(request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedding cache kept between test sessions (``$SEMALIGN_ZEROSHOT_CACHE``, or pytest's
    cache folder): the real-data tests encode the Kermany images once per machine."""
    env = os.environ.get("SEMALIGN_ZEROSHOT_CACHE")
    if env:
        return Path(env)
    if getattr(request.config, "cache", None) is None:  # -p no:cacheprovider
        return tmp_path_factory.mktemp("semalign-zeroshot-real")
    return Path(request.config.cache.mkdir("semalign-zeroshot-real"))
