"""CheXpert v1.0 (full or ``-small``) as a multi-label manifest, and the CheXpert 5x200 protocol.

Irvin J. et al. (2019), *CheXpert: A Large Chest Radiograph Dataset with Uncertainty Labels and
Expert Comparison*, AAAI. Distributed by the Stanford AIMI Center under the Stanford University
Dataset Research Use Agreement (registration required).

Layout read (as the dataset ships; ``root`` is the ``CheXpert-v1.0-small/`` or ``CheXpert-v1.0/``
folder, or the folder holding it)::

    CheXpert-v1.0-small/train.csv    Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observations
    CheXpert-v1.0-small/valid.csv
    CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg

``Path`` cells start with the folder name (``CheXpert-v1.0-small/train/...``). Observation cells
are ``1.0`` (positive), ``0.0`` (negative), ``-1.0`` (uncertain) or blank (not mentioned:
negative).

**CheXpert 5x200** (the zero-shot protocol of ConVIRT and GLoRIA): from the chosen split, 200
images per class for Atelectasis, Cardiomegaly, Consolidation, Edema and Pleural Effusion, each
with exactly one of these five positive (after the uncertainty policy); each image's single label
is that class. :func:`chexpert_5x200` samples them with ``numpy.random.default_rng(seed)``, so the
same seed always gives the same 1000 images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import InvalidInputError
from ._tables import (
    CHEXPERT_OBSERVATIONS,
    UNCERTAIN_POLICIES,
    check_choice,
    check_root,
    find_table,
    observation_labels,
    read_table,
    view_filter,
)
from .manifest import Manifest, Record

__all__ = ["CHEXPERT_5X200_CLASSES", "CHEXPERT_VIEWS", "chexpert_5x200", "chexpert_manifest"]

DATASET = "chexpert"
#: The five competition findings of the 5x200 protocol.
CHEXPERT_5X200_CLASSES = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                          "Pleural Effusion")
#: ``views=`` choices: ``Frontal/Lateral`` and ``AP/PA`` values, lower-cased.
CHEXPERT_VIEWS = ("frontal", "lateral", "ap", "pa", "ll", "rl")
_FOLDERS = ("CheXpert-v1.0-small", "CheXpert-v1.0")
_SPLITS = {"train": "train.csv", "valid": "valid.csv"}
_LAYOUT = ("CheXpert-v1.0-small/ (or CheXpert-v1.0/) with train.csv, valid.csv and "
           "train/patientNNNNN/studyN/viewN_frontal.jpg")


def _dataset_folder(root: str | os.PathLike[str]) -> Path:
    base = check_root(root, DATASET, _LAYOUT)
    if (base / "train.csv").is_file() or (base / "valid.csv").is_file():
        return base
    for name in _FOLDERS:
        if (base / name).is_dir():
            return base / name
    return base  # find_table names what is missing (and which dataset the folder looks like)


def _record(row: dict[str, str], folder: Path, split: str, uncertain: str, where: str
            ) -> tuple[Record, set[str]]:
    path = PurePosixPath(row["Path"].strip())
    rel = PurePosixPath(*path.parts[1:]) if path.parts and path.parts[0] in _FOLDERS else path
    patient = next((p for p in rel.parts if p.startswith("patient")), None)
    if patient is None:
        raise InvalidInputError(f"{where}: Path {row['Path']!r} names no patientNNNNN folder")
    side = row["Frontal/Lateral"].strip().lower()
    tags = {side, row["AP/PA"].strip().lower()} - {""}
    labels = observation_labels(row, CHEXPERT_OBSERVATIONS, uncertain, where)
    return Record(rel.as_posix(), str((folder / rel).resolve()), None, labels, split,
                  patient), tags


def chexpert_manifest(root: str | os.PathLike[str], *, uncertain: str = "zeros",
                      views: str | Sequence[str] | None = None,
                      splits: Sequence[str] = ("train", "valid"),
                      check_files: bool = True) -> Manifest:
    """One record per CheXpert image with its positive observations, split and patient.

    Parameters
    ----------
    root : path
        ``CheXpert-v1.0-small/``, ``CheXpert-v1.0/`` or the folder holding one of them.
    uncertain : {"zeros", "ones"}
        What an uncertain (-1) observation becomes (U-Zeros / U-Ones); blank is negative.
    views : str or sequence of str, optional
        ``"frontal"``, ``"lateral"``, ``"ap"``, ``"pa"``...; default every view.
    splits : sequence of {"train", "valid"}
        Which CSVs are read.
    check_files : bool
        Verify that every image exists.

    Returns
    -------
    Manifest
        Ids the image paths relative to the dataset folder (``train/patient00001/...``); labels
        every positive observation but ``No Finding`` (``Support Devices`` included); split
        ``train`` / ``valid``; group the patient (``patient00001``).

    Raises
    ------
    InvalidInputError
        A bad option, a wrong or empty root, a missing CSV or one with other columns.
    """
    check_choice("uncertain", uncertain, UNCERTAIN_POLICIES)
    keep = view_filter(views, CHEXPERT_VIEWS)
    for split in splits:
        check_choice("splits", split, tuple(_SPLITS))
    folder = _dataset_folder(root)
    records = []
    for split in splits:
        path = find_table(folder, [_SPLITS[split]], DATASET, _LAYOUT)
        rows = read_table(path, ["Path", "Frontal/Lateral", "AP/PA", *CHEXPERT_OBSERVATIONS],
                          DATASET)
        for line, row in enumerate(rows, start=2):
            record, tags = _record(row, folder, split, uncertain, f"{path} line {line}")
            if keep is None or keep & tags:
                records.append(record)
    if not records:
        raise InvalidInputError(f"{DATASET}: no image of {folder} has views {views!r}")
    manifest = Manifest(records, source=f"{DATASET}:{folder}")
    return manifest.check_files() if check_files else manifest


def chexpert_5x200(manifest: Manifest, *, per_class: int = 200, seed: int = 0,
                   classes: Sequence[str] = CHEXPERT_5X200_CLASSES) -> Manifest:
    """The CheXpert 5x200 protocol: ``per_class`` images per class, exactly one class positive.

    Parameters
    ----------
    manifest : Manifest
        From :func:`chexpert_manifest` (its uncertainty policy, views and splits apply).
    per_class : int
    seed : int
        Images are drawn with ``numpy.random.default_rng(seed)``; ids come back sorted.
    classes : sequence of str

    Returns
    -------
    Manifest
        ``per_class * len(classes)`` single-label records, labelled with their one positive
        class.

    Raises
    ------
    InvalidInputError
        A class with fewer than ``per_class`` eligible images, or a class the manifest lacks.
    """
    if per_class < 1:
        raise InvalidInputError(f"per_class must be >= 1, got {per_class!r}")
    rng = np.random.default_rng(seed)
    wanted = set(classes)
    chosen = []
    for name in classes:
        eligible = [r for r in manifest
                    if name in r.labels and len(wanted.intersection(r.labels)) == 1]
        if len(eligible) < per_class:
            raise InvalidInputError(f"{manifest.source}: only {len(eligible)} image(s) have "
                                    f"{name!r} as their one positive of {list(classes)}; the "
                                    f"protocol needs {per_class}")
        for i in sorted(rng.choice(len(eligible), per_class, replace=False).tolist()):
            record = eligible[i]
            chosen.append(Record(record.id, record.image, record.text, (name,), record.split,
                                 record.group))
    chosen.sort(key=lambda r: r.id)
    return Manifest(chosen, source=f"{manifest.source} (5x{per_class}, seed {seed})")
