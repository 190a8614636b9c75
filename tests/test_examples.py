"""Every example config parses, and the task examples state their measured result and run time."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pydantic", reason="needs the semalign-core[experiments] extra")
pytest.importorskip("yaml")

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
TASK_EXAMPLES = {"pneumonia_zero_shot.yaml": "zero-shot",
                 "multilabel_zero_shot.yaml": "multilabel-zero-shot",
                 "retrieval.yaml": "retrieval", "stitching.yaml": "stitching"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_parses(path, monkeypatch, tmp_path):
    from semalign_core.experiments.config import load_config

    monkeypatch.setenv("SEMALIGN_SHARED_DIR", str(tmp_path))  # no data is read when parsing
    config = load_config(path)
    if path.name in TASK_EXAMPLES:
        assert config.task.kind == TASK_EXAMPLES[path.name]


@pytest.mark.parametrize("name", sorted(TASK_EXAMPLES))
def test_task_example_header_has_measured_result_and_run_time(name):
    header = [line for line in (EXAMPLES[0].parent / name).read_text().splitlines()
              if line.startswith("#")]
    text = "\n".join(header)
    assert "Measured" in text and "MEASURED" not in text, text
    assert "run time" in text, text
