"""The experiment subcommands of ``semalign``: help, exit codes, and a full chain."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

for _module in ("pydantic", "sklearn", "matplotlib", "faiss"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from test_experiment import PickPlugin, TinyPlugin, make_dataset  # noqa: E402

from semalign_core.cli.main import main  # noqa: E402

COMMANDS = ["run", "encode", "fit", "zero-shot", "evaluate", "demo"]


@pytest.fixture
def components(semalign_register_plugin):
    semalign_register_plugin(TinyPlugin(), "tiny-encoders")
    semalign_register_plugin(PickPlugin(), "pick-and-ridge")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and f"semalign {command}" in out.split("Examples:")[1]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_run_bad_config_names_the_field(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"encoders": {}, "output_dir": "x"}))
    assert main(["run", str(tmp_path / "c.json")]) == 1
    err = _error_line(capsys)
    assert "encoders.source: Field required" in err and "task: Field required" in err


def test_run_missing_config(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 1
    assert "does not exist" in _error_line(capsys)


def test_demo_bad_shared_dir(tmp_path, capsys):
    assert main(["demo", "--shared-dir", str(tmp_path)]) == 1
    assert "not a shared-data folder" in _error_line(capsys)


def test_bad_option_syntax(tmp_path, capsys):
    assert main(["encode", "--encoder", "x", "--option", "novalue", "--manifest", "m.csv",
                 "-o", "o.safetensors"]) == 1
    assert "--option expects key=value" in _error_line(capsys)


def test_run_end_to_end(tmp_path, capsys, components):
    make_dataset(tmp_path)
    config = {
        "encoders": {"source": {"name": "tiny-image"},
                     "target": {"name": "tiny-text", "options": {"dim": 32}}},
        "anchors": {"dataset": {"manifest": "manifest.csv", "split": "train"}, "count": 12,
                    "selector": {"name": "pick"}},
        "translator": {"solver": "test-ridge", "target_norm": "center"},
        "task": {"kind": "zero-shot", "prompts": {"normal": "clear", "pneumonia": "opacity"}},
        "evaluation": {"dataset": {"manifest": "manifest.csv", "split": "test"},
                       "bootstrap": 20},
        "output_dir": "ignored",
    }
    (tmp_path / "c.json").write_text(json.dumps(config))
    assert main(["run", str(tmp_path / "c.json"), "--output-dir", str(tmp_path / "o"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["method", "anchors", "seeds"]
    assert (tmp_path / "o" / "results.json").is_file()
    assert not (tmp_path / "ignored").exists()


def test_encode_fit_zero_shot_evaluate_chain(tmp_path, capsys, components):
    manifest = make_dataset(tmp_path)
    img, txt = tmp_path / "img.safetensors", tmp_path / "txt.safetensors"
    assert main(["encode", "--encoder", "tiny-image", "--manifest", str(manifest), "--split",
                 "train", "-o", str(img), "--quiet", "--cache-dir", str(tmp_path / "c")]) == 0
    assert main(["encode", "--encoder", "tiny-text", "--option", "dim=32", "--manifest",
                 str(manifest), "-o", str(txt), "--quiet"]) == 0
    translator = tmp_path / "t.safetensors"
    assert main(["fit", "--source", str(img), "--target", str(txt), "--solver", "test-ridge",
                 "--param", "alpha=1.0", "--target-norm", "center",
                 "--pairing", "intersection", "-o", str(translator)]) == 0
    assert "on 40 anchors" in capsys.readouterr().out  # the train items present in both
    old_flags = tmp_path / "t_old.safetensors"  # the deprecated spelling still works
    assert main(["fit", "--source", str(img), "--target", str(txt), "--solver", "test-ridge",
                 "--param", "alpha=1.0", "--target-preprocessing", "center",
                 "--pairing", "intersection", "-o", str(old_flags)]) == 0
    assert "--target-preprocessing is deprecated; use --target-norm" in capsys.readouterr().err
    from semalign_core import Translator

    assert Translator.load(old_flags).target_norm_.steps == ("center",)
    test_img = tmp_path / "test_img.safetensors"
    assert main(["encode", "--encoder", "tiny-image", "--manifest", str(manifest), "--split",
                 "test", "-o", str(test_img), "--quiet"]) == 0
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"normal": ["clear lungs"], "pneumonia": "consolidation"}))
    predictions = tmp_path / "pred.csv"
    assert main(["zero-shot", "--translator", str(translator), "--images", str(test_img),
                 "--text-encoder", "tiny-text", "--option", "dim=32", "--prompts",
                 str(prompts), "--space", "centered", "-o", str(predictions)]) == 0
    header = predictions.read_text().splitlines()[0]
    assert header == "id,prediction,p_normal,p_pneumonia,score_normal,score_pneumonia"
    capsys.readouterr()
    assert main(["evaluate", "--predictions", str(predictions), "--manifest", str(manifest),
                 "--split", "test", "--positive-label", "pneumonia", "--bootstrap", "20",
                 "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"accuracy", "balanced_accuracy", "macro_f1", "auroc"}
    assert metrics["auroc"]["low"] <= metrics["auroc"]["estimate"] <= metrics["auroc"]["high"]


def test_fit_without_common_ids(tmp_path, capsys):
    import numpy as np

    from semalign_core import Embeddings

    Embeddings(np.eye(3, dtype=np.float32), ["a", "b", "c"]).save(tmp_path / "s.safetensors")
    Embeddings(np.eye(3, dtype=np.float32), ["x", "y", "z"]).save(tmp_path / "t.safetensors")
    assert main(["fit", "--source", str(tmp_path / "s.safetensors"), "--target",
                 str(tmp_path / "t.safetensors"), "-o", str(tmp_path / "o")]) == 1
    assert "share no id" in _error_line(capsys)


def test_cli_import_stays_light():
    code = ("import sys; from semalign_core.cli.main import main; main(['plugins']); "
            "heavy = [m for m in ('torch', 'pandas', 'pydantic', 'matplotlib', 'sklearn', "
            "'yaml') if m in sys.modules]; assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.shared_data
def test_demo_writes_its_config(tmp_path, shared, capsys):
    pytest.importorskip("yaml")
    target = tmp_path / "demo.yaml"
    assert main(["demo", "--shared-dir", str(shared), "--write-config", str(target),
                 "--anchors", "25", "100"]) == 0
    from semalign_core.experiments.config import load_config

    config = load_config(target)
    assert config.anchors.counts == [25, 100] and config.task.kind == "zero-shot"
    assert config.translator.params["alpha"] > 0


@pytest.mark.parametrize(("flags", "message"), [
    (["--anchors", "1"], "--anchors: every anchor count must be at least 2"),
    (["--anchors", "25", "25"], "--anchors: counts must be distinct"),
    (["--device", "tpu"], "--device must be one of auto, cpu, cuda, mps or cuda:N, got 'tpu'"),
    (["--device", "cpu:1"], "--device must be one of"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--bootstrap", "0"], "--bootstrap must be at least 1")])
def test_demo_refuses_bad_flags_before_writing_a_config(flags, message, tmp_path, capsys):
    target = tmp_path / "demo.yaml"
    assert main(["demo", "--shared-dir", str(tmp_path), "--write-config", str(target),
                 *flags]) == 1
    assert message in _error_line(capsys)
    assert not target.exists()


@pytest.mark.parametrize(("flags", "message"), [
    ([], "give the items as --manifest PATH, or as --dataset NAME --root PATH"),
    (["--manifest", "m.csv", "--dataset", "kermany"], "give the items as --manifest PATH"),
    (["--dataset", "kermany"], "--dataset kermany needs --root"),
    (["--dataset", "kermany", "--root", "x", "--columns", "id=path"], "--columns maps a"),
    (["--manifest", "m.csv", "--root", "x"], "--root and --dataset-option go with --dataset"),
    (["--manifest", "m.csv", "--columns", "id"], "--columns expects FIELD=COLUMN, got 'id'")])
def test_encode_input_flags_are_checked(flags, message, tmp_path, capsys, components):
    assert main(["encode", "--encoder", "tiny-image", *flags, "-o",
                 str(tmp_path / "e.safetensors")]) == 1
    assert message in _error_line(capsys)


def test_columns_name_the_id_column_of_a_manifest_without_one(tmp_path, capsys, components):
    manifest = make_dataset(tmp_path)
    lines = manifest.read_text().splitlines()
    header = lines[0].split(",")
    assert "id" in header and "image" in header
    # the same table with its id column renamed: unreadable without a mapping
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("\n".join([",".join("key" if c == "id" else c for c in header),
                                  *lines[1:]]) + "\n")
    out = tmp_path / "e.safetensors"
    assert main(["encode", "--encoder", "tiny-image", "--manifest", str(renamed), "-o", str(out),
                 "--quiet"]) == 1
    assert "missing required column 'id'" in _error_line(capsys)
    assert main(["encode", "--encoder", "tiny-image", "--manifest", str(renamed), "--columns",
                 "id=key", "-o", str(out), "--quiet"]) == 0
    from semalign_core import Embeddings

    expected = [line.split(",")[header.index("id")] for line in lines[1:]]
    assert list(Embeddings.load(out).ids) == expected


@pytest.mark.slow
@pytest.mark.shared_data
def test_encode_and_fit_on_the_shared_kermany_data(tmp_path, shared, capsys, components):
    """Both ways in: the dataset registry and labels.csv with --columns id=path give the same
    ids, so embeddings from either pair up in `fit`."""
    root = shared / "data" / "kermany-cxr"
    src, tgt = tmp_path / "src.safetensors", tmp_path / "tgt.safetensors"
    assert main(["encode", "--encoder", "tiny-image", "--dataset", "kermany", "--root",
                 str(root), "--split", "train", "-o", str(src), "--quiet"]) == 0
    assert main(["encode", "--encoder", "tiny-image", "--option", "side=4", "--option",
                 "flip=true", "--manifest", str(root / "labels.csv"), "--columns", "id=path",
                 "--split", "train", "-o", str(tgt), "--quiet"]) == 0
    from semalign_core import Embeddings

    source, target = Embeddings.load(src), Embeddings.load(tgt)
    assert len(source) == 400 and source.dim == 64 and target.dim == 16
    assert sorted(source.ids) == sorted(target.ids)
    capsys.readouterr()
    assert main(["fit", "--source", str(src), "--target", str(tgt), "--solver", "test-ridge",
                 "--anchors", "100", "--selector", "pick", "-o",
                 str(tmp_path / "t.safetensors")]) == 0
    assert "on 100 anchors" in capsys.readouterr().out
