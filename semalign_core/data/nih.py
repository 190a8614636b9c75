"""NIH ChestX-ray14 as a multi-label manifest with the official train/val and test lists.

Wang X. et al. (2017), *ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks*, CVPR.
Released by the NIH Clinical Center (public, no restriction on use; cite the paper and
acknowledge the NIH Clinical Center). Kaggle mirrors it as ``nih-chest-xrays/data``.

Layout read (the NIH Box folder, or the Kaggle copy)::

    <root>/Data_Entry_2017.csv        Image Index, Finding Labels, Patient ID, View Position...
                                      (or Data_Entry_2017_v2020.csv; on Kaggle lines end in ",")
    <root>/train_val_list.txt         one image name per line
    <root>/test_list.txt
    <root>/images/00000001_000.png    (NIH, after unpacking images_001.tar.gz ...)
    <root>/images_001/images/...png   (Kaggle)

``Finding Labels`` holds ``A|B`` or ``No Finding``; ``No Finding`` is never a label.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InvalidInputError
from ._tables import check_root, find_table, read_table, view_filter
from .manifest import Manifest, Record

__all__ = ["NIH_FINDINGS", "NIH_VIEWS", "nih_chestxray14_manifest"]

DATASET = "nih-chestxray14"
#: The 14 findings as ``Finding Labels`` spells them.
NIH_FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule",
                "Pneumonia", "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis",
                "Pleural_Thickening", "Hernia")
#: ``views=`` choices (``View Position``, lower-cased; every image is frontal).
NIH_VIEWS = ("frontal", "pa", "ap")
_LAYOUT = ("Data_Entry_2017.csv, train_val_list.txt, test_list.txt and images/ (or the Kaggle "
           "images_NNN/images/)")
_LISTS = {"train": "train_val_list.txt", "test": "test_list.txt"}


def _image_index(root: Path) -> dict[str, Path]:
    folders = [root / "images", *sorted(root.glob("images_*/images"))]
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in folder.iterdir():
                found.setdefault(path.name, path)
    return found


def _split_of(root: Path) -> dict[str, str]:
    split: dict[str, str] = {}
    for name, file in _LISTS.items():
        path = root / file
        if not path.is_file():
            raise InvalidInputError(f"{DATASET}: {path} not found (expected {_LAYOUT})")
        for line in path.read_text(encoding="utf-8").split():
            if line in split:
                raise InvalidInputError(f"{DATASET}: {line} is in both {_LISTS['train']} and "
                                        f"{_LISTS['test']}")
            split[line] = name
    return split


def _labels(cell: str, where: str) -> tuple[str, ...]:
    parts = [p.strip() for p in cell.split("|") if p.strip()]
    if not parts:
        raise InvalidInputError(f"{where}: empty 'Finding Labels'; expected findings joined by "
                                f"'|' or 'No Finding'")
    unknown = [p for p in parts if p not in NIH_FINDINGS and p != "No Finding"]
    if unknown or ("No Finding" in parts and len(parts) > 1):
        raise InvalidInputError(f"{where}: 'Finding Labels' {cell!r} is not 'No Finding' or "
                                f"'|'-joined findings of {list(NIH_FINDINGS)}")
    return tuple(p for p in parts if p != "No Finding")


def nih_chestxray14_manifest(root: str | os.PathLike[str], *,
                             views: str | Sequence[str] | None = None,
                             check_files: bool = True) -> Manifest:
    """One record per ChestX-ray14 image with its findings, official split and patient.

    Parameters
    ----------
    root : path
        The folder holding ``Data_Entry_2017.csv`` and the image folders.
    views : str or sequence of str, optional
        ``"pa"``, ``"ap"`` (or ``"frontal"``, every image); default every view.
    check_files : bool
        Verify that every image of the CSV was found under ``images/`` or ``images_*/images/``.

    Returns
    -------
    Manifest
        Ids the image names (``00000001_000.png``); labels the findings; split ``train`` (the
        official train/val list) or ``test``; group the patient id.

    Raises
    ------
    InvalidInputError
        A bad option, a wrong or empty root, a missing CSV, list or image, or a CSV with other
        columns or unknown findings.
    """
    keep = view_filter(views, NIH_VIEWS)
    base = check_root(root, DATASET, _LAYOUT)
    path = find_table(base, ["Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv"], DATASET,
                      _LAYOUT)
    rows = read_table(path, ["Image Index", "Finding Labels", "Patient ID", "View Position"],
                      DATASET)
    split = _split_of(base)
    images = _image_index(base)
    records, missing = [], []
    for line, row in enumerate(rows, start=2):
        view = row["View Position"].strip().lower()
        if keep is not None and not keep & {view, "frontal"}:
            continue
        name = row["Image Index"].strip()
        labels = _labels(row["Finding Labels"], f"{path} line {line}")
        image = images.get(name)
        if image is None:
            missing.append(name)
        records.append(Record(name, str(image.resolve()) if image else str(base / "images" / name),
                              None, labels, split.get(name), row["Patient ID"].strip()))
    if check_files and missing:
        raise InvalidInputError(f"{DATASET}: {len(missing)} image(s) of {path} not found under "
                                f"{base}/images/ or {base}/images_*/images/ (first: "
                                f"{missing[0]}); unpack every images_NNN archive")
    if not records:
        raise InvalidInputError(f"{DATASET}: no image of {path} has views {views!r}")
    return Manifest(records, source=f"{DATASET}:{base}")
