"""The ``semalign`` command.

Every subcommand exits 0 on success and non-zero with a one-line ``error: ...`` on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import SemalignError

__all__ = ["main"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import plugin_infos
    from .registry import list_solvers

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semalign",
        description="Align the latent spaces of encoders that were never trained together.",
        epilog="Examples:\n  semalign plugins\n  semalign plugins --json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"semalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = sub.add_parser(
        "plugins", help="list installed plugins and what they register",
        description="List every plugin found (built-in and entry points), its version, the "
                    "hooks it implements, the names it registered and whether it loaded.",
        epilog="Examples:\n  semalign plugins\n  semalign plugins --json | jq '.[].name'\n"
               "  SEMALIGN_DISABLE_PLUGINS=semalign-clip semalign plugins\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(func=_cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except SemalignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
