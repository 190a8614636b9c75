"""``report.html``: the whole report in one file a colleague can open in any browser.

Beside ``summary.md``: the same setup and result table, every plot inlined as a ``data:`` URI,
the full config and the encoder fingerprints. Nothing is fetched: no scripts, no style sheets,
no fonts, no external images, so the file renders offline and can be mailed as is.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["html_report"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #c8c8c8; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f7; } td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: .85em; color: #555; }
img { max-width: 520px; border: 1px solid #ddd; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .82em; }
.note { color: #444; font-size: .92em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 99) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(c)}</td>' if i >= numeric_from
                         else f"<td>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _result_table(document: dict[str, Any]) -> str:
    from .report import format_table

    # the Markdown table is the one source of the rows; parse it back rather than rebuild them
    lines = format_table(document, markdown=True).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return _table(cells[0], cells[2:], numeric_from=3)


def _figures(files: Mapping[str, Path]) -> str:
    out = []
    for name, path in files.items():
        if name.endswith(".png") and Path(path).is_file():
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            out.append(f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{_e(name)}</figcaption></figure>")
    return f'<div class="figures">{"".join(out)}</div>' if out else ""


def _fingerprints(document: dict[str, Any]) -> str:
    rows = []
    for side, fp in document["fingerprints"].items():
        rows.append([side, fp.get("encoder", ""), fp.get("architecture", ""),
                     fp.get("weights", ""), str(fp.get("dim", "")),
                     json.dumps({k: v for k, v in fp.items()
                                 if k not in ("encoder", "architecture", "weights", "dim")},
                                sort_keys=True)])
    return _table(["side", "encoder", "architecture", "weights", "dim", "other"], rows)


def html_report(document: dict[str, Any], files: Mapping[str, Path]) -> str:
    """The self-contained HTML page for a ``results.json`` document and its plot files."""
    from .report import describe_encoder, interval_legend

    cfg = document["config"]
    conf = round(cfg["evaluation"]["confidence"] * 100)
    setup = [f"task: {document['task']}",
             f"source encoder: {describe_encoder(document['fingerprints']['source'])}",
             f"target encoder: {describe_encoder(document['fingerprints']['target'])}",
             f"translator: solver {cfg['translator']['solver']} {cfg['translator']['params']}",
             f"anchor pool: {document['data']['pool']['items']} items; "
             f"evaluation: {document['data']['evaluation']['items']} items"]
    versions = _table(["package", "version"], [[k, v] for k, v in document["versions"].items()])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(document['name'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(document['name'])}</h1>",
        f"<p>{_e(document.get('description', ''))}</p>" if document.get("description") else "",
        "<ul>" + "".join(f"<li>{_e(item.replace('`', ''))}</li>" for item in setup) + "</ul>",
        "<h2>Results</h2>", _result_table(document),
        f'<p class="note">{_e(interval_legend(document, conf).replace("`", ""))}</p>',
        "<h2>Plots</h2>", _figures(files),
        "<h2>Encoder fingerprints</h2>", _fingerprints(document),
        "<h2>Config</h2>", f"<pre>{_e(json.dumps(cfg, indent=2, sort_keys=False))}</pre>",
        "<h2>Versions</h2>", versions,
        f'<p class="note">Encoding took {document["timing"]["encode_s"]:.1f} s, the whole run '
        f'{document["timing"]["total_s"]:.1f} s. Full results: results.json.</p>',
        "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"
