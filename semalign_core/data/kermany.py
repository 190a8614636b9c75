"""Kermany pediatric chest X-rays (normal vs. pneumonia) as a manifest.

Kermany D., Zhang K., Goldbaum M. (2018), *Labeled Optical Coherence Tomography (OCT) and Chest
X-Ray Images for Classification*, Mendeley Data v2, doi:10.17632/rscbjbr9sj.2 (CC BY 4.0).

Two layouts are read:

- a folder with ``labels.csv`` (``path,split,label[,subtype,sha256]``, paths relative to the
  folder), as in semalign's shared test data;
- the official layout ``<root>/<split>/<CLASS>/<image>`` (e.g. ``chest_xray/test/PNEUMONIA``),
  class folder names lower-cased.

The group of an image is its patient, parsed from the file name (``person1019_virus_1708`` ->
``person1019``, ``IM-0143-0001`` -> ``IM-0143``), so :func:`~semalign_core.data.split_by_group`
keeps a patient's images on one side.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import InvalidInputError
from .manifest import IMAGE_EXTENSIONS, Manifest, Record

__all__ = ["kermany_manifest", "patient_id"]

_PERSON = re.compile(r"^(person\d+)_", re.I)
_IM = re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-\d+", re.I)


def patient_id(filename: str) -> str | None:
    """The patient encoded in a Kermany file name, or ``None`` if the name does not say."""
    stem = Path(filename).stem
    for pattern in (_PERSON, _IM):
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return None


def _resolver() -> Callable[[Path], str]:
    """``str(path.resolve())`` for many files in few folders: each folder is resolved once and
    only the file itself is checked for a link (one ``lstat`` per image instead of one per path
    component, which is most of reading ``labels.csv``)."""
    folders: dict[Path, str] = {}

    def resolve(path: Path) -> str:
        if path.name in ("", ".", "..") or os.path.islink(path):
            return str(path.resolve())
        parent = path.parent
        if parent not in folders:
            folders[parent] = str(parent.resolve())
        return os.path.join(folders[parent], path.name)

    return resolve


def kermany_manifest(root: str | os.PathLike[str], *, check_files: bool = True) -> Manifest:
    """The Kermany images under ``root`` with labels, splits and patient groups.

    Parameters
    ----------
    root : path
        A folder with ``labels.csv``, or with ``<split>/<class>/`` sub-folders.
    check_files : bool
        Verify that every listed image exists.

    Returns
    -------
    Manifest
        Ids are the image paths relative to ``root``; labels ``normal`` / ``pneumonia``.

    Raises
    ------
    InvalidInputError
        ``root`` is missing or in neither layout.
    """
    base = Path(root)
    if not base.is_dir():
        raise InvalidInputError(f"Kermany images not found at {base} (expected a folder with "
                                f"labels.csv or <split>/<class>/ sub-folders)")
    labels_csv = base / "labels.csv"
    records = []
    resolve = _resolver()
    if labels_csv.is_file():
        with open(labels_csv, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "split", "label"} - set(reader.fieldnames or [])
            if missing:
                raise InvalidInputError(f"{labels_csv} lacks column(s) {sorted(missing)}")
            for row in reader:
                rel = row["path"].strip()
                records.append(Record(rel, resolve(base / rel), None,
                                      (row["label"].strip().lower(),), row["split"].strip(),
                                      patient_id(rel)))
    else:
        for split_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
                for path in sorted(class_dir.iterdir()):
                    if path.suffix.lower() in IMAGE_EXTENSIONS:
                        rel = path.relative_to(base).as_posix()
                        records.append(Record(rel, resolve(path), None,
                                              (class_dir.name.lower(),), split_dir.name,
                                              patient_id(path.name)))
        if not records:
            raise InvalidInputError(f"{base} has no labels.csv and no <split>/<class>/<image> "
                                    f"files")
    manifest = Manifest(records, source=f"kermany:{base}")
    return manifest.check_files() if check_files else manifest
