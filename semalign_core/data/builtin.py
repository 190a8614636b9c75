"""The built-in datasets, registered through ``register_datasets`` like any plugin's.

``kermany``
    Kermany pediatric chest X-rays (normal vs. pneumonia): ``root`` is the images folder
    (:func:`~semalign_core.data.kermany.kermany_manifest`).
``openi``
    Open-i chest X-ray reports: ``root`` is ``NLMCXR_reports.tgz`` or a folder of its XML files
    (:func:`~semalign_core.data.openi.openi_manifest`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..plugins.hookspecs import hookimpl
from .kermany import kermany_manifest
from .manifest import Manifest
from .openi import openi_manifest

__all__ = ["kermany", "openi"]


def kermany(root: str | os.PathLike[str], *, check_files: bool = True) -> Manifest:
    """The Kermany chest X-rays under ``root`` (``labels.csv`` or ``<split>/<class>/``)."""
    return kermany_manifest(root, check_files=check_files)


def openi(root: str | os.PathLike[str], *, section: str = "impression",
          classes: Sequence[str] | None = ("normal", "pneumonia"),
          split: str | None = None) -> Manifest:
    """The Open-i reports in ``root``, one text item per report labelled from its MeSH tags."""
    # configs give lists (YAML has no tuples); the reader wants a fixed sequence
    return openi_manifest(root, section=section,
                          classes=tuple(classes) if classes is not None else None, split=split)


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register("kermany", kermany, description="Kermany pediatric chest X-rays, normal vs. pneumonia")
    register("openi", openi, description="Open-i chest X-ray reports, labelled from MeSH tags")
