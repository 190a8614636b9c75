"""Manifests: an ordered set of items (:class:`Record`) with unique ids, for experiments.

A **manifest** is a table with one row per item. Columns (names can be remapped):

``id``      unique item id (required)
``image``   image path, relative to the manifest's folder or absolute
``text``    text of the item (a report, a caption)
``label``   class label; several labels (multi-label) are separated by ``|``
``split``   e.g. ``train`` / ``test``
``group``   e.g. the patient id: :func:`~semalign_core.data.splits.split_by_group` never puts
            one group on both sides

This module holds the in-memory records and their selections (filter, pairs, subsets);
reading and writing files is :mod:`semalign_core.data.readers`, group splits are
:mod:`semalign_core.data.splits`, and :func:`get_dataset` reads a registered dataset.

>>> m = Manifest([Record("a", text="clear lungs", labels=("normal",)),
...               Record("b", text="right lower lobe consolidation", labels=("pneumonia",))])
>>> len(m), m.classes
(2, ('normal', 'pneumonia'))
"""

from __future__ import annotations

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
]

#: Canonical column names of a manifest.
COLUMNS = ("id", "image", "text", "label", "split", "group")
#: Separator of several labels in one ``label`` cell (multi-label manifests).
LABEL_SEPARATOR = "|"
#: File suffixes :meth:`Manifest.from_image_folder` picks up (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".bmp", ".tif", ".tiff")
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
        """Build from dict rows; see :func:`~semalign_core.data.readers.manifest_from_rows`."""
        # The readers build Manifests, so they import this module; import them at call time.
        from .readers import manifest_from_rows

        return manifest_from_rows(rows, root=root, columns=columns, source=source,
                                  check_files=check_files)

    @classmethod
    def from_image_folder(cls, root: str | os.PathLike[str], *, split: str | None = None,
                          extensions: Sequence[str] = IMAGE_EXTENSIONS) -> Manifest:
        """One class per sub-folder: ``root/<class>/<file>``; see
        :func:`~semalign_core.data.readers.manifest_from_image_folder`."""
        from .readers import manifest_from_image_folder

        return manifest_from_image_folder(root, split=split, extensions=extensions)

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
        from .readers import write_manifest

        return write_manifest(self, path)

    def with_text(self, texts: Mapping[str, str]) -> Manifest:
        """A copy whose items get the text ``texts[id]`` (ids not in ``texts`` keep theirs)."""
        return Manifest([replace(r, text=texts.get(r.id, r.text)) for r in self.records],
                        source=self.source)


def get_dataset(name: str, root: Any, **options: Any) -> Manifest:
    """Read the dataset registered as ``name`` from ``root`` (a folder or file) as a Manifest.

    >>> from semalign_core import list_datasets
    >>> {"kermany", "openi"} <= set(list_datasets())
    True
    """
    return build_component("dataset", name, {"root": root, **options}, Manifest)
