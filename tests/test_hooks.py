"""One test per hook specification (a meta-test in test_docs.py enforces that each exists)."""

from __future__ import annotations

import types

import numpy as np
import pytest
from helpers import FirstNSelector, HashTextEncoder

from semalign_core import (
    InvalidInputError,
    UnknownPluginError,
    get_anchor_selector,
    get_encoder,
    get_solver,
    hookimpl,
    list_anchor_selectors,
    list_encoders,
    list_solvers,
)
from semalign_core.align.identity import IdentitySolver
from semalign_core.plugins.manager import registry_entries


def _module(**hooks: object) -> types.ModuleType:
    module = types.ModuleType("hook-test")
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


def test_register_encoders(semalign_isolated_plugins, semalign_register_plugin):
    @hookimpl
    def register_encoders(register):
        register("hash-text", HashTextEncoder, aliases=("hash",), description="hashed words")

    semalign_register_plugin(_module(register_encoders=register_encoders), "enc-plugin")
    assert list_encoders() == ["hash-text"]
    assert list_encoders(aliases=True) == ["hash", "hash-text"]
    encoder = get_encoder("hash", dim=8)
    assert isinstance(encoder, HashTextEncoder) and encoder.dim == 8
    entry = registry_entries("encoder")["hash-text"]
    assert entry.plugin == "enc-plugin" and entry.description == "hashed words"


def test_register_anchor_selectors(semalign_isolated_plugins, semalign_register_plugin):
    @hookimpl
    def register_anchor_selectors(register):
        register("first-n", FirstNSelector)

    semalign_register_plugin(_module(register_anchor_selectors=register_anchor_selectors))
    assert list_anchor_selectors() == ["first-n"]
    selector = get_anchor_selector("first-n", seed=3)
    idx = selector.select(np.eye(5), 3)
    assert len(set(idx.tolist())) == 3


def test_register_solvers(semalign_isolated_plugins, semalign_register_plugin):
    @hookimpl
    def register_solvers(register):
        register("copy", IdentitySolver, aliases=["duplicate"])

    semalign_register_plugin(_module(register_solvers=register_solvers))
    assert {"copy", "identity"} <= set(list_solvers())
    assert isinstance(get_solver("duplicate"), IdentitySolver)


def test_register_datasets(semalign_isolated_plugins, semalign_register_plugin, tmp_path):
    from semalign_core import get_dataset, list_datasets
    from semalign_core.data.manifest import Manifest, Record

    def letters(root, *, n: int = 3):
        return Manifest([Record(f"{root}-{i}", text=chr(97 + i), labels=("x",))
                         for i in range(n)], source=str(root))

    @hookimpl
    def register_datasets(register):
        register("letters", letters, aliases=("abc",))

    semalign_register_plugin(_module(register_datasets=register_datasets), "data-plugin")
    assert {"kermany", "openi", "letters"} <= set(list_datasets())
    manifest = get_dataset("abc", "r", n=2)
    assert manifest.ids == ["r-0", "r-1"] and manifest.items("text") == ["a", "b"]
    with pytest.raises(InvalidInputError, match="accepts"):
        get_dataset("letters", "r", size=2)
    with pytest.raises(UnknownPluginError, match="Did you mean 'letters'"):
        get_dataset("leters", "r")


@pytest.mark.shared_data
def test_register_datasets_builtins_read_the_shared_data(shared):
    from semalign_core import get_dataset

    kermany = get_dataset("kermany", shared / "data" / "kermany-cxr")
    assert {"train", "test"} <= set(kermany.splits) and len(kermany.filter(split="test")) == 624
    reports = get_dataset("openi", shared / "data" / "openi-reports" / "NLMCXR_reports.tgz",
                          classes=["normal", "pneumonia"])
    assert set(reports.labels().tolist()) == {"normal", "pneumonia"}


def test_register_tasks(semalign_isolated_plugins, semalign_register_plugin):
    pytest.importorskip("pydantic")
    from semalign_core import get_task, list_tasks
    from semalign_core.experiments.tasks import Task, TaskConfig, TaskEvaluation

    class CountConfig(TaskConfig):
        scale: float = 1.0

    class CountTask(Task):
        kind = "count"
        config_model = CountConfig
        metrics = ("n",)

        def evaluate(self, context, translator, seed):
            return TaskEvaluation({})

    @hookimpl
    def register_tasks(register):
        register("count", CountTask, aliases=("counting",))

    semalign_register_plugin(_module(register_tasks=register_tasks), "task-plugin")
    assert "count" in list_tasks() and "counting" in list_tasks(aliases=True)
    task = get_task("counting", scale=2.0)
    assert isinstance(task, CountTask) and task.config == CountConfig(kind="count", scale=2.0)
    with pytest.raises(InvalidInputError, match=r"task 'count'.*scale"):
        get_task("count", scale="big")
    with pytest.raises(UnknownPluginError, match="Did you mean 'count'"):
        get_task("cont")
