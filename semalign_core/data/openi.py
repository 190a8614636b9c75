"""Open-i (Indiana University) chest X-ray reports: parse ``NLMCXR_reports.tgz``, label by tags.

The archive holds one XML file per report (``ecgen-radiology/<n>.xml``) with sections in
``<AbstractText Label="FINDINGS|IMPRESSION|...">`` and MeSH-style finding tags in
``<MeSH><major>...</major></MeSH>``. Demner-Fushman et al. (2016), JAMIA 23(2); distributed by the
U.S. National Library of Medicine; the same file ships in the ``torchxrayvision`` package.

Labels used by semalign's pneumonia demo (:func:`classify_report`):

``normal``     a major tag is exactly ``normal`` and no tag mentions a pneumonia-like finding
``pneumonia``  a major tag mentions pneumonia, consolidation, airspace disease or infiltrate
``None``       anything else (left out)
"""

from __future__ import annotations

import os
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .manifest import Manifest, Record
from .parsed_memo import memoised_rows

__all__ = ["PNEUMONIA_PATTERN", "SECTIONS", "OpenIReport", "classify_report", "openi_manifest",
           "read_openi_reports"]

#: Tags that count as pneumonia-like findings (case-insensitive).
PNEUMONIA_PATTERN = re.compile(r"pneumonia|consolidation|airspace disease|infiltrate", re.I)
#: ``section`` choices of :func:`openi_manifest`.
SECTIONS = ("impression", "findings", "both")


@dataclass(frozen=True)
class OpenIReport:
    """One parsed report.

    Attributes
    ----------
    id : str
        ``openi/<n>`` from the XML file name.
    findings, impression, indication, comparison : str
        Section texts (empty when absent). Anonymised words read ``XXXX``.
    tags : tuple of str
        The ``<major>`` MeSH-style finding tags, e.g. ``("normal",)`` or
        ``("Opacity/lung/base/left", "Pneumonia")``.
    """

    id: str
    findings: str
    impression: str
    indication: str
    comparison: str
    tags: tuple[str, ...]

    def text(self, section: str = "impression") -> str:
        """The report text of ``section``; falls back to the other section when it is empty.

        ``"both"`` joins findings and impression.
        """
        if section == "impression":
            return self.impression or self.findings
        if section == "findings":
            return self.findings or self.impression
        if section == "both":
            return " ".join(t for t in (self.findings, self.impression) if t)
        raise InvalidInputError(f"section must be one of {SECTIONS}, got {section!r}")


def classify_report(report: OpenIReport) -> str | None:
    """``"normal"``, ``"pneumonia"`` or ``None`` from the report's tags (see module docs)."""
    pneumonia = any(PNEUMONIA_PATTERN.search(tag) for tag in report.tags)
    if pneumonia:
        return "pneumonia"
    if any(tag.strip().lower() == "normal" for tag in report.tags):
        return "normal"
    return None


def _parse(name: str, data: bytes) -> OpenIReport:
    try:
        # expat (>= 2.4.1, bundled with supported Pythons) refuses entity-expansion bombs
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInputError(f"{name} is not valid XML: {exc}") from exc
    sections = {(node.get("Label") or "").upper(): " ".join((node.text or "").split())
                for node in root.iter("AbstractText")}
    tags = tuple(" ".join((node.text or "").split()) for node in root.iter("major")
                 if (node.text or "").strip())
    stem = Path(name).stem
    return OpenIReport(f"openi/{stem}", sections.get("FINDINGS", ""),
                       sections.get("IMPRESSION", ""), sections.get("INDICATION", ""),
                       sections.get("COMPARISON", ""), tags)


#: Bump when :func:`_parse` could read the same archive differently (retires memoised parses).
_PARSER_VERSION = 1


def _read_archive(source: Path) -> list[OpenIReport]:
    reports = []
    with tarfile.open(source, "r:*") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml"):
                handle = archive.extractfile(member)
                if handle is not None:
                    reports.append(_parse(member.name, handle.read()))
    return reports


def _row(report: OpenIReport) -> list[Any]:
    return [report.id, report.findings, report.impression, report.indication,
            report.comparison, list(report.tags)]


def read_openi_reports(path: str | os.PathLike[str]) -> list[OpenIReport]:
    """Every report in an ``NLMCXR_reports.tgz`` archive (or a folder of its XML files).

    Reports come back sorted by their number, so the order is the same on every machine.

    Raises
    ------
    InvalidInputError
        The archive is missing, unreadable or holds no report.
    """
    source = Path(path)
    if source.is_dir():
        reports = [_parse(str(xml), xml.read_bytes()) for xml in source.rglob("*.xml")]
    elif source.is_file():
        try:
            # the same archive is parsed once per machine (about 2 s), then read back
            rows = memoised_rows(source, "openi-reports", _PARSER_VERSION,
                                 lambda: [_row(r) for r in _read_archive(source)])
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InvalidInputError(f"{source} is not a readable tar archive: {exc}") from exc
        reports = [OpenIReport(*row[:5], tuple(row[5])) for row in rows]
    else:
        raise InvalidInputError(f"Open-i reports not found at {source}; pass the path of "
                                f"NLMCXR_reports.tgz (see docs/experiments.md for sources)")
    if not reports:
        raise InvalidInputError(f"{source} holds no report XML files")

    def number(report: OpenIReport) -> tuple[int, str]:
        tail = report.id.rsplit("/", 1)[-1]
        return (int(tail), tail) if tail.isdigit() else (1 << 62, tail)

    return sorted(reports, key=number)


def openi_manifest(path: str | os.PathLike[str], *, section: str = "impression",
                   classes: Sequence[str] | None = ("normal", "pneumonia"),
                   split: str | None = None) -> Manifest:
    """A text manifest of the Open-i reports, labelled with :func:`classify_report`.

    Parameters
    ----------
    path : path
        ``NLMCXR_reports.tgz`` or a folder of its XML files.
    section : {"impression", "findings", "both"}
        Which text becomes the item's text (see :meth:`OpenIReport.text`).
    classes : sequence of str or None
        Keep reports of these labels; ``None`` keeps every report (unlabelled ones too).
    split : str, optional
        Written into every item.

    Returns
    -------
    Manifest
        Items ``openi/<n>`` with ``text`` and ``label``; each report is its own ``group``.
        Reports with an empty text are left out.
    """
    if section not in SECTIONS:
        raise InvalidInputError(f"section must be one of {SECTIONS}, got {section!r}")
    records = []
    for report in read_openi_reports(path):
        label = classify_report(report)
        if classes is not None and label not in classes:
            continue
        text = report.text(section)
        if not text:
            continue
        records.append(Record(report.id, None, text, (label,) if label else (), split,
                              report.id))
    if not records:
        raise InvalidInputError(f"no Open-i report in {path} has a label in {classes}")
    return Manifest(records, source=f"openi:{path}")
