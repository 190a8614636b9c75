"""The docs are tested: every ```python block runs, and every hook is documented and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import semalign_core
from semalign_core.plugins import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
TESTS = Path(__file__).resolve().parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# A page whose examples need optional packages says so in an HTML comment, e.g.
# <!-- docs-test: requires semalign_solvers faiss -->; it is skipped where they are missing.
REQUIRES = re.compile(r"<!-- docs-test: requires ([\w\s.]+?) -->")

PAGES = [page for page in [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]
         if BLOCK.search(page.read_text())]


def _hookspec_names() -> list[str]:
    return [name for name, value in vars(hookspecs).items()
            if callable(value) and hasattr(value, "semalign_spec")]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_run(page: Path, monkeypatch, tmp_path, semalign_isolated_plugins):
    text = page.read_text()
    blocks = BLOCK.findall(text)
    for requirement in REQUIRES.findall(text):
        for module in requirement.split():
            pytest.importorskip(module)
    if REQUIRES.search(text):
        monkeypatch.delenv("SEMALIGN_LOAD_PLUGINS", raising=False)
        semalign_core.reset_plugins()  # such pages use installed plugins
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name}, python block {number} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc


def test_required_pages_exist():
    for name in ("index.md", "quickstart.md", "plugin-hooks.md", "writing-plugins.md",
                 "testing-plugins.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


def test_there_are_hookspecs():
    assert set(_hookspec_names()) == {"register_encoders", "register_anchor_selectors",
                                      "register_solvers", "register_datasets",
                                      "register_tasks"}


@pytest.mark.parametrize("hook", _hookspec_names())
def test_every_hook_is_documented_under_its_signature(hook: str):
    signature = f"{hook}{inspect.signature(getattr(hookspecs, hook))}"
    signature = re.sub(r": [^,)]+", "", signature).split(" ->")[0]  # names only, no annotations
    text = (DOCS / "plugin-hooks.md").read_text()
    assert f"## {signature}\n" in text, f"docs/plugin-hooks.md needs a '## {signature}' section"


@pytest.mark.parametrize("hook", _hookspec_names())
def test_every_hook_has_a_test_named_after_it(hook: str):
    sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py"))
    assert re.search(rf"^def test_{hook}\(", sources, re.M), f"add a test named test_{hook}"
