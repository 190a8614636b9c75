"""Reading and writing manifests: CSV / TSV / Parquet tables, image folders and dict rows.

CSV is read with the standard library; Parquet needs pandas and pyarrow (the
``semalign-core[experiments]`` extra), imported only when a Parquet file is read or written.
Column names are remapped with ``columns=`` or matched from common spellings (``path``,
``report``, ``labels``...). The in-memory :class:`~semalign_core.data.manifest.Manifest` is in
:mod:`semalign_core.data.manifest`, the group splits in :mod:`semalign_core.data.splits`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..fileio import atomic_path
from .manifest import COLUMNS, IMAGE_EXTENSIONS, LABEL_SEPARATOR, Manifest, Record

__all__ = ["manifest_from_image_folder", "manifest_from_rows", "read_manifest",
           "write_manifest"]

# Common spellings accepted for the canonical columns when no explicit mapping is given.
_SYNONYMS = {"image": ("image", "image_path", "path", "file", "filename"),
             "label": ("label", "labels"), "text": ("text", "report", "caption")}


def _import_pandas(why: str) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInputError(f"pandas and pyarrow are needed to {why}; install "
                                f"'semalign-core[experiments]'") from exc
    return pd


def _resolve_columns(present: Sequence[str], explicit: Mapping[str, str], where: str,
                     has_rows: bool) -> dict[str, str]:
    unknown = sorted(set(explicit) - set(COLUMNS))
    if unknown:
        raise InvalidInputError(f"unknown canonical column(s) {unknown} in the column mapping; "
                                f"use any of {list(COLUMNS)}")
    mapping: dict[str, str] = {}
    for name in COLUMNS:
        if name in explicit:
            if has_rows and explicit[name] not in present:
                raise InvalidInputError(f"{where}column {explicit[name]!r} (mapped to {name!r}) "
                                        f"is missing; the columns are {list(present)}")
            mapping[name] = explicit[name]
            continue
        for candidate in _SYNONYMS.get(name, (name,)):
            if candidate in present:
                mapping[name] = candidate
                break
    if has_rows and "id" not in mapping:
        raise InvalidInputError(f"{where}missing required column 'id'; the columns are "
                                f"{list(present)} (map another column with columns={{'id': ...}})")
    if has_rows and "image" not in mapping and "text" not in mapping:
        raise InvalidInputError(f"{where}a manifest needs an 'image' or a 'text' column; the "
                                f"columns are {list(present)}")
    return mapping


def manifest_from_rows(rows: Iterable[Mapping[str, Any]], *, root: str | os.PathLike[str]
              | None = None, columns: Mapping[str, str] | None = None,
              source: str | None = None, check_files: bool = True) -> Manifest:
    """Build from dict rows (e.g. ``csv.DictReader`` or ``DataFrame.to_dict("records")``).

    Parameters
    ----------
    rows : iterable of mapping
    root : path, optional
        Folder that relative image paths are resolved against (default: the cwd).
    columns : mapping, optional
        Canonical name -> column name in ``rows``, e.g. ``{"image": "path"}``. Unmapped
        canonical names also match common spellings (``path``, ``report``, ``labels``...).
    source : str, optional
    check_files : bool
        Verify that every image path is a file.
    """
    rows = list(rows)
    where = f"{source}: " if source else ""
    present = list(rows[0].keys()) if rows else []
    mapping = _resolve_columns(present, columns or {}, where, bool(rows))
    base = Path(root) if root is not None else Path.cwd()
    records = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header in a CSV

        def cell(name: str, row: Mapping[str, Any] = row) -> str | None:
            column = mapping.get(name)
            if column is None:
                return None
            value = row.get(column)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return None
            text = str(value).strip()
            return text or None

        item_id = cell("id")
        if item_id is None:
            raise InvalidInputError(f"{where}row {line} has an empty id; every item needs "
                                    f"a unique id")
        image = cell("image")
        if image is not None:
            path = Path(image).expanduser()
            image = str(path if path.is_absolute() else (base / path).resolve())
        label_cell = cell("label")
        labels = tuple(part.strip() for part in label_cell.split(LABEL_SEPARATOR)
                       if part.strip()) if label_cell else ()
        # the text column keeps inner whitespace; only a blank cell counts as missing
        text_column = mapping.get("text")
        raw_text = row.get(text_column) if text_column else None
        text = str(raw_text) if raw_text is not None and str(raw_text).strip() else None
        records.append(Record(item_id, image, text, labels, cell("split"), cell("group")))
    manifest = Manifest(records, source=source)
    return manifest.check_files() if check_files else manifest


def manifest_from_image_folder(root: str | os.PathLike[str], *, split: str | None = None,
                      extensions: Sequence[str] = IMAGE_EXTENSIONS) -> Manifest:
    """One class per sub-folder: ``root/<class>/<file>``; ids are ``<class>/<file>``.

    Files are listed in sorted order, so the manifest is the same on every machine.

    Raises
    ------
    InvalidInputError
        ``root`` is not a folder, or holds no class folder with images.
    """
    base = Path(root)
    if not base.is_dir():
        raise InvalidInputError(f"image folder {base} does not exist or is not a folder")
    suffixes = {e.lower() for e in extensions}
    records = []
    for class_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(class_dir.rglob("*")):
            if path.is_file() and path.suffix.lower() in suffixes:
                rel = path.relative_to(base).as_posix()
                records.append(Record(rel, str(path.resolve()), None, (class_dir.name,),
                                      split, None))
    if not records:
        raise InvalidInputError(
            f"{base} holds no images in class sub-folders (expected {base}/<class>/<image> "
            f"with suffixes {sorted(suffixes)})")
    return Manifest(records, source=str(base))


def write_manifest(manifest: Manifest, path: str | os.PathLike[str]) -> Path:
    """Write a CSV (or ``.parquet``) manifest atomically, image paths relative to it."""
    target = Path(path)
    rows = manifest.to_rows(relative_to=target.parent.resolve())
    with atomic_path(target) as tmp:
        if target.suffix.lower() == ".parquet":
            pd = _import_pandas("write a Parquet manifest")
            pd.DataFrame(rows, columns=list(COLUMNS)).to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
                writer.writeheader()
                writer.writerows(rows)
    return target


def read_manifest(path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None,
                  root: str | os.PathLike[str] | None = None,
                  check_files: bool = True) -> Manifest:
    """Read a CSV or Parquet manifest, or an image folder (a directory).

    Parameters
    ----------
    path : path
        ``*.csv`` (stdlib reader), ``*.parquet`` (pandas + pyarrow), or a folder laid out as
        ``<class>/<image>``.
    columns : mapping, optional
        Canonical name -> column name, e.g. ``{"image": "path", "group": "patient_id"}``.
    root : path, optional
        Folder relative image paths are resolved against; default the manifest's folder.
    check_files : bool
        Verify that every image exists (missing files are listed in the error).

    Raises
    ------
    InvalidInputError
        A missing file or column, duplicate ids, missing image files, an unknown format.
    """
    source = Path(path)
    if source.is_dir():
        return manifest_from_image_folder(source)
    if not source.is_file():
        raise InvalidInputError(f"manifest {source} does not exist")
    base = Path(root) if root is not None else source.parent
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        pd = _import_pandas("read a Parquet manifest")
        try:
            frame = pd.read_parquet(source)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise InvalidInputError(f"{source} is not a readable Parquet file: {exc}") from exc
        frame = frame.astype(object).where(frame.notna(), None)
        rows = frame.to_dict("records")
        if not rows:
            rows_present: list[dict[str, Any]] = []
            _resolve_columns(list(frame.columns), columns or {}, f"{source}: ", True)
            return Manifest(rows_present, source=str(source))
    elif suffix in (".csv", ".tsv"):
        try:
            with open(source, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
                rows = list(reader)
                header = list(reader.fieldnames or [])
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"{source} is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
                f"{exc.start}); re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
        except csv.Error as exc:
            raise InvalidInputError(f"{source} is not a readable CSV: {exc}") from None
        if not rows:
            _resolve_columns(header, columns or {}, f"{source}: ", True)
            return Manifest([], source=str(source))
    else:
        raise InvalidInputError(f"unknown manifest format {source.name!r}; use .csv, .tsv, "
                                f".parquet or an image folder")
    return manifest_from_rows(rows, root=base, columns=columns, source=str(source),
                              check_files=check_files)
