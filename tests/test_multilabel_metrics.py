"""Per-finding AUROC with bootstrap CIs for multi-label scores."""

from __future__ import annotations

import numpy as np
import pytest

from semalign_core import DimensionMismatchError, InvalidInputError
from semalign_core.evaluation.multilabel import per_finding_auroc


def test_per_finding_and_macro_match_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    Y = (rng.random((300, 3)) < [0.2, 0.5, 0.05]).astype(int)
    S = Y * [2.0, 0.5, 1.0] + rng.normal(size=(300, 3))
    r = per_finding_auroc(Y, S, ["Edema", "Atelectasis", "Fracture"], n_resamples=100)
    for j, name in enumerate(["Edema", "Atelectasis", "Fracture"]):
        assert r.per_finding[name].estimate == pytest.approx(roc_auc_score(Y[:, j], S[:, j]))
        assert r.per_finding[name].low <= r.per_finding[name].estimate <= r.per_finding[name].high
    assert r.macro.estimate == pytest.approx(np.mean([v.estimate for v in r.per_finding.values()]))
    assert r.per_finding["Edema"].estimate > r.per_finding["Atelectasis"].estimate
    assert r.positives == {n: int(c) for n, c in zip(["Edema", "Atelectasis", "Fracture"],
                                                     Y.sum(axis=0), strict=True)}
    assert r.to_dict()["per_finding"]["Edema"]["positives"] == r.positives["Edema"]


def test_finding_without_positives_is_undefined_not_half():
    Y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    S = np.array([[0.9, 0.1], [0.1, 0.2], [0.8, 0.3], [0.2, 0.4]])
    r = per_finding_auroc(Y, S, ["a", "b"], n_resamples=50)
    assert r.undefined == ["b"] and list(r.per_finding) == ["a"]
    assert r.macro.estimate == 1.0
    with pytest.raises(InvalidInputError, match="no finding"):
        per_finding_auroc(Y[:, 1:], S[:, 1:], ["b"])
    with pytest.raises(DimensionMismatchError):
        per_finding_auroc(Y, S, ["a"])
    with pytest.raises(InvalidInputError, match="NaN"):
        per_finding_auroc(Y, np.full((4, 2), np.nan), ["a", "b"])
