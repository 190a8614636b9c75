"""Datasets for experiments: manifests, image folders, paired anchors and group splits.

A **manifest** is a table with one row per item. Columns (names can be remapped):

``id``      unique item id (required)
``image``   image path, relative to the manifest's folder or absolute
``text``    text of the item (a report, a caption)
``label``   class label; several labels (multi-label) are separated by ``|``
``split``   e.g. ``train`` / ``test``
``group``   e.g. the patient id: :func:`split_by_group` never puts one group on both sides

CSV is read with the standard library; Parquet needs pandas and pyarrow (the
``semalign-core[experiments]`` extra), imported only when a Parquet file is read or written.
An image folder (``root/<class>/<image>``) becomes a manifest with
:meth:`Manifest.from_image_folder`.

>>> m = Manifest([Record("a", text="clear lungs", labels=("normal",)),
...               Record("b", text="right lower lobe consolidation", labels=("pneumonia",))])
>>> len(m), m.classes
(2, ('normal', 'pneumonia'))
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..plugins.registry import build_component

__all__ = [
    "COLUMNS",
    "IMAGE_EXTENSIONS",
    "LABEL_SEPARATOR",
    "Manifest",
    "Record",
    "get_dataset",
    "read_manifest",
    "split_by_group",
]

#: Canonical column names of a manifest.
COLUMNS = ("id", "image", "text", "label", "split", "group")
#: Separator of several labels in one ``label`` cell (multi-label manifests).
LABEL_SEPARATOR = "|"
#: File suffixes :meth:`Manifest.from_image_folder` picks up (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".bmp", ".tif", ".tiff")
# Common spellings accepted for the canonical columns when no explicit mapping is given.
_SYNONYMS = {"image": ("image", "image_path", "path", "file", "filename"),
             "label": ("label", "labels"), "text": ("text", "report", "caption")}
_MAX_LISTED = 5


@dataclass(frozen=True)
class Record:
    """One manifest row.

    Attributes
    ----------
    id : str
    image : str or None
        Absolute (resolved) image path.
    text : str or None
    labels : tuple of str
        Empty when the row has no label; several for multi-label data.
    split, group : str or None
    """

    id: str
    image: str | None = None
    text: str | None = None
    labels: tuple[str, ...] = ()
    split: str | None = None
    group: str | None = None

    @property
    def label(self) -> str | None:
        """The single label (``None`` if unlabelled); multi-label rows raise."""
        if len(self.labels) > 1:
            raise InvalidInputError(f"item {self.id!r} has several labels {self.labels}; use "
                                    f".labels for multi-label data")
        return self.labels[0] if self.labels else None

    def item(self, modality: str) -> str:
        """What an encoder of ``modality`` consumes: the image path or the text."""
        if modality not in ("image", "text"):
            raise InvalidInputError(f"modality must be 'image' or 'text', got {modality!r}")
        value = self.image if modality == "image" else self.text
        if value is None:
            raise InvalidInputError(f"item {self.id!r} has no {modality}; an {modality} "
                                    f"encoder needs the {modality!r} column filled")
        return value


def _listing(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    more = f" and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else ""
    return shown + more


class Manifest:
    """An ordered collection of :class:`Record` with unique ids.

    Parameters
    ----------
    records : iterable of Record
    source : str, optional
        Where the records came from (used in error messages and reports).

    Raises
    ------
    InvalidInputError
        Duplicate or empty ids.
    """

    def __init__(self, records: Iterable[Record], *, source: str | None = None) -> None:
        self.records: tuple[Record, ...] = tuple(records)
        self.source = source
        bad = [r for r in self.records if not isinstance(r, Record)]
        if bad:
            raise InvalidInputError(f"a Manifest holds Record objects, got "
                                    f"{type(bad[0]).__name__}")
        empty = [i for i, r in enumerate(self.records) if not isinstance(r.id, str) or not r.id]
        if empty:
            raise InvalidInputError(f"{self._where()}row(s) {_listing(empty)} have an empty id; "
                                    f"every item needs a unique id")
        counts = Counter(r.id for r in self.records)
        dups = [i for i, c in counts.items() if c > 1]
        if dups:
            raise InvalidInputError(f"{self._where()}duplicate ids: {_listing(dups)} (each "
                                    f"occurs more than once); ids must be unique")
        self._index = {r.id: i for i, r in enumerate(self.records)}

    def _where(self) -> str:
        return f"{self.source}: " if self.source else ""

    # -- protocol ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __getitem__(self, item_id: str) -> Record:
        try:
            return self.records[self._index[item_id]]
        except KeyError:
            raise InvalidInputError(f"{self._where()}no item with id {item_id!r}") from None

    def __repr__(self) -> str:
        splits = Counter(r.split for r in self.records if r.split is not None)
        return (f"Manifest({len(self)} items, splits={dict(splits)}, "
                f"classes={list(self.classes)}, source={self.source!r})")

    # -- views ---------------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]

    @property
    def classes(self) -> tuple[str, ...]:
        """Sorted distinct labels."""
        return tuple(sorted({label for r in self.records for label in r.labels}))

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(sorted({r.split for r in self.records if r.split is not None}))

    @property
    def is_multilabel(self) -> bool:
        return any(len(r.labels) > 1 for r in self.records)

    def labels(self) -> np.ndarray:
        """One label per item (str array); raises if any item is unlabelled or multi-label."""
        missing = [r.id for r in self.records if not r.labels]
        if missing:
            raise InvalidInputError(f"{self._where()}items {_listing(missing)} have no label; "
                                    f"fill the 'label' column or filter them out")
        return np.asarray([r.label for r in self.records], dtype=str)

    def label_matrix(self, classes: Sequence[str] | None = None) -> np.ndarray:
        """Multi-label 0/1 indicator matrix (n_items, n_classes), columns in ``classes`` order."""
        classes = list(self.classes if classes is None else classes)
        col = {c: j for j, c in enumerate(classes)}
        out = np.zeros((len(self), len(classes)), np.int64)
        for i, r in enumerate(self.records):
            for label in r.labels:
                if label not in col:
                    raise InvalidInputError(f"item {r.id!r} has label {label!r}, not in "
                                            f"{classes}")
                out[i, col[label]] = 1
        return out

    def items(self, modality: str) -> list[str]:
        """The image paths (``"image"``) or texts (``"text"``) of every item, in order."""
        return [r.item(modality) for r in self.records]

    # -- selection -----------------------------------------------------------------------------
    def filter(self, *, split: str | Sequence[str] | None = None,
               labels: Sequence[str] | None = None, has: Sequence[str] = ()) -> Manifest:
        """Items of the given split(s), with one of ``labels``, and with every field in ``has``.

        Raises
        ------
        InvalidInputError
            A requested split that no item has (a typo would otherwise give an empty run).
        """
        out = list(self.records)
        if split is not None:
            wanted = {split} if isinstance(split, str) else set(split)
            unknown = sorted(wanted - set(self.splits))
            if unknown:
                raise InvalidInputError(f"{self._where()}no items in split(s) {unknown}; the "
                                        f"manifest has splits {list(self.splits)}")
            out = [r for r in out if r.split in wanted]
        if labels is not None:
            keep = set(labels)
            out = [r for r in out if keep.intersection(r.labels)]
        for field in has:
            if field not in ("image", "text", "labels", "split", "group"):
                raise InvalidInputError(f"unknown field {field!r}")
            out = [r for r in out if getattr(r, field)]
        return Manifest(out, source=self.source)

    def subset(self, ids: Iterable[str]) -> Manifest:
        """The items with these ids, in that order."""
        return Manifest([self[i] for i in ids], source=self.source)

    def pairs(self) -> Manifest:
        """Items with both an image and a text: paired image–text anchors.

        Raises
        ------
        InvalidInputError
            When no item is paired.
        """
        paired = self.filter(has=("image", "text"))
        if not len(paired):
            raise InvalidInputError(f"{self._where()}no item has both an image and a text; "
                                    f"anchors need the 'image' and 'text' columns filled on the "
                                    f"same row")
        return paired

    def check_files(self) -> Manifest:
        """Raise :class:`InvalidInputError` listing every image path that is not a file."""
        missing = [r.image for r in self.records if r.image is not None
                   and not os.path.isfile(r.image)]
        if missing:
            raise InvalidInputError(f"{self._where()}{len(missing)} image file(s) not found: "
                                    f"{_listing(missing)}; fix the paths (relative paths are "
                                    f"resolved against the manifest's folder)")
        return self

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, root: str | os.PathLike[str]
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
        manifest = cls(records, source=source)
        return manifest.check_files() if check_files else manifest

    @classmethod
    def from_image_folder(cls, root: str | os.PathLike[str], *, split: str | None = None,
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
        return cls(records, source=str(base))

    @classmethod
    def concat(cls, manifests: Iterable[Manifest], *, source: str | None = None) -> Manifest:
        """All items of several manifests (ids must stay unique)."""
        return cls([r for m in manifests for r in m], source=source)

    # -- output --------------------------------------------------------------------------------
    def to_rows(self, *, relative_to: str | os.PathLike[str] | None = None
                ) -> list[dict[str, str]]:
        """Canonical dict rows; image paths relative to ``relative_to`` when given."""
        rows = []
        for r in self.records:
            image = r.image
            if image is not None and relative_to is not None:
                image = os.path.relpath(image, relative_to)
            rows.append({"id": r.id, "image": image or "", "text": r.text or "",
                         "label": LABEL_SEPARATOR.join(r.labels), "split": r.split or "",
                         "group": r.group or ""})
        return rows

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write a CSV (or ``.parquet``) manifest atomically, image paths relative to it."""
        from ..fileio import atomic_path

        target = Path(path)
        rows = self.to_rows(relative_to=target.parent.resolve())
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

    def with_text(self, texts: Mapping[str, str]) -> Manifest:
        """A copy whose items get the text ``texts[id]`` (ids not in ``texts`` keep theirs)."""
        return Manifest([replace(r, text=texts.get(r.id, r.text)) for r in self.records],
                        source=self.source)


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
        return Manifest.from_image_folder(source)
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
        with open(source, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            rows = list(reader)
            header = list(reader.fieldnames or [])
        if not rows:
            _resolve_columns(header, columns or {}, f"{source}: ", True)
            return Manifest([], source=str(source))
    else:
        raise InvalidInputError(f"unknown manifest format {source.name!r}; use .csv, .tsv, "
                                f".parquet or an image folder")
    return Manifest.from_rows(rows, root=base, columns=columns, source=str(source),
                              check_files=check_files)


def split_by_group(manifest: Manifest, *, test_size: float = 0.2, seed: int = 0,
                   names: tuple[str, str] = ("train", "test")) -> Manifest:
    """Assign a two-way split so that no group (e.g. patient) is on both sides.

    Uses :class:`sklearn.model_selection.GroupShuffleSplit`: ``test_size`` is the fraction of
    *groups* in the second split. Items without a group form a group of their own.

    Parameters
    ----------
    manifest : Manifest
    test_size : float
        In (0, 1).
    seed : int
        The same seed gives the same split.
    names : (str, str)
        Split names written into the items.

    Returns
    -------
    Manifest
        A copy with ``split`` set on every item.

    Raises
    ------
    InvalidInputError
        Fewer than two groups, or ``test_size`` outside (0, 1).
    """
    from sklearn.model_selection import GroupShuffleSplit

    if not 0 < test_size < 1:
        raise InvalidInputError(f"test_size must be in (0, 1), got {test_size!r}")
    groups = np.asarray([r.group if r.group is not None else f"\x00{r.id}" for r in manifest])
    if len(set(groups.tolist())) < 2:
        raise InvalidInputError(f"cannot split {len(groups)} item(s) in "
                                f"{len(set(groups.tolist()))} group(s); need at least 2 groups")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(np.zeros(len(groups)), groups=groups))
    side = np.empty(len(groups), dtype=object)
    side[train_idx] = names[0]
    side[test_idx] = names[1]
    return Manifest([replace(r, split=str(side[i])) for i, r in enumerate(manifest)],
                    source=manifest.source)


def get_dataset(name: str, root: Any, **options: Any) -> Manifest:
    """Read the dataset registered as ``name`` from ``root`` (a folder or file) as a Manifest.

    >>> from semalign_core import list_datasets
    >>> {"kermany", "openi"} <= set(list_datasets())
    True
    """
    return build_component("dataset", name, {"root": root, **options}, Manifest)
