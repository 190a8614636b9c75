"""``semalign plugins``: list installed plugins and what they register."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import add_command

__all__ = ["add_parser"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    from ..plugins.manager import plugin_infos
    from ..plugins.registry import list_solvers

    infos = plugin_infos()
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
    else:
        rows = [("distribution", "version", "hooks", "registered", "status")]
        for info in infos:
            registered = "; ".join(f"{kind}: {', '.join(names)}"
                                   for kind, names in sorted(info.registered.items()))
            status = info.status if not info.error else f"{info.status} ({info.error})"
            rows.append((info.name, info.version or "-", ", ".join(info.hooks) or "-",
                         registered or "-", status))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                  + "  " + row[4])
    list_solvers()  # surfaces a DuplicatePluginError as a non-zero exit after the listing
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign plugins``."""
    plugins = add_command(
        sub, "plugins", "list installed plugins and what they register",
        "List every plugin found (built-in and entry points), its version, the hooks it "
        "implements, the names it registered and whether it loaded.",
        "  semalign plugins\n  semalign plugins --json | jq '.[].name'\n"
        "  SEMALIGN_DISABLE_PLUGINS=semalign-clip semalign plugins\n", _cmd_plugins)
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
