"""Manifests, splits and readers for the public datasets of the demo, benchmarks and tests.

:mod:`semalign_core.data.kermany`
    Kermany pediatric chest X-rays (normal vs. pneumonia) as a
    :class:`~semalign_core.data.manifest.Manifest`.
:mod:`semalign_core.data.openi`
    Open-i (Indiana University) chest X-ray reports from ``NLMCXR_reports.tgz``, labelled from their
    MeSH finding tags.
:mod:`semalign_core.data.sources`
    Where those files are found: a local ``shared`` folder, or (online) their official sources.

Everything here parses with the standard library (``csv``, ``tarfile``, ``xml.etree``) and never
touches the network; downloading is confined to :mod:`semalign_core.data.sources`.
"""

from __future__ import annotations

from .kermany import kermany_manifest
from .manifest import (
    COLUMNS,
    IMAGE_EXTENSIONS,
    LABEL_SEPARATOR,
    Manifest,
    Record,
    read_manifest,
    split_by_group,
)
from .openi import OpenIReport, classify_report, openi_manifest, read_openi_reports

__all__ = ["COLUMNS", "IMAGE_EXTENSIONS", "LABEL_SEPARATOR", "Manifest", "OpenIReport", "Record",
           "classify_report", "kermany_manifest", "openi_manifest", "read_manifest",
           "read_openi_reports", "split_by_group"]
