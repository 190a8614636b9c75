"""Parsed archives remembered across processes, keyed by the archive's content.

Reading the Open-i reports means decompressing a tar archive and parsing about 4,000 XML files:
about 2 s, on every run, for the same bytes. :func:`memoised_rows` keeps the parsed rows as JSON
under ``<cache_root>/parsed-archives/``, keyed by the SHA-256 of the archive's bytes and the
parser's name and version, so a later process with the same archive reads them back in
milliseconds instead. The entry carries a checksum of its rows; a damaged, foreign or
mismatched entry is parsed again, never trusted. Hashing the archive reads it in full, but that
is a few milliseconds for a file parsing takes seconds over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fileio import atomic_path
from ..locations import cache_root

__all__ = ["memoised_rows"]

#: Layout of a memo entry; bump to retire every stored entry.
MEMO_FORMAT = 1


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _rows_checksum(rows: list[list[Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def memoised_rows(path: Path, parser: str, version: int,
                  parse: Callable[[], list[list[Any]]]) -> list[list[Any]]:
    """``parse()`` (JSON-serialisable rows) for the archive at ``path``, remembered on disk.

    ``parser`` and ``version`` name the parsing code: bump ``version`` whenever its output for
    the same bytes could change. Raises ``OSError`` when ``path`` cannot be read (the caller
    turns it into its own error); parse errors propagate and nothing is stored.
    """
    key = {"format": MEMO_FORMAT, "parser": parser, "version": version,
           "sha256": _digest(path)}
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    memo = cache_root() / "parsed-archives" / f"{name}.json"
    try:
        entry = json.loads(memo.read_text(encoding="utf-8"))
        rows = entry["rows"]
        if entry["key"] == key and entry["checksum"] == _rows_checksum(rows):
            return rows
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or damaged: parse again
    rows = parse()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(memo) as tmp:
            tmp.write_text(json.dumps({"key": key, "checksum": _rows_checksum(rows),
                                       "rows": rows}), encoding="utf-8")
    except OSError:
        pass  # a read-only cache still works, only without the memo
    return rows
