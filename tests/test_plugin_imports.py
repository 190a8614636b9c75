"""Plugins import only the core's public API, exactly as a third-party author would.

Public means: the names in ``semalign_core.__all__``, the names in each subpackage ``__init__``'s
``__all__`` (``semalign_core.zeroshot``, ...), the encoder-plugin SDK modules of
``semalign_core.encoding`` and ``semalign_core.testing``. Everything else (``semalign_core.align
.fingerprint``, ``semalign_core.errors``, ...) is internal and may move without notice; a plugin
that needs one of its names asks for it to be exported instead. Checked on the syntax tree of
every plugin's src/ and tests/ (imports inside functions included), without importing anything.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "semalign_core"
#: The encoder-plugin SDK: public submodules of semalign_core.encoding (docs/architecture.md).
SDK_MODULES = ("semalign_core.encoding.weights", "semalign_core.encoding.images",
               "semalign_core.encoding.torch_batching")
PLUGIN_DIRS = sorted([*REPO.glob("plugins/semalign-*"), REPO / "docs" / "example-plugin"])


def _module_file(module: str) -> Path:
    base = REPO.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


@cache
def _exported(module: str) -> frozenset[str]:
    """The module's ``__all__``, read from its source (importing would need torch, pydantic)."""
    tree = ast.parse(_module_file(module).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise AssertionError(f"{module} has no literal __all__; the public API must say its names")


def public_modules() -> frozenset[str]:
    subpackages = {f"semalign_core.{p.parent.name}" for p in CORE.glob("*/__init__.py")}
    return frozenset({"semalign_core", *subpackages, *SDK_MODULES})


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Each import of ``source`` that reaches past the public API, as ``line: what``."""
    public = public_modules()
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "semalign_core" and alias.name not in public:
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module and (
                node.module.split(".")[0] == "semalign_core"):
            if node.module not in public:
                found.append(f"{node.lineno}: from {node.module} import ...")
                continue
            for alias in node.names:
                name = alias.name
                if name not in _exported(node.module) and f"{node.module}.{name}" not in public:
                    found.append(f"{node.lineno}: from {node.module} import {name} "
                                 f"(not in its __all__)")
    return found


def test_the_check_tells_public_from_internal():
    source = "\n".join([
        "from semalign_core import Translator, hookimpl",        # top level: public
        "from semalign_core.encoding.weights import resolve_weights",  # the SDK
        "from semalign_core.testing import check_encoder",
        "from semalign_core import testing",                     # a public subpackage
        "import semalign_core.encoding.images",
        "from semalign_core.align.fingerprint import file_sha256",     # 6: internal module
        "from semalign_core.errors import ImageLoadError",             # 7: internal module
        "from semalign_core import _version",                          # 8: not exported
        "def f():",
        "    import semalign_core.plugins.manager",                    # 10: even in a function
        "from .sibling import x",                                      # the plugin's own
    ])
    assert [v.split(":")[0] for v in violations(source)] == ["6", "7", "8", "10"]


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda p: p.name)
def test_plugin_imports_only_the_public_api(plugin: Path):
    files = [f for sub in ("src", "tests") for f in sorted((plugin / sub).rglob("*.py"))]
    assert files, f"no sources found under {plugin}"
    found = [f"{f.relative_to(REPO)}:{v}" for f in files
             for v in violations(f.read_text(encoding="utf-8"), str(f))]
    assert not found, ("plugins may import only semalign_core's public API (top level, "
                       "subpackage __init__, the encoding SDK, testing); export what they need "
                       "instead:\n" + "\n".join(found))
