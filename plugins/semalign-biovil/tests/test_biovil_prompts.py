"""CheXpert prompt helpers produce the core PromptSet the zero-shot classifier uses."""

from __future__ import annotations

import pytest
from semalign_biovil.prompts import (
    CHEXPERT_FINDINGS,
    FINDING_TERMS,
    NEGATIVE_TEMPLATES,
    NO_FINDING,
    NORMAL_PROMPTS,
    POSITIVE_TEMPLATES,
    chexpert_prompts,
    finding_vs_normal_prompts,
)

from semalign_core import InvalidInputError, PromptSet


def test_findings_table_covers_chexpert():
    assert len(CHEXPERT_FINDINGS) == 14 and CHEXPERT_FINDINGS[0] == NO_FINDING
    assert set(FINDING_TERMS) == set(CHEXPERT_FINDINGS) - {NO_FINDING}
    assert len(POSITIVE_TEMPLATES) == len(NEGATIVE_TEMPLATES)


def test_default_multilabel_prompt_set():
    ps = chexpert_prompts()
    assert isinstance(ps, PromptSet) and ps.is_multilabel
    assert ps.classes == tuple(f for f in CHEXPERT_FINDINGS if f != NO_FINDING)
    for finding in ps.classes:
        term = FINDING_TERMS[finding][0]
        assert ps.prompts[finding] == tuple(t.format(finding=term) for t in POSITIVE_TEMPLATES)
        assert ps.negatives[finding] == tuple(t.format(finding=term)
                                              for t in NEGATIVE_TEMPLATES)
    assert len(set(ps.texts())) == len(ps.texts()) == 13 * 6


def test_subset_order_templates_and_terms():
    ps = chexpert_prompts(["Pneumothorax", "Edema"], templates=["{finding}"],
                          negative_templates=["no {finding}"],
                          terms={"Edema": ["edema", "pulmonary edema"]})
    assert ps.classes == ("Pneumothorax", "Edema")
    assert ps.prompts["Edema"] == ("edema", "pulmonary edema")
    assert ps.negatives["Edema"] == ("no edema", "no pulmonary edema")
    custom = chexpert_prompts(["Nodule"], terms={"Nodule": "pulmonary nodule"})
    assert custom.prompts["Nodule"][0] == "pulmonary nodule."


@pytest.mark.parametrize("findings", [["Pneumonitis"], [], [NO_FINDING], "Pneumonia"])
def test_bad_findings_are_refused(findings):
    with pytest.raises(InvalidInputError):
        chexpert_prompts(findings)


def test_finding_vs_normal_is_single_label():
    ps = finding_vs_normal_prompts(["Pneumonia"])
    assert not ps.is_multilabel
    assert ps.classes == (NO_FINDING, "Pneumonia")
    assert ps.prompts[NO_FINDING] == NORMAL_PROMPTS
    with pytest.raises(InvalidInputError, match="clashes"):
        finding_vs_normal_prompts(["Pneumonia"], normal_label="Pneumonia")
