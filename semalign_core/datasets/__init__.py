"""Readers for the public datasets semalign's demo, benchmarks and tests use.

:mod:`semalign_core.datasets.kermany`
    Kermany pediatric chest X-rays (normal vs. pneumonia) as a
    :class:`~semalign_core.data.Manifest`.
:mod:`semalign_core.datasets.openi`
    Open-i (Indiana University) chest X-ray reports from ``NLMCXR_reports.tgz``, labelled from their
    MeSH finding tags.
:mod:`semalign_core.datasets.sources`
    Where those files are found: a local ``shared`` folder, or (online) their official sources.

Everything here parses with the standard library (``csv``, ``tarfile``, ``xml.etree``) and never
touches the network; downloading is confined to :mod:`semalign_core.datasets.sources`.
"""

from __future__ import annotations

from .kermany import kermany_manifest
from .openi import OpenIReport, classify_report, openi_manifest, read_openi_reports

__all__ = ["OpenIReport", "classify_report", "kermany_manifest", "openi_manifest",
           "read_openi_reports"]
