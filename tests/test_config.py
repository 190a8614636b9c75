"""Experiment configs: parsing, and validation errors that name the field."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pydantic", reason="configs need the semalign-core[experiments] extra")

from semalign_core.experiments.config import ConfigError, load_config, parse_config


def base_config(**overrides):
    cfg = {
        "encoders": {"source": {"name": "img"}, "target": {"name": "txt"}},
        "anchors": {"dataset": {"manifest": "pairs.csv", "split": "train"}, "count": [10, 20]},
        "task": {"kind": "zero-shot", "prompts": {"a": "an a", "b": ["a b", "one b"]}},
        "evaluation": {"dataset": {"manifest": "pairs.csv", "split": "test"}},
        "output_dir": "out",
    }
    cfg.update(overrides)
    return cfg


def test_valid_config_and_defaults(tmp_path):
    cfg = parse_config(base_config(), base_dir=tmp_path)
    assert cfg.anchors.counts == [10, 20] and cfg.seeds == [0]
    assert cfg.translator.solver == "affine" and cfg.anchors.selector.name == "random"
    assert cfg.metric_names == ["accuracy", "balanced_accuracy", "macro_f1", "auroc"]
    assert cfg.primary_metric == "auroc"
    assert cfg.resolve_path("out") == (tmp_path / "out").resolve()


def test_yaml_and_json_files(tmp_path):
    yaml = pytest.importorskip("yaml")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(base_config()))
    (tmp_path / "c.json").write_text(json.dumps(base_config()))
    a, b = load_config(tmp_path / "c.yaml"), load_config(tmp_path / "c.json")
    assert a.to_dict() == b.to_dict()
    assert a.resolve_path(a.output_dir) == (tmp_path / "out").resolve()


@pytest.mark.parametrize(("change", "field"), [
    ({"task": None}, "task"),
    ({"anchors": {"dataset": {"manifest": "m.csv"}, "count": [10, 1]}}, "anchors.count"),
    ({"encoders": {"source": {"nme": "x"}, "target": {"name": "t"}}}, "encoders.source.nme"),
    ({"task": {"kind": "zero-shot"}}, "task.zero-shot"),
    ({"task": {"kind": "classify"}}, "task"),
    ({"seeds": [1, 1]}, "seeds"),
    ({"evaluation": {"dataset": {"manifest": "m", "builtin": "kermany", "path": "x"}}},
     "evaluation.dataset"),
    ({"translator": {"target_norm": "centre"}}, "translator.target_norm"),
    ({"evaluation": {"dataset": {"manifest": "m"}, "bootstrap": 0}}, "evaluation.bootstrap"),
])
def test_errors_name_the_field(change, field):
    cfg = base_config(**change)
    if change.get("task", 1) is None:
        del cfg["task"]
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, source="c.yaml")
    message = str(info.value)
    assert message.startswith("invalid config c.yaml: ")
    assert f"{field}:" in message or f"{field}." in message, message
    assert "\n" not in message


def test_metric_must_fit_the_task():
    cfg = base_config(evaluation={"dataset": {"manifest": "m"}, "metrics": ["top1"]})
    with pytest.raises(ConfigError, match=r"evaluation.metrics: \['top1'\] not available"):
        parse_config(cfg)
    translation = base_config(task={"kind": "translation"},
                              evaluation={"dataset": {"manifest": "m"}, "metrics": ["top1"]})
    assert parse_config(translation).primary_metric == "top1"


def test_holdout_class_texts_need_a_pairing_holdout():
    cfg = base_config(task={"kind": "zero-shot", "class_texts": {"holdout": True}})
    with pytest.raises(ConfigError, match="anchors.texts.holdout"):
        parse_config(cfg)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("encoders: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    (tmp_path / "c.toml").write_text("")
    with pytest.raises(ConfigError, match=".yaml, .yml or .json"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.json")


def test_shared_dir_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMALIGN_SHARED_DIR", str(tmp_path / "shared"))
    cfg = parse_config(base_config(), base_dir=tmp_path)
    assert cfg.resolve_path("${SEMALIGN_SHARED_DIR}/data") == tmp_path / "shared" / "data"


def test_example_config_matches_the_recipe():
    """examples/pneumonia_zero_shot.yaml comes from semalign_core.experiments.recipes: no drift."""
    pytest.importorskip("yaml")
    from pathlib import Path

    from semalign_core.experiments.recipes import (
        PNEUMONIA_PROMPTS,
        PNEUMONIA_RECIPE,
        pneumonia_zero_shot_config,
    )

    example = Path(__file__).resolve().parent.parent / "examples" / "pneumonia_zero_shot.yaml"
    cfg = load_config(example)
    shared = "${SEMALIGN_SHARED_DIR}"
    recipe = parse_config(pneumonia_zero_shot_config(
        kermany=f"{shared}/data/kermany-cxr",
        openi_reports=f"{shared}/data/openi-reports/NLMCXR_reports.tgz",
        vision_weights=f"{shared}/models/squeezenet1_1_imagenet.safetensors",
        anchors=[25, 50, 100, 200, 400], bootstrap=500))  # no output_dir: the per-user runs folder
    assert cfg.to_dict() == recipe.to_dict()
    assert cfg.anchors.dataset.name == "kermany" and cfg.anchors.texts.dataset.name == "openi"
    assert cfg.task.prompts == PNEUMONIA_PROMPTS
    assert cfg.translator.solver == PNEUMONIA_RECIPE["solver"]
    assert cfg.translator.params == {"alpha": PNEUMONIA_RECIPE["alpha"]}
    assert cfg.translator.target_norm == PNEUMONIA_RECIPE["target_norm"]
    assert cfg.anchors.texts.k == PNEUMONIA_RECIPE["k"]
    assert cfg.anchors.texts.holdout == PNEUMONIA_RECIPE["holdout"]
    assert cfg.anchors.selector.name == PNEUMONIA_RECIPE["selector"]


def test_deprecated_keys_still_parse_with_a_warning():
    """``source_preprocessing``/``target_preprocessing`` became ``source_norm``/``target_norm``
    and ``space: target`` became ``space: normalized``."""
    old = base_config(translator={"source_preprocessing": "l2+standard",
                                  "target_preprocessing": "center"},
                      task={"kind": "zero-shot", "prompts": {"a": "an a"}, "space": "target"})
    with pytest.warns(DeprecationWarning) as caught:
        cfg = parse_config(old)
    messages = " ".join(str(w.message) for w in caught)
    assert "'source_norm'" in messages and "'target_norm'" in messages
    assert "normalized" in messages
    assert (cfg.translator.source_norm, cfg.translator.target_norm) == ("l2+standard", "center")
    assert cfg.task.space == "normalized"
    assert "source_preprocessing" not in cfg.to_dict()["translator"]
    both = base_config(translator={"target_preprocessing": "center", "target_norm": "center"})
    with pytest.raises(ConfigError, match="give .target_norm. only"):
        parse_config(both)


def test_datasets_are_named_with_the_old_keys_as_aliases():
    new = base_config(evaluation={"dataset": {"name": "kermany", "root": "x", "split": "test"}})
    old = base_config(evaluation={"dataset": {"builtin": "kermany", "path": "x", "split": "test"}})
    assert parse_config(new).to_dict() == parse_config(old).to_dict()
    assert parse_config(old).evaluation.dataset.root == "x"
    both = base_config(evaluation={"dataset": {"name": "kermany", "builtin": "kermany",
                                               "root": "x"}})
    with pytest.raises(ConfigError, match="evaluation.dataset: .*'name' or its old alias"):
        parse_config(both)
    with pytest.raises(ConfigError, match="needs 'root'"):
        parse_config(base_config(evaluation={"dataset": {"name": "kermany"}}))
    with pytest.raises(ConfigError, match=r"evaluation\.dataset: unknown dataset 'kermani'\. "
                                          r"Did you mean 'kermany'\?"):
        parse_config(base_config(evaluation={"dataset": {"name": "kermani", "root": "x"}}))


def test_unknown_task_kind_gives_the_registry_closest_match():
    with pytest.raises(ConfigError, match=r"task\.kind: unknown task 'zero_shot'\. Did you mean "
                                          r"'zero-shot'\?.*Available: .*stitching"):
        parse_config(base_config(task={"kind": "zero_shot"}), source="c.yaml")


def test_the_task_section_is_validated_by_the_registered_task_model():
    from semalign_core.experiments.tasks.zero_shot import ZeroShotConfig

    cfg = parse_config(base_config())
    assert isinstance(cfg.task, ZeroShotConfig) and cfg.task.prompts["b"] == ["a b", "one b"]
    with pytest.raises(ConfigError, match=r"task\.translation\.prompts: Extra inputs"):
        parse_config(base_config(task={"kind": "translation", "prompts": {"a": "x"}}))
