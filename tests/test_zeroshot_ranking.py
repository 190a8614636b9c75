"""Issue 11, item 9: predict_proba keeps the ranking of the scores (no ties from saturation),
and `semalign zero-shot` -> `semalign evaluate` ranks by score."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semalign_core import Embeddings, Fingerprint, Translator, ZeroShotClassifier

pytest.importorskip("faiss")


def _world(spread: float = 40.0, n: int = 300, seed: int = 0):
    """Two classes on the unit circle, spread over a wide angle: cosine differences up to ~1.4,
    enough to saturate a softmax at temperature 0.01."""
    fp = Fingerprint("test-text", "toy", "none", 2)
    classes = Embeddings(np.eye(2, dtype=np.float32), ["normal", "pneumonia"], fp)
    t = Translator("identity", source_norm="none", target_norm="none").fit(np.eye(2), np.eye(2))
    rng = np.random.default_rng(seed)
    angles = np.r_[rng.normal(45 - spread, 12, n // 2), rng.normal(45 + spread, 12, n // 2)]
    X = np.column_stack([np.cos(np.radians(angles)), np.sin(np.radians(angles))])
    y = np.array(["normal"] * (n // 2) + ["pneumonia"] * (n // 2))
    return ZeroShotClassifier(t, classes, device="cpu"), X.astype(np.float32), y


def test_probabilities_keep_the_ranking_of_the_scores():
    from semalign_core.evaluation.metrics import auroc

    clf, X, y = _world()
    scores = clf.decision_scores(X).astype(np.float64)
    d = scores[:, 1] - scores[:, 0]
    p = clf.predict_proba(X)[:, 1]
    assert len(np.unique(p)) == len(np.unique(d))  # no two distinct scores share a probability
    assert not np.any(p == 1.0) and not np.any(p == 0.0)
    np.testing.assert_array_equal(np.argsort(p, kind="stable"), np.argsort(d, kind="stable"))
    assert auroc(y, p, pos_label="pneumonia") == auroc(y, d, pos_label="pneumonia")


@settings(max_examples=25, deadline=None)
@given(spread=st.floats(0.0, 44.0), seed=st.integers(0, 2**16))
def test_the_ranking_is_kept_for_any_spread(spread, seed):
    clf, X, _ = _world(spread, n=60, seed=seed)
    scores = clf.decision_scores(X).astype(np.float64)
    d = scores[:, 1] - scores[:, 0]
    p = clf.predict_proba(X)[:, 1]
    order = np.argsort(d, kind="stable")
    assert np.all(np.diff(p[order]) >= 0)  # monotone in the score
    assert len(np.unique(p)) == len(np.unique(d))


def test_cli_evaluate_ranks_by_score(tmp_path, capsys):
    pytest.importorskip("pydantic")
    import json

    from semalign_core.cli.main import main
    from semalign_core.data.manifest import Manifest, Record
    from semalign_core.evaluation.metrics import auroc

    clf, X, y = _world(spread=6.0, n=40)  # overlapping classes: ties would change AUROC
    scores = clf.decision_scores(X).astype(np.float64)
    d = scores[:, 1] - scores[:, 0]
    ids = [f"i{k}" for k in range(len(X))]
    manifest = Manifest([Record(i, None, "t", (label,), "test", None)
                         for i, label in zip(ids, y, strict=True)]).write(tmp_path / "m.csv")
    # the CSV `semalign zero-shot` writes: saturated p_ columns (as a small temperature gives)
    # next to the raw scores; evaluate must rank by the scores
    path = tmp_path / "p.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "prediction", "p_normal", "p_pneumonia", "score_normal",
                         "score_pneumonia"])
        for i, row, diff in zip(ids, scores, d, strict=True):
            p1 = 1.0 if diff > 0 else 0.0
            writer.writerow([i, "pneumonia" if diff > 0 else "normal", 1 - p1, p1,
                             repr(float(row[0])), repr(float(row[1]))])
    assert main(["evaluate", "--predictions", str(path), "--manifest", str(manifest),
                 "--positive-label", "pneumonia", "--bootstrap", "5", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)["auroc"]["estimate"]
    assert reported == pytest.approx(auroc(y, d, pos_label="pneumonia"), abs=1e-12)
