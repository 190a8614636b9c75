"""docs/writing-plugins.md's plugin, copied literally from the page, builds and loads.

The page's code blocks whose first line is a ``# <path>`` comment are the plugin's files; this
test writes them into a fresh folder, builds a wheel with pip (no network: no build isolation,
the venv's setuptools), and checks that semalign finds and loads the plugin from that wheel.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "writing-plugins.md"
FILE_BLOCK = re.compile(r"^```(?:toml|python)\n# (\S+)\n(.*?)^```", re.S | re.M)


def _documented_files() -> dict[str, str]:
    return {path: body for path, body in FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def test_the_page_shows_the_whole_plugin():
    assert set(_documented_files()) == {"pyproject.toml", "src/semalign_myplugin/__init__.py"}


@pytest.mark.slow
def test_the_documented_plugin_builds_and_loads_as_written(tmp_path):
    pytest.importorskip("setuptools")
    root = tmp_path / "semalign-myplugin"
    for relative, body in _documented_files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    (root / "src" / "semalign_myplugin" / "py.typed").touch()  # "plus an empty py.typed"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "dist"), str(root)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("semalign_myplugin-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"semalign_myplugin/__init__.py", "semalign_myplugin/py.typed"} <= names
        entry_points = archive.read("semalign_myplugin-0.1.0.dist-info/entry_points.txt")
    assert "[semalign]\nmyplugin = semalign_myplugin" in entry_points.decode()

    # The wheel on sys.path is found like an installed distribution (importlib.metadata reads
    # zip entries): semalign lists it as loaded, with the solver it registers.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(wheel), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("SEMALIGN_LOAD_PLUGINS", None)
    env.pop("SEMALIGN_DISABLE_PLUGINS", None)
    listing = subprocess.run([sys.executable, "-m", "semalign_core.cli.main", "plugins", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert listing.returncode == 0, listing.stderr
    info = next(p for p in json.loads(listing.stdout) if p["name"] == "semalign-myplugin")
    assert info["status"] == "loaded", info
    assert info["registered"] == {"solver": ["myplugin-scale"]}
