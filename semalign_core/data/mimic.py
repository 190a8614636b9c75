"""MIMIC-CXR-JPG v2 images with their MIMIC-CXR reports, as a manifest of instance-level pairs.

Johnson A. et al. (2019), *MIMIC-CXR-JPG, a large publicly available database of labeled chest
radiographs*, PhysioNet, doi:10.13026/8360-t248 (credentialed access, PhysioNet Credentialed
Health Data License 1.5.0). The reports come from MIMIC-CXR (doi:10.13026/C2JT1Q), same licence.

Layout read (as the datasets ship)::

    <root>/mimic-cxr-2.0.0-metadata.csv[.gz]      dicom_id, subject_id, study_id, ViewPosition...
    <root>/mimic-cxr-2.0.0-chexpert.csv[.gz]      subject_id, study_id, 14 observations
    <root>/mimic-cxr-2.0.0-negbio.csv[.gz]        the same columns, NegBio labeller
    <root>/mimic-cxr-2.0.0-split.csv[.gz]         dicom_id, study_id, subject_id, split
    <root>/files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg
    <reports>/files/pXX/pSUBJECT/sSTUDY.txt        from mimic-cxr-reports.zip (or the zip itself)

Every image of a study gets the study's labels and the chosen section of the study's report, so
anchors are *instance-level* pairs (an image and its own report). Groups are subject ids.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

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
from .reports import REPORT_SECTIONS, report_section

__all__ = ["LABELERS", "MIMIC_VIEWS", "mimic_cxr_manifest"]

DATASET = "mimic-cxr"
#: ``labeler=`` choices: which label file of MIMIC-CXR-JPG is read.
LABELERS = ("chexpert", "negbio")
#: ``views=`` choices (``ViewPosition``, lower-cased; a blank cell is ``"unknown"``).
MIMIC_VIEWS = ("frontal", "lateral", "pa", "ap", "ll", "ap axial", "pa lld", "ap lld", "pa rld",
               "ap rld", "lao", "rao", "lpo", "xtable lateral", "swimmers", "unknown")
_FRONTAL, _LATERAL = frozenset({"pa", "ap"}), frozenset({"lateral", "ll", "xtable lateral"})
_LAYOUT = ("mimic-cxr-2.0.0-metadata.csv[.gz], -chexpert.csv[.gz] (or -negbio), -split.csv[.gz] "
           "and files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg")


def _view_tags(view: str) -> set[str]:
    code = view.strip().lower() or "unknown"
    tags = {code}
    if code in _FRONTAL:
        tags.add("frontal")
    if code in _LATERAL:
        tags.add("lateral")
    return tags


class _Reports:
    """Study reports from a folder holding ``files/`` or from ``mimic-cxr-reports.zip``."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.zip = zipfile.ZipFile(source) if source.is_file() else None
        names = self.zip.namelist() if self.zip else []
        self.found = (any(n.endswith(".txt") for n in names) if self.zip
                      else (source / "files").is_dir())
        self._zip_names = {n.split("files/", 1)[-1]: n for n in names if n.endswith(".txt")}

    def read(self, rel: str) -> str | None:
        if self.zip is not None:
            name = self._zip_names.get(rel)
            return self.zip.read(name).decode("utf-8") if name else None
        path = self.source / "files" / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None


def _labels(root: Path, labeler: str, uncertain: str) -> dict[str, tuple[str, ...]]:
    path = find_table(root, [f"mimic-cxr-2.0.0-{labeler}.csv"], DATASET, _LAYOUT)
    rows = read_table(path, ["subject_id", "study_id", *CHEXPERT_OBSERVATIONS], DATASET)
    return {row["study_id"].strip(): observation_labels(row, CHEXPERT_OBSERVATIONS, uncertain,
                                                        f"{path} line {line}")
            for line, row in enumerate(rows, start=2)}


def _text(reports: _Reports | None, subject: str, study: str, section: str | None
          ) -> str | None:
    if reports is None or section is None:
        return None
    raw = reports.read(f"p{subject[:2]}/p{subject}/s{study}.txt")
    text = report_section(raw, section) if raw is not None else ""
    return text or None


