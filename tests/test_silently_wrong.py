"""Issue 11, items 4-8: inputs that used to give a silently wrong result now give a clear error
(items 1-3 and 9 have their own files: test_integrity, test_precision, test_pairing,
test_zeroshot_ranking)."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from semalign_core import Embeddings, InvalidInputError

pytest.importorskip("pydantic", reason="the CLI cases need the experiments extra")


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def tiny(semalign_register_plugin):
    from test_experiment import TinyPlugin

    semalign_register_plugin(TinyPlugin(), "tiny-encoders")


# -- item 4: the field's modality must match the encoder's ---------------------------------------
def test_encode_image_field_with_a_text_encoder_is_refused(tmp_path, capsys, tiny):
    from test_experiment import make_dataset

    from semalign_core.cli.main import main

    manifest = make_dataset(tmp_path, n_per_class=3)
    out = tmp_path / "o.safetensors"
    assert main(["encode", "--encoder", "tiny-text", "--field", "image", "--manifest",
                 str(manifest), "-o", str(out), "--quiet"]) == 1
    assert "--field image but tiny-text is a text encoder" in _error_line(capsys)
    assert not out.exists()


# -- item 5: boolean masks select rows; float indices are refused ---------------------------------
def test_subset_with_a_boolean_mask_selects_the_true_rows():
    emb = Embeddings(np.arange(12, dtype=np.float32).reshape(4, 3), list("abcd"))
    assert emb.subset(np.array([False, True, False, True])).ids == ("b", "d")
    assert emb.subset([True, False, False, False]).ids == ("a",)
    with pytest.raises(InvalidInputError, match="one entry per row"):
        emb.subset(np.array([True, False]))
    with pytest.raises(InvalidInputError, match="float64 values"):
        emb.subset(np.array([0.0, 1.0]))
    with pytest.raises(InvalidInputError, match="integer indices or a boolean mask"):
        emb.subset([1.5])


# -- item 6: float64 beyond float32's range is refused at construction ---------------------------
def test_float64_too_large_for_float32_is_refused():
    with pytest.raises(InvalidInputError, match="too large for float32"):
        Embeddings(np.array([[1.0, 1e39]]), ["a"])
    from semalign_core.validation import check_matrix

    assert check_matrix(np.array([[1e39]]), dtype=np.float64)[0, 0] == 1e39  # fine in float64


# -- item 7: evaluate refuses duplicated and missing predictions ----------------------------------
def _manifest_and_predictions(tmp_path, rows):
    from semalign_core.data.manifest import Manifest, Record

    records = [Record(f"i{k}", None, f"text {k}", ("a" if k % 2 else "b",), "test", None)
               for k in range(4)]
    manifest = Manifest(records).write(tmp_path / "m.csv")
    path = tmp_path / "p.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "prediction", "p_a", "p_b"])
        writer.writerows(rows)
    return manifest, path


def test_evaluate_refuses_duplicated_prediction_rows(tmp_path, capsys):
    from semalign_core.cli.main import main

    rows = [["i0", "b", 0.1, 0.9], ["i1", "a", 0.8, 0.2], ["i2", "b", 0.3, 0.7],
            ["i3", "a", 0.6, 0.4], ["i3", "a", 0.6, 0.4]]
    manifest, preds = _manifest_and_predictions(tmp_path, rows)
    assert main(["evaluate", "--predictions", str(preds), "--manifest", str(manifest),
                 "--bootstrap", "5"]) == 1
    assert "predicted more than once, e.g. 'i3'" in _error_line(capsys)


def test_evaluate_refuses_predictions_for_only_some_items(tmp_path, capsys):
    from semalign_core.cli.main import main

    rows = [["i0", "b", 0.1, 0.9], ["i1", "a", 0.8, 0.2]]
    manifest, preds = _manifest_and_predictions(tmp_path, rows)
    assert main(["evaluate", "--predictions", str(preds), "--manifest", str(manifest),
                 "--bootstrap", "5"]) == 1
    assert "no prediction for 2 of the 4 items" in _error_line(capsys)


# -- item 8: a plugin calling sys.exit() at import is a plugin failure ---------------------------
EXITING = """
import sys
sys.exit(3)
"""


def test_a_plugin_calling_sys_exit_at_import_is_reported_and_the_rest_work(tmp_path):
    from test_entry_points import GOOD, _install

    target = _install(tmp_path, {"semalign-exits": EXITING, "semalign-throwaway": GOOD})
    code = ("import json, semalign_core; print(json.dumps([semalign_core.list_solvers(), "
            "{i.name: [i.status, i.error] for i in semalign_core.plugin_infos()}]))")
    import json
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target),
                                                         os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    solvers, infos = json.loads(out.stdout)
    assert "throwaway-copy" in solvers
    assert infos["semalign-exits"] == ["failed", "import failed: SystemExit: 3"]
