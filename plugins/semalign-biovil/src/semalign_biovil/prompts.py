"""Prompt helpers for chest X-ray findings (CheXpert label names), as core ``PromptSet`` objects.

>>> from semalign_biovil.prompts import chexpert_prompts
>>> ps = chexpert_prompts(["Pneumonia", "Pleural Effusion"])
>>> ps.classes, ps.is_multilabel
(('Pneumonia', 'Pleural Effusion'), True)
>>> ps.prompts["Pleural Effusion"][0], ps.negatives["Pleural Effusion"][0]
('pleural effusion.', 'no pleural effusion.')

The data are plain dictionaries and tuples (:data:`FINDING_TERMS`, the template tuples); the
functions only fill templates through :meth:`semalign_core.PromptSet.from_templates`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from semalign_core import InvalidInputError

if TYPE_CHECKING:
    from semalign_core import PromptSet

__all__ = [
    "CHEXPERT_FINDINGS",
    "FINDING_TERMS",
    "NEGATIVE_TEMPLATES",
    "NORMAL_PROMPTS",
    "NO_FINDING",
    "POSITIVE_TEMPLATES",
    "chexpert_prompts",
    "finding_vs_normal_prompts",
]

#: The 14 CheXpert observation labels, in the CheXpert label file's order.
CHEXPERT_FINDINGS: tuple[str, ...] = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
)
NO_FINDING = "No Finding"

#: The words a radiology report uses for each finding (synonyms form an ensemble). "No Finding"
#: is not a finding with a presence/absence pair; see :data:`NORMAL_PROMPTS`.
FINDING_TERMS: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": ("enlarged cardiomediastinum",),
    "Cardiomegaly": ("cardiomegaly",),
    "Lung Opacity": ("lung opacity",),
    "Lung Lesion": ("lung lesion",),
    "Edema": ("pulmonary edema",),
    "Consolidation": ("consolidation",),
    "Pneumonia": ("pneumonia",),
    "Atelectasis": ("atelectasis",),
    "Pneumothorax": ("pneumothorax",),
    "Pleural Effusion": ("pleural effusion",),
    "Pleural Other": ("pleural thickening",),
    "Fracture": ("fracture",),
    "Support Devices": ("support devices",),
}

#: Presence templates (``{finding}`` is replaced by each term). Short report-style phrases, the
#: register CXR-BERT was trained on; the first one is CheXzero's bare ``"{}"``.
POSITIVE_TEMPLATES: tuple[str, ...] = (
    "{finding}.",
    "findings consistent with {finding}.",
    "there is {finding}.",
)
#: Absence templates, one per presence template.
NEGATIVE_TEMPLATES: tuple[str, ...] = (
    "no {finding}.",
    "no evidence of {finding}.",
    "there is no {finding}.",
)
#: Prompts for a normal study (the "No Finding" class of single-label sets).
NORMAL_PROMPTS: tuple[str, ...] = (
    "no acute cardiopulmonary process.",
    "no acute cardiopulmonary abnormality.",
    "the lungs are clear.",
)


def _terms(findings: Sequence[str] | None,
           terms: Mapping[str, str | Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    table = {**FINDING_TERMS, **{k: ((v,) if isinstance(v, str) else tuple(v))
                                 for k, v in (terms or {}).items()}}
    if isinstance(findings, str):
        raise InvalidInputError("findings must be a list of names, got a single string; wrap it "
                                "in a list")
    chosen = list(FINDING_TERMS) if findings is None else list(findings)
    if not chosen:
        raise InvalidInputError("findings is empty; name at least one finding")
    if NO_FINDING in chosen:
        raise InvalidInputError(
            f"{NO_FINDING!r} has no presence/absence pair; use finding_vs_normal_prompts() for a "
            f"normal class")
    unknown = [f for f in chosen if f not in table]
    if unknown:
        raise InvalidInputError(
            f"unknown finding(s) {unknown}; known: {sorted(FINDING_TERMS)}. For another finding, "
            f"give its words in terms={{name: 'words in a report'}}")
    return {f: table[f] for f in chosen}


def chexpert_prompts(findings: Sequence[str] | None = None, *,
                     templates: Sequence[str] = POSITIVE_TEMPLATES,
                     negative_templates: Sequence[str] = NEGATIVE_TEMPLATES,
                     terms: Mapping[str, str | Sequence[str]] | None = None) -> PromptSet:
    """Multi-label (CheXzero-style) prompts: per finding, a presence and an absence ensemble.

    Parameters
    ----------
    findings : sequence of str, optional
        CheXpert label names; default all 13 findings (every label but "No Finding").
    templates, negative_templates : sequence of str
        Presence / absence templates with ``{finding}`` (or ``{}``) for the term.
    terms : mapping, optional
        Override or add the words for a finding, e.g. ``{"Edema": ["edema", "pulmonary
        edema"]}`` or a finding CheXpert does not have.

    Returns
    -------
    semalign_core.zeroshot.classifier.PromptSet
        With ``negatives``, so ``ZeroShotClassifier.predict_proba`` gives P(finding) per column.
    """
    from semalign_core import PromptSet

    return PromptSet.from_templates(_terms(findings, terms), list(templates),
                                    negative_templates=list(negative_templates))


def finding_vs_normal_prompts(findings: Sequence[str], *,
                              templates: Sequence[str] = POSITIVE_TEMPLATES,
                              normal_prompts: Sequence[str] = NORMAL_PROMPTS,
                              normal_label: str = NO_FINDING,
                              terms: Mapping[str, str | Sequence[str]] | None = None,
                              ) -> PromptSet:
    """Single-label prompts: one class per finding plus a normal class.

    For example ``finding_vs_normal_prompts(["Pneumonia"])`` gives the two classes
    ``"No Finding"`` and ``"Pneumonia"`` (normal vs. pneumonia, as in the Kermany data set).

    Returns
    -------
    semalign_core.zeroshot.classifier.PromptSet
        Single-label: ``predict`` picks the nearest class.
    """
    from semalign_core import PromptSet

    positives = PromptSet.from_templates(_terms(findings, terms), list(templates))
    if normal_label in positives.classes:
        raise InvalidInputError(f"normal_label {normal_label!r} clashes with a finding name")
    return PromptSet([(normal_label, tuple(normal_prompts)), *positives.prompts.items()])
