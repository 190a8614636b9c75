"""A task written as a third party would write one, run through `semalign run`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semalign_core import hookimpl

for _module in ("pydantic", "sklearn", "matplotlib", "yaml"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from pydantic import Field  # noqa: E402
from test_experiment import PickPlugin, TinyPlugin, _ridge, make_dataset  # noqa: E402

from semalign_core.cli.main import main  # noqa: E402
from semalign_core.evaluation.metrics import bootstrap_ci  # noqa: E402
from semalign_core.experiments.tasks import Task, TaskConfig, TaskEvaluation  # noqa: E402


@pytest.fixture
def components(semalign_register_plugin):
    semalign_register_plugin(TinyPlugin(), "tiny-encoders")
    semalign_register_plugin(PickPlugin(), "pick-and-ridge")


class TransferConfig(TaskConfig):
    k: int = Field(1, ge=1, description="neighbours that vote")


class LabelTransferTask(Task):
    """Label each translated evaluation item by its k nearest anchor-pool targets (cosine)."""

    kind = "label-transfer"
    config_model = TransferConfig
    metrics = ("transfer_accuracy",)
    metric_labels = {"transfer_accuracy": "transfer acc."}

    def prepare(self, context):
        self.pool_labels = context.pool.labels()
        self.truth = context.evaluation.labels()

    def evaluate(self, context, translator, seed):
        def unit(v):
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        pool = unit(translator.transform(context.pool_source.vectors))
        items = unit(translator.transform(context.eval_source.vectors))
        nearest = np.argsort(-(items @ pool.T), axis=1)[:, :self.config.k]
        votes = self.pool_labels[nearest]
        pred = np.asarray([max(set(row), key=list(row).count) for row in votes])
        hits = (pred == self.truth).astype(float)
        ev = context.config.evaluation
        ci = bootstrap_ci(lambda h: float(h.mean()), hits, n_resamples=ev.bootstrap,
                          confidence=ev.confidence, seed=seed)
        return TaskEvaluation({"transfer_accuracy": ci})


class TransferPlugin:
    @hookimpl
    def register_tasks(self, register):
        register("label-transfer", LabelTransferTask, summary="k-NN label transfer")


def _write_config(tmp_path, task):
    import yaml

    config = {
        "encoders": {"source": {"name": "tiny-image"},
                     "target": {"name": "tiny-image", "options": {"flip": True}}},
        "anchors": {"dataset": {"manifest": "manifest.csv", "split": "train"},
                    "count": [8, 20], "selector": {"name": "pick"}},
        "translator": _ridge(),
        "task": task,
        "evaluation": {"dataset": {"manifest": "manifest.csv", "split": "test"},
                       "bootstrap": 50},
        "seeds": [0, 1],
        "output_dir": "out",
    }
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_third_party_task_runs_through_semalign_run(tmp_path, capsys, components,
                                                   semalign_register_plugin):
    semalign_register_plugin(TransferPlugin(), "label-transfer-plugin")
    make_dataset(tmp_path)
    path = _write_config(tmp_path, {"kind": "label-transfer", "k": 3})
    assert main(["run", str(path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "transfer acc." in printed
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| method | anchors | seeds | transfer acc. |" in summary
    assert "| label-transfer | 8 | 2 |" in summary and "| label-transfer | 20 | 2 |" in summary
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["task"] == "label-transfer" and doc["config"]["task"] == {
        "kind": "label-transfer", "k": 3}
    assert doc["baselines"] == {} and doc["classes"] == []
    # the flipped thumbnails are a permutation of the target's pixels: labels transfer
    assert doc["summary"][-1]["metrics"]["transfer_accuracy"]["estimate"] > 0.9
    assert (tmp_path / "out" / "anchors_curve.png").is_file()


def test_third_party_task_config_is_validated_by_its_model(tmp_path, capsys, components,
                                                          semalign_register_plugin):
    semalign_register_plugin(TransferPlugin(), "label-transfer-plugin")
    path = _write_config(tmp_path, {"kind": "label-transfer", "k": 0})
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "task.label-transfer.k: Input should be greater than or equal to 1" in err


def test_unregistered_task_suggests_the_registered_one(tmp_path, capsys, components,
                                                      semalign_register_plugin):
    semalign_register_plugin(TransferPlugin(), "label-transfer-plugin")
    path = _write_config(tmp_path, {"kind": "label-transfr"})
    assert main(["run", str(path)]) == 1
    assert "Did you mean 'label-transfer'?" in capsys.readouterr().err
