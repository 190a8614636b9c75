"""Size limits of semalign_core: no function over 60 lines of code, no module over 400 lines.

A line of code is a line that is neither blank nor only a comment; a function's docstring does not
count (the limit is about logic, and numpydoc docstrings are long on purpose). A nested function's
lines count towards the function around it too: it is part of what a reader has to hold. Modules
are measured in physical lines, everything included.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "semalign_core"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400

def _code_line_numbers(source: str) -> set[int]:
    """Line numbers that hold a token other than a comment (so continuation lines count)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return set()


def function_sizes(source: str) -> dict[str, int]:
    """``"name:line" -> lines of code`` for every function and method in ``source``."""
    code = _code_line_numbers(source)
    sizes = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            span = set(range(start, (node.end_lineno or node.lineno) + 1))
            sizes[f"{node.name}:{node.lineno}"] = len((span & code) - _docstring_lines(node))
    return sizes


def test_counter_known_answer():
    source = '''\
def f(x):
    """A docstring

    over several lines.
    """
    # a comment line does not count

    y = (x +      # a continuation line counts
         1)
    s = """a string
    that is code"""
    return y


class C:
    @staticmethod
    def g():
        def inner():
            return 1
        return inner
'''
    assert function_sizes(source) == {"f:1": 6, "g:17": 5, "inner:18": 2}


MODULES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(CORE).as_posix())
def test_module_within_size_limits(path: Path):
    source = path.read_text(encoding="utf-8")
    problems = []
    n_lines = len(source.splitlines())
    if n_lines > MAX_MODULE_LINES:
        problems.append(f"the module has {n_lines} lines (limit {MAX_MODULE_LINES}): split it "
                        f"by concern")
    problems += [f"{name} has {n} lines of code (limit {MAX_FUNCTION_LINES})"
                 for name, n in function_sizes(source).items() if n > MAX_FUNCTION_LINES]
    assert not problems, f"{path.relative_to(CORE)}: " + "; ".join(problems)
