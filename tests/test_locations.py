"""Default folders: one embedding cache per user, run outputs outside the checkout, and config
paths whose variables cannot be expanded say what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from semalign_core.locations import cache_root, default_cache_dir, default_run_dir, default_runs_dir

VARIABLES = ("SEMALIGN_CACHE_DIR", "SEMALIGN_RUNS_DIR", "XDG_CACHE_HOME", "XDG_DATA_HOME")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_defaults_live_under_the_home_folder(home):
    assert cache_root() == home / ".cache" / "semalign"
    assert default_cache_dir() == home / ".cache" / "semalign" / "embeddings"
    assert default_runs_dir() == home / ".local" / "share" / "semalign" / "runs"


def test_xdg_base_directories_are_honoured_and_relative_ones_ignored(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
    assert default_cache_dir() == tmp_path / "xc" / "semalign" / "embeddings"
    assert default_runs_dir() == tmp_path / "xd" / "semalign" / "runs"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid per the XDG spec
    assert default_cache_dir() == home / ".cache" / "semalign" / "embeddings"


def test_semalign_variables_win(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    monkeypatch.setenv("SEMALIGN_CACHE_DIR", str(tmp_path / "emb"))
    monkeypatch.setenv("SEMALIGN_RUNS_DIR", "~/my-runs")
    assert default_cache_dir() == tmp_path / "emb"
    assert default_runs_dir() == home / "my-runs"


@pytest.mark.parametrize(("name", "folder"), [
    ("zero-shot pneumonia (SqueezeNet -> MiniLM)", "zero-shot-pneumonia-squeezenet-minilm"),
    ("My Run #2", "my-run-2"), ("???", "experiment")])
def test_run_folder_is_named_after_the_experiment(home, name, folder):
    assert default_run_dir(name) == default_runs_dir() / folder


def test_data_downloads_share_the_cache_root(home, tmp_path, monkeypatch):
    from semalign_core.data.sources import data_dir

    monkeypatch.delenv("SEMALIGN_DATA_DIR", raising=False)
    assert data_dir() == cache_root() / "datasets"
    monkeypatch.setenv("SEMALIGN_DATA_DIR", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"


# -- config paths -------------------------------------------------------------------------------
def test_a_config_without_output_or_cache_dir_uses_the_defaults(home, tmp_path):
    pytest.importorskip("pydantic")
    from test_config import base_config

    from semalign_core.experiments.config import parse_config

    data = base_config()
    data.pop("output_dir", None)
    data.pop("cache_dir", None)
    config = parse_config({**data, "name": "Tiny Run"}, base_dir=tmp_path)
    assert config.resolved_output_dir() == default_runs_dir() / "tiny-run"
    assert config.resolved_cache_dir() == default_cache_dir()
    config = parse_config({**data, "output_dir": "out", "cache_dir": "c"}, base_dir=tmp_path)
    assert config.resolved_output_dir() == tmp_path / "out"
    assert config.resolved_cache_dir() == tmp_path / "c"


def test_an_unset_variable_in_a_path_is_named(tmp_path, monkeypatch):
    pytest.importorskip("pydantic")
    from semalign_core.experiments.config import ConfigError, resolve_path

    monkeypatch.delenv("SEMALIGN_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="SEMALIGN_NOT_SET, which is not set"):
        resolve_path("${SEMALIGN_NOT_SET}/data", tmp_path)


def test_a_missing_shared_folder_says_where_it_was_looked_for(tmp_path, monkeypatch):
    pytest.importorskip("pydantic")
    import semalign_core.data.sources as sources
    from semalign_core.experiments.config import ConfigError, resolve_path

    monkeypatch.delenv("SEMALIGN_SHARED_DIR", raising=False)
    monkeypatch.setattr(sources, "_REPO_ROOT", tmp_path / "clone")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_path("${SEMALIGN_SHARED_DIR}/data/kermany-cxr", tmp_path / "examples")
    message = str(info.value)
    assert "${SEMALIGN_SHARED_DIR}" in message and "not set" in message
    assert "no shared-data folder found" in message and str(tmp_path / "shared") in message
