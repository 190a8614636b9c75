"""Manifests, splits and readers for the public datasets of the demo, benchmarks and tests.

:mod:`semalign_core.data.kermany`
    Kermany pediatric chest X-rays (normal vs. pneumonia) as a
    :class:`~semalign_core.data.manifest.Manifest`.
:mod:`semalign_core.data.openi`
    Open-i (Indiana University) chest X-ray reports from ``NLMCXR_reports.tgz``, labelled from their
    MeSH finding tags.
:mod:`~semalign_core.data.mimic`, :mod:`~.chexpert`, :mod:`~.nih`, :mod:`~.rsna`
    MIMIC-CXR-JPG (with its reports), CheXpert (and its 5x200 protocol), NIH ChestX-ray14 and
    RSNA Pneumonia in their official on-disk layouts (see ``docs/datasets.md``).
:mod:`semalign_core.data.manifest`, :mod:`~.readers`, :mod:`~.splits`
    The :class:`Manifest` of records; reading and writing CSV / Parquet / image folders; group
    splits.
:mod:`semalign_core.data.reports`
    Sections of free-text radiology reports.
:mod:`semalign_core.data.sources`
    Where those files are found: a local ``shared`` folder, or (online) their official sources.

Everything here parses with the standard library (``csv``, ``tarfile``, ``xml.etree``) and never
touches the network; downloading is confined to :mod:`semalign_core.data.sources`. The
MIMIC-CXR, CheXpert, NIH and RSNA readers read only local copies (pydicom for RSNA's ``views=``).
"""

from __future__ import annotations

from .chexpert import chexpert_5x200, chexpert_manifest
from .kermany import kermany_manifest
from .manifest import COLUMNS, IMAGE_EXTENSIONS, LABEL_SEPARATOR, Manifest, Record
from .mimic import mimic_cxr_manifest
from .nih import nih_chestxray14_manifest
from .openi import OpenIReport, classify_report, openi_manifest, read_openi_reports
from .readers import read_manifest, write_manifest
from .reports import report_section, report_sections
from .rsna import rsna_pneumonia_manifest
from .splits import split_by_group

__all__ = ["COLUMNS", "IMAGE_EXTENSIONS", "LABEL_SEPARATOR", "Manifest", "OpenIReport", "Record",
           "chexpert_5x200", "chexpert_manifest", "classify_report", "kermany_manifest",
           "mimic_cxr_manifest", "nih_chestxray14_manifest", "openi_manifest", "read_manifest",
           "read_openi_reports", "report_section", "report_sections", "rsna_pneumonia_manifest",
           "split_by_group", "write_manifest"]
