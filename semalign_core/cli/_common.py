"""Helpers shared by the command modules: option parsing, echo, loading embeddings files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..fileio import check_writable

__all__ = ["add_command", "check_writable", "echo_for", "load_embeddings", "parse_options"]


def add_command(sub: Any, name: str, help: str, description: str, examples: str,
                func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Add subcommand ``name`` whose ``--help`` ends with ``examples``; ``func`` runs it."""
    parser = sub.add_parser(name, help=help, description=description,
                            epilog="Examples:\n" + examples,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def parse_options(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as JSON when they can be (numbers, booleans)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{flag} expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def echo_for(args: argparse.Namespace) -> Callable[[str], None] | None:
    """A progress printer, or ``None`` under ``--quiet``."""
    return None if getattr(args, "quiet", False) else (lambda m: print(m, flush=True))


def load_embeddings(path: str) -> Any:
    """An :class:`~semalign_core.align.embeddings.Embeddings` file, with a clear error if absent."""
    from ..align.embeddings import Embeddings

    if not Path(path).is_file():
        raise InvalidInputError(f"embeddings file {path} does not exist")
    return Embeddings.load(path)
