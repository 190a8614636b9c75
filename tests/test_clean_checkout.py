"""The README's main job and the example config, run in a fresh clone, leave it clean.

Reports go to the per-user runs folder and embeddings to the per-user cache, never into the
checkout. The clone gets a private HOME, so the defaults are what is tested; only the
embedding cache is pointed at the test suite's warm cache (``SEMALIGN_CACHE_DIR``), which
``tests/test_zeroshot_real.py`` shares, so the images are encoded once per machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _semalign() -> list[str]:
    script = Path(sys.executable).with_name("semalign")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "semalign_core.cli.main"]


def _clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    inside = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True,
                   timeout=300)
    return clone


def _porcelain(clone: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.shared_data
def test_readme_main_job_and_example_config_leave_the_clone_clean(tmp_path, shared,
                                                                   warm_embedding_cache):
    from semalign_core import list_anchor_selectors, list_encoders, list_solvers

    missing = ({"torchvision-squeezenet1_1", "all-minilm-l6-v2"} - set(list_encoders(aliases=True))
               | {"affine"} - set(list_solvers()) | {"stratified"} - set(list_anchor_selectors()))
    if missing:
        pytest.skip(f"plugins not installed: {sorted(missing)}")
    clone = _clone(tmp_path)
    assert _porcelain(clone) == ""
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items()
           if key not in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "SEMALIGN_RUNS_DIR")}
    env.update(HOME=str(home), SEMALIGN_CACHE_DIR=str(warm_embedding_cache),
               SEMALIGN_SHARED_DIR=str(shared))
    for command in (["demo"], ["run", "examples/pneumonia_zero_shot.yaml"]):
        proc = subprocess.run([*_semalign(), *command], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert _porcelain(clone) == "", f"`semalign {' '.join(command)}` dirtied the clone"
    runs = home / ".local" / "share" / "semalign" / "runs"
    assert (runs / "demo" / "summary.md").is_file()
    assert (runs / "zero-shot-pneumonia-squeezenet-minilm" / "summary.md").is_file()
    assert any(warm_embedding_cache.iterdir()), "the runs did not use the given cache"
