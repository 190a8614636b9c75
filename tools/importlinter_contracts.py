"""A custom import-linter contract: some packages may be imported only inside functions.

Why a contract of our own: import-linter's ``forbidden`` contract sees every import in a module's
graph alike, so it cannot tell ``import torch`` at the top of a file (which makes
``import semalign_core`` load torch) from ``import torch`` inside the function that needs it
(which is how the core is meant to use torch and ray). This contract reads each source module's
syntax tree and fails on imports of the forbidden packages that run when the module is imported:
at module level, in a class body, or under a module-level ``if``/``try``/``with``. Imports inside
a function (or lambda) body are allowed, and so are those under ``if TYPE_CHECKING:``, which never
run.

Configured in ``pyproject.toml``::

    [tool.importlinter]
    contract_types = ["lazy_imports: tools.importlinter_contracts.LazyImportsContract"]

    [[tool.importlinter.contracts]]
    type = "lazy_imports"
    source_modules = ["semalign_core"]
    lazy_modules = ["torch", "ray"]
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

__all__ = ["LazyImportsContract", "eager_imports"]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class EagerImport:
    """One import of a lazy-only package that runs when its module is imported."""

    module: str
    imported: str
    line_number: int
    line: str


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # a relative import stays inside the package, never a third-party one
        return []
    return [node.module or ""]


def _eager_nodes(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run at import time: everything outside function bodies."""
    for node in body:
        if isinstance(node, _FUNCTIONS):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _eager_nodes(node.orelse)
            continue
        for child in ast.iter_child_nodes(node):
            # Statement lists of compound statements (if/try/with/for/class bodies, handlers).
            if isinstance(child, ast.stmt):
                yield from _eager_nodes([child])
            elif isinstance(child, ast.excepthandler | ast.match_case):
                yield from _eager_nodes(child.body)


def _matches(imported: str, lazy: set[str]) -> bool:
    return any(imported == name or imported.startswith(name + ".") for name in lazy)


def eager_imports(module: str, path: Path, lazy: set[str]) -> list[EagerImport]:
    """The imports of ``lazy`` packages in ``path`` that run when ``module`` is imported."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in _eager_nodes(ast.parse(source, filename=str(path)).body):
        for imported in _imported_names(node):
            if _matches(imported, lazy):
                found.append(EagerImport(module, imported, node.lineno,
                                         lines[node.lineno - 1].strip()))
    return found


def _module_path(module: str, roots: dict[str, Path]) -> Path | None:
    top, *rest = module.split(".")
    base = roots[top].joinpath(*rest)
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _package_dir(package: str) -> Path:
    # find_spec on a top-level name locates it without importing it.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


class LazyImportsContract(Contract):
    """Modules under ``source_modules`` import ``lazy_modules`` only inside functions.

    Configuration options:
        - source_modules: the packages whose modules are checked (with all their submodules).
        - lazy_modules:   the packages (e.g. ``torch``, ``ray``) that may only be imported
                          inside a function body.
    """

    type_name = "lazy_imports"

    source_modules = fields.ListField(subfield=fields.StringField())
    lazy_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        lazy = set(self.lazy_modules)
        roots = {module.split(".")[0] for module in self.source_modules}
        dirs = {root: _package_dir(root) for root in roots}
        checked, found = 0, []
        for module in sorted(graph.modules):
            if not any(module == src or module.startswith(src + ".")
                       for src in self.source_modules):
                continue
            path = _module_path(module, dirs)
            if path is None:
                continue
            checked += 1
            found += eager_imports(module, path, lazy)
        output.verbose_print(verbose, f"Checked {checked} modules for eager imports of "
                                      f"{', '.join(sorted(lazy))}.")
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["found"]:
            output.print_error(
                f"{item.module}:{item.line_number} imports {item.imported} at import time: "
                f"{item.line}", bold=False)
        output.new_line()
        output.print("Move the import into the function that needs it (or under "
                     "`if TYPE_CHECKING:` for annotations).")
