"""Plugins installed only through the ``semalign`` entry-point group, in a subprocess.

Each test builds throwaway distributions in a temporary directory, pip-installs them into a
private ``--target`` folder and runs ``semalign plugins --json`` with that folder on the path, so
the test environment itself is never modified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GOOD = """
from semalign_core import hookimpl
from semalign_core.align.identity import IdentitySolver

class Copy(IdentitySolver):
    name = "throwaway-copy"

@hookimpl
def register_solvers(register):
    register("throwaway-copy", Copy, aliases=("tc",))
"""

BROKEN = """
raise ImportError("this plugin needs libfoo")
"""

DUPLICATE = """
from semalign_core import hookimpl
from semalign_core.align.identity import IdentitySolver

@hookimpl
def register_solvers(register):
    register("throwaway-copy", IdentitySolver)
"""


def _make_dist(root: Path, dist: str, source: str) -> Path:
    module = dist.replace("-", "_")
    project = root / dist
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(textwrap.dedent(source))
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "1.2.3"

        [project.entry-points.semalign]
        {module} = "{module}"

        [tool.setuptools]
        packages = ["{module}"]
    """))
    return project


def _install(tmp_path: Path, dists: dict[str, str]) -> Path:
    target = tmp_path / "site"
    projects = [str(_make_dist(tmp_path / "src", name, source)) for name, source in dists.items()]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), *projects],
                   check=True, capture_output=True, text=True)
    return target


def _semalign(target: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(target), os.environ.get("PYTHONPATH", "")]), **env}
    for key in ("SEMALIGN_LOAD_PLUGINS", "SEMALIGN_DISABLE_PLUGINS"):
        if key not in env:
            environ.pop(key, None)
    code = "import sys; from semalign_core.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=environ, timeout=120)


def _by_name(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def _list_solvers(target: Path, **env: str) -> list[str]:
    code = "import json, semalign_core; print(json.dumps(semalign_core.list_solvers()))"
    environ = {**os.environ, "PYTHONPATH": str(target), **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environ, check=True)
    return json.loads(out.stdout)


def test_installed_plugin_shows_up_and_broken_one_is_reported(tmp_path: Path):
    target = _install(tmp_path, {"semalign-throwaway": GOOD, "semalign-broken": BROKEN})
    infos = _by_name(_semalign(target, "plugins", "--json"))
    good = infos["semalign-throwaway"]
    assert good["status"] == "loaded" and good["version"] == "1.2.3"
    assert good["hooks"] == ["register_solvers"]
    assert good["registered"] == {"solver": ["throwaway-copy"]}
    broken = infos["semalign-broken"]
    assert broken["status"] == "failed" and "needs libfoo" in broken["error"]
    assert "throwaway-copy" in _list_solvers(target)

    table = _semalign(target, "plugins")
    assert table.returncode == 0
    assert "semalign-throwaway" in table.stdout and "throwaway-copy" in table.stdout
    # The table wraps a failure's reason to the terminal width.
    assert ("failed (import failed: ImportError: this plugin needs libfoo)"
            in " ".join(table.stdout.split()))


def test_allow_and_deny_lists(tmp_path: Path):
    target = _install(tmp_path, {"semalign-throwaway": GOOD})
    denied = _by_name(_semalign(target, "plugins", "--json",
                                SEMALIGN_DISABLE_PLUGINS="semalign_throwaway"))
    assert denied["semalign-throwaway"]["status"] == "disabled"
    assert "throwaway-copy" not in _list_solvers(
        target, SEMALIGN_DISABLE_PLUGINS="semalign-throwaway")

    allowed = _by_name(_semalign(target, "plugins", "--json",
                                 SEMALIGN_LOAD_PLUGINS="semalign-throwaway"))
    assert allowed["semalign-throwaway"]["status"] == "loaded"
    nothing = _by_name(_semalign(target, "plugins", "--json", SEMALIGN_LOAD_PLUGINS=""))
    assert nothing["semalign-throwaway"]["status"] == "disabled"
    assert nothing["semalign_core.align.identity"]["status"] == "loaded"


def test_duplicate_name_fails_loading_naming_both(tmp_path: Path):
    target = _install(tmp_path, {"semalign-throwaway": GOOD, "semalign-copycat": DUPLICATE})
    result = _semalign(target, "plugins")
    assert result.returncode == 0  # the listing works; the duplicated name is flagged
    assert "semalign-throwaway" in result.stderr and "semalign-copycat" in result.stderr
    assert result.stderr.startswith("warning: solver name 'throwaway-copy' is registered by")
    # the error is scoped to that name: the alias and every other name still resolve
    solvers = _list_solvers(target)
    assert "identity" in solvers and "throwaway-copy" not in solvers
