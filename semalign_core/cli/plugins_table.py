"""The ``semalign plugins`` table: one line per plugin, then one line per component it registered.

A single wide row per plugin (the old layout) ran to 300 columns once a plugin registered a dozen
presets, so components get a line each, grouped by kind, and every line is cut to the terminal
width (``COLUMNS`` when set). The full record, aliases included, is ``semalign plugins --json``.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

from ..plugins.manager import PluginInfo, RegistryEntry

__all__ = ["format_plugins"]

_KIND_LABELS = {"encoder": "encoders", "anchor_selector": "anchor selectors",
                "solver": "solvers"}
_MIN_WIDTH = 60


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 3].rstrip() + "..."


def _header(info: PluginInfo, width: int) -> list[str]:
    head = f"{info.name} {info.version or '-'}  {info.status}"
    if not info.error:
        return [_cut(head, width)]
    # Why a plugin failed is the one thing the reader came for: wrap it, never cut it.
    return textwrap.wrap(f"{head} ({info.error})", width, subsequent_indent="    ",
                         break_on_hyphens=False)


def _component_lines(entries: Sequence[RegistryEntry], width: int) -> list[str]:
    lines: list[str] = []
    for kind in dict.fromkeys(entry.kind for entry in entries):
        lines.append(f"  {_KIND_LABELS.get(kind, kind.replace('_', ' ') + 's')}:")
        block = [entry for entry in entries if entry.kind == kind]
        # Names are what users type, so they are padded, never cut, but one long name must not
        # push every summary in the block off the screen.
        name_width = min(max(len(entry.name) for entry in block), width // 2)
        for entry in block:
            modality = f"{entry.modality or '?':<6} " if kind == "encoder" else ""
            line = f"    {modality}{entry.name:<{name_width}}  {entry.summary or ''}"
            lines.append(_cut(line.rstrip(), width))
    return lines


def format_plugins(infos: Sequence[PluginInfo], width: int | None = None) -> str:
    """The table ``semalign plugins`` prints, each line at most ``width`` characters.

    Parameters
    ----------
    infos : sequence of PluginInfo
        What :func:`semalign_core.plugin_infos` returns.
    width : int, optional
        Line width; the terminal's (``COLUMNS``, else 80) by default, at least 60.
    """
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    width = max(width, _MIN_WIDTH)
    lines: list[str] = []
    for info in infos:
        lines += _header(info, width)
        lines += _component_lines(info.components, width)
    return "\n".join(lines)
