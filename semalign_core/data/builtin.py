"""The built-in datasets, registered through ``register_datasets`` like any plugin's.

``kermany``
    Kermany pediatric chest X-rays (normal vs. pneumonia): ``root`` is the images folder
    (:func:`~semalign_core.data.kermany.kermany_manifest`).
``openi``
    Open-i chest X-ray reports: ``root`` is ``NLMCXR_reports.tgz`` or a folder of its XML files
    (:func:`~semalign_core.data.openi.openi_manifest`).
``mimic-cxr``, ``chexpert``, ``nih-chestxray14``, ``rsna-pneumonia``
    The public chest X-ray datasets in their official layouts (``docs/datasets.md``):
    :func:`~semalign_core.data.mimic.mimic_cxr_manifest`,
    :func:`~semalign_core.data.chexpert.chexpert_manifest` (``protocol="5x200"`` gives
    :func:`~semalign_core.data.chexpert.chexpert_5x200`),
    :func:`~semalign_core.data.nih.nih_chestxray14_manifest`,
    :func:`~semalign_core.data.rsna.rsna_pneumonia_manifest`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import InvalidInputError
from ..plugins.hookspecs import hookimpl
from .chexpert import chexpert_5x200, chexpert_manifest
from .kermany import kermany_manifest
from .manifest import Manifest
from .mimic import mimic_cxr_manifest
from .nih import nih_chestxray14_manifest
from .openi import openi_manifest
from .rsna import rsna_pneumonia_manifest

__all__ = ["chexpert", "kermany", "openi"]


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


def chexpert(root: str | os.PathLike[str], *, protocol: str | None = None, seed: int = 0,
             per_class: int = 200, **options: object) -> Manifest:
    """CheXpert; ``protocol="5x200"`` samples the seeded 5x200 protocol from the read images."""
    if protocol not in (None, "5x200"):
        raise InvalidInputError(f"protocol must be None or '5x200', got {protocol!r}")
    manifest = chexpert_manifest(root, **options)  # type: ignore[arg-type]
    return chexpert_5x200(manifest, per_class=per_class, seed=seed) if protocol else manifest


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register("kermany", kermany, description="Kermany pediatric chest X-rays, normal vs. pneumonia")
    register("openi", openi, description="Open-i chest X-ray reports, labelled from MeSH tags")
    register("mimic-cxr", mimic_cxr_manifest,
             description="MIMIC-CXR-JPG v2 images with their MIMIC-CXR report sections")
    register("chexpert", chexpert, description="CheXpert v1.0 (or -small); protocol='5x200'")
    register("nih-chestxray14", nih_chestxray14_manifest,
             description="NIH ChestX-ray14 (NIH Box or Kaggle copy), official splits")
    register("rsna-pneumonia", rsna_pneumonia_manifest,
             description="RSNA Pneumonia Detection Challenge stage 2 (DICOM)")
