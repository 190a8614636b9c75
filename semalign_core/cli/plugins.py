"""``semalign plugins``: list installed plugins and what they register."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import add_command

__all__ = ["add_parser"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    import sys

    from ..plugins.manager import duplicate_errors, plugin_infos
    from .plugins_table import format_plugins

    infos = plugin_infos()
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
    else:
        print(format_plugins(infos))
    for error in duplicate_errors():  # only that name fails to look up; say so here
        print(f"warning: {' '.join(str(error.args[0]).split())}", file=sys.stderr)
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign plugins``."""
    plugins = add_command(
        sub, "plugins", "list installed plugins and what they register",
        "List every plugin found (built-in and entry points), its version and whether it "
        "loaded, then each name it registered with its modality and summary (--json adds "
        "hooks and aliases).",
        "  semalign plugins\n  semalign plugins --json | jq '.[].name'\n"
        "  SEMALIGN_DISABLE_PLUGINS=semalign-clip semalign plugins\n", _cmd_plugins)
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