def mimic_cxr_manifest(root: str | os.PathLike[str], *, section: str | None = "impression",
                       reports: str | os.PathLike[str] | None = None,
                       labeler: str = "chexpert", uncertain: str = "zeros",
                       views: str | Sequence[str] | None = None,
                       check_files: bool = True) -> Manifest:
    """One record per MIMIC-CXR-JPG image, with its study's labels, report section and split.

    Parameters
    ----------
    root : path
        The MIMIC-CXR-JPG folder (the one holding ``files/`` and the CSVs).
    section : {"impression", "findings", "both"} or None
        The report section that becomes each record's ``text`` (see
        :func:`~semalign_core.data.reports.report_section`); ``None`` reads no report. A study
        whose report lacks the section gets no text.
    reports : path, optional
        A folder holding the MIMIC-CXR report ``files/`` tree, or ``mimic-cxr-reports.zip``;
        default ``root``.
    labeler : {"chexpert", "negbio"}
    uncertain : {"zeros", "ones"}
        What an uncertain (-1) observation becomes; a blank cell is negative.
    views : str or sequence of str, optional
        Keep these views (``"frontal"``, ``"lateral"`` or ``ViewPosition`` codes such as
        ``"pa"``); default every view.
    check_files : bool
        Verify that every image exists.

    Returns
    -------
    Manifest
        Ids ``files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg``; labels the positive observations
        (``No Finding`` never is one); split ``train`` / ``validate`` / ``test``; group the
        subject id. Images whose study has no labeller row are left out with a warning.

    Raises
    ------
    InvalidInputError
        A bad option, a wrong or empty root, a missing CSV or one with other columns, or no
        report where ``section`` asks for reports.
    """
    if section is not None:
        check_choice("section", section, REPORT_SECTIONS)
    check_choice("labeler", labeler, LABELERS)
    check_choice("uncertain", uncertain, UNCERTAIN_POLICIES)
    keep = view_filter(views, MIMIC_VIEWS)
    base = check_root(root, DATASET, _LAYOUT)
    meta_path = find_table(base, ["mimic-cxr-2.0.0-metadata.csv"], DATASET, _LAYOUT)
    meta = read_table(meta_path, ["dicom_id", "subject_id", "study_id", "ViewPosition"], DATASET)
    labels = _labels(base, labeler, uncertain)
    split_path = find_table(base, ["mimic-cxr-2.0.0-split.csv"], DATASET, _LAYOUT)
    splits = {r["dicom_id"].strip(): r["split"].strip()
              for r in read_table(split_path, ["dicom_id", "split"], DATASET)}
    report_source = _open_reports(Path(reports) if reports is not None else base, section)
    records, unlabelled = [], []
    for row in meta:
        if keep is not None and not keep & _view_tags(row["ViewPosition"]):
            continue
        dicom, subject, study = (row[c].strip() for c in ("dicom_id", "subject_id", "study_id"))
        rel = f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg"
        if study not in labels:
            unlabelled.append(rel)
            continue
        records.append(Record(rel, str((base / rel).resolve()),
                              _text(report_source, subject, study, section), labels[study],
                              splits.get(dicom), subject))
    if unlabelled:
        warnings.warn(f"{DATASET}: {len(unlabelled)} image(s) left out because their study has "
                      f"no row in the {labeler} labels (first: {unlabelled[0]})", stacklevel=2)
    if not records:
        raise InvalidInputError(f"{DATASET}: no image of {meta_path} is left (views={views!r})")
    if section is not None and not any(r.text for r in records):
        raise InvalidInputError(f"{DATASET}: no report found for any study under "
                                f"{report_source.source if report_source else base}; expected "
                                f"files/pXX/pSUBJECT/sSTUDY.txt (pass reports=, or section=None)")
    manifest = Manifest(records, source=f"{DATASET}:{base}")
    return manifest.check_files() if check_files else manifest


def _open_reports(source: Path, section: str | None) -> _Reports | None:
    if section is None:
        return None
    if not source.exists():
        raise InvalidInputError(f"{DATASET}: reports {source} not found; expected a folder with "
                                f"files/pXX/pSUBJECT/sSTUDY.txt or mimic-cxr-reports.zip")
    try:
        return _Reports(source)
    except zipfile.BadZipFile as exc:
        raise InvalidInputError(f"{DATASET}: {source} is not a readable zip: {exc}") from exc
