"""RSNA Pneumonia Detection Challenge (stage 2) as a manifest of DICOM images.

Shih G. et al. (2019), *Augmenting the NIH Chest Radiograph Dataset with Expert Annotations of
Possible Pneumonia*, Radiology: AI. Distributed on Kaggle (``rsna-pneumonia-detection-challenge``)
under the competition's rules: non-commercial research use, cite the paper.

Layout read (as Kaggle ships it)::

    <root>/stage_2_train_labels.csv          patientId, x, y, width, height, Target
    <root>/stage_2_detailed_class_info.csv   patientId, class
    <root>/stage_2_train_images/<patientId>.dcm

A patient with several boxes has several rows in both CSVs; they become one record. ``Target`` 1
(every row of the patient) means pneumonia-like lung opacity. Labels:

``labels="target"`` (default)  ``("Pneumonia",)`` for Target 1, no label otherwise (multi-label
                               convention: no label means negative)
``labels="class"``             the single detailed class: ``Lung Opacity``, ``Normal`` or
                               ``No Lung Opacity / Not Normal``

Each image is one patient (the competition's ``patientId``), which is also the group. The
competition's test labels were never released, so every record is in split ``train``: use
:func:`~semalign_core.data.split_by_group` for a held-out split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InvalidInputError
from ._tables import check_choice, check_root, find_table, read_table, view_filter
from .manifest import Manifest, Record

__all__ = ["RSNA_CLASSES", "RSNA_LABELS", "RSNA_VIEWS", "rsna_pneumonia_manifest"]

DATASET = "rsna-pneumonia"
#: The values of ``class`` in ``stage_2_detailed_class_info.csv``.
RSNA_CLASSES = ("Lung Opacity", "No Lung Opacity / Not Normal", "Normal")
#: ``labels=`` choices.
RSNA_LABELS = ("target", "class")
#: ``views=`` choices (the DICOM ``ViewPosition``, lower-cased; every image is frontal).
RSNA_VIEWS = ("frontal", "pa", "ap")
_LAYOUT = ("stage_2_train_labels.csv, stage_2_detailed_class_info.csv and "
           "stage_2_train_images/<patientId>.dcm")


def _per_patient(rows: list[dict[str, str]], column: str, where: Path) -> dict[str, str]:
    """One value per patient, checking that a patient's rows (one per box) agree."""
    out: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        patient, value = row["patientId"].strip(), row[column].strip()
        if out.setdefault(patient, value) != value:
            raise InvalidInputError(f"{DATASET}: {where} line {line}: patient {patient} has "
                                    f"{column} {value!r} after {out[patient]!r}; every box row "
                                    f"of a patient must agree")
    return out


def _view(path: Path) -> str:
    """The DICOM ``ViewPosition`` (header only, pixels are not read)."""
    try:
        import pydicom
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInputError("pydicom is needed for views= on rsna-pneumonia; install "
                                "'semalign-core[images]'") from exc
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise InvalidInputError(f"{DATASET}: cannot read the DICOM header of {path}: {exc}"
                                ) from exc
    return str(getattr(header, "ViewPosition", "")).strip().lower()


def _labels(target: str, detail: str, labels: str, where: str) -> tuple[str, ...]:
    if target not in ("0", "1"):
        raise InvalidInputError(f"{where}: Target is {target!r}; expected 0 or 1")
    if detail not in RSNA_CLASSES:
        raise InvalidInputError(f"{where}: class {detail!r} is not one of {list(RSNA_CLASSES)}")
    if (target == "1") != (detail == "Lung Opacity"):
        raise InvalidInputError(f"{where}: Target {target} disagrees with class {detail!r}")
    if labels == "class":
        return (detail,)
    return ("Pneumonia",) if target == "1" else ()


def rsna_pneumonia_manifest(root: str | os.PathLike[str], *, labels: str = "target",
                            views: str | Sequence[str] | None = None,
                            check_files: bool = True) -> Manifest:
    """One record per labelled RSNA image (not one per box row).

    Parameters
    ----------
    root : path
        The competition folder.
    labels : {"target", "class"}
        See the module docs.
    views : str or sequence of str, optional
        ``"pa"`` or ``"ap"`` (read from each DICOM header, so slower), or ``"frontal"``.
    check_files : bool
        Verify that every image exists.

    Returns
    -------
    Manifest
        Ids the ``patientId``; images ``stage_2_train_images/<patientId>.dcm``; split ``train``;
        group the ``patientId``.

    Raises
    ------
    InvalidInputError
        A bad option, a wrong or empty root, a missing CSV or one with other columns, rows of a
        patient that disagree, a patient in only one of the CSVs.
    """
    check_choice("labels", labels, RSNA_LABELS)
    keep = view_filter(views, RSNA_VIEWS)
    base = check_root(root, DATASET, _LAYOUT)
    target_path = find_table(base, ["stage_2_train_labels.csv"], DATASET, _LAYOUT)
    targets = _per_patient(read_table(target_path, ["patientId", "x", "y", "width", "height",
                                                    "Target"], DATASET), "Target", target_path)
    class_path = find_table(base, ["stage_2_detailed_class_info.csv"], DATASET, _LAYOUT)
    classes = _per_patient(read_table(class_path, ["patientId", "class"], DATASET), "class",
                           class_path)
    only = sorted(set(targets) ^ set(classes))
    if only:
        raise InvalidInputError(f"{DATASET}: patient {only[0]} is in only one of {target_path} "
                                f"and {class_path} ({len(only)} such patients)")
    records = []
    for patient, target in targets.items():
        path = base / "stage_2_train_images" / f"{patient}.dcm"
        if keep is not None and "frontal" not in keep and _view(path) not in keep:
            continue
        records.append(Record(patient, str(path.resolve()), None,
                              _labels(target, classes[patient], labels,
                                      f"{target_path} patient {patient}"), "train", patient))
    if not records:
        raise InvalidInputError(f"{DATASET}: no image of {target_path} has views {views!r}")
    manifest = Manifest(records, source=f"{DATASET}:{base}")
    return manifest.check_files() if check_files else manifest
