"""Name the optional extra behind a missing module, so a command without it fails in one line.

``semalign demo`` and ``semalign run`` need pydantic, pyyaml, pandas...; a core-only install
lacks them. The CLI turns the resulting ``ModuleNotFoundError`` into ``error: ...`` naming the
extra that provides the module, instead of a traceback.
"""

from __future__ import annotations

__all__ = ["EXTRA_OF_MODULE", "missing_module_message"]

#: Top-level module -> the ``semalign-core`` extra that installs it (see pyproject.toml).
EXTRA_OF_MODULE: dict[str, str] = {
    "pydantic": "experiments",
    "yaml": "experiments",
    "pandas": "experiments",
    "pyarrow": "experiments",
    "matplotlib": "experiments",
    "scipy": "experiments",
    "sklearn": "metrics",
    "PIL": "images",
    "pydicom": "images",
    "faiss": "faiss",
}


def missing_module_message(exc: ModuleNotFoundError, command: str | None) -> str | None:
    """The one-line error for ``exc``, or ``None`` when no extra provides the module."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    what = f"`semalign {command}`" if command else "this command"
    return (f"{what} needs {module!r}, which is not installed; it comes with the {extra!r} "
            f"extra: pip install -e \".[{extra}]\" in a clone, or "
            f"pip install \"semalign-core[{extra}]\"")
