"""The import-linter contracts the lint env runs, and the custom lazy-imports contract type."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

REPO = Path(__file__).resolve().parent.parent
# The contract type lives in the repository's tools/ (lint-imports runs from the repository root,
# which puts it on sys.path); tox envs install only the packages, so put the root there too.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.importlinter_contracts import eager_imports  # noqa: E402

SOURCE = '''\
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import torch                        # 4: module level
from ray.util import queue          # 5: module level, from-import of a subpackage
if TYPE_CHECKING:
    import torch.nn                 # never runs
else:
    import ray                      # 9: runs
try:
    import torch.cuda               # 11: runs at import
except ImportError:
    import ray.data                 # 13: runs when the first fails
class Holder:
    import torch as _t              # 15: a class body runs at import
    def method(self):
        import torch                # inside a function: fine
def function():
    import ray
    from torch import nn
    return lambda: __import__("torch")
from . import torch as sibling      # a relative import is the package's own module
import torchvision                  # another package that only shares the prefix
'''


def test_eager_imports_finds_exactly_the_imports_that_run_at_import_time(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(SOURCE)
    found = eager_imports("pkg.mod", path, {"torch", "ray"})
    assert [(item.line_number, item.imported) for item in found] == [
        (4, "torch"), (5, "ray.util"), (9, "ray"), (11, "torch.cuda"), (13, "ray.data"),
        (15, "torch")]
    assert found[0].line.startswith("import torch")


def _lint(config: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("lint-imports is not on PATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(REPO)])}
    return subprocess.run([exe, "--config", str(config), "--no-cache"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_lazy_imports_contract_breaks_on_a_module_level_import(tmp_path):
    package = tmp_path / "lazydemo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ok.py").write_text("def f():\n    import torch\n    return torch\n")
    (package / "bad.py").write_text("import torch\n")
    config = tmp_path / "contracts.toml"
    config.write_text(textwrap.dedent('''\
        [tool.importlinter]
        root_package = "lazydemo"
        contract_types = ["lazy_imports: tools.importlinter_contracts.LazyImportsContract"]

        [[tool.importlinter.contracts]]
        name = "lazy torch"
        type = "lazy_imports"
        source_modules = ["lazydemo"]
        lazy_modules = ["torch"]
        '''))
    result = _lint(config, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "lazydemo.bad:1 imports torch at import time" in result.stdout
    assert "lazydemo.ok" not in result.stdout


@pytest.mark.slow
def test_the_core_keeps_every_contract():
    result = _lint(REPO / "pyproject.toml", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout
