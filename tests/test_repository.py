"""Repository-level promises: CI runs the README's test command; the public API is complete."""

from __future__ import annotations

import re
from pathlib import Path

import semalign_core

ROOT = Path(__file__).resolve().parent.parent


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("Run all the tests", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    command = _readme_test_command()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci, f".ci/run must run the README's test command: {command}"


def test_public_api_is_explicit_and_importable():
    assert sorted(semalign_core.__all__) == sorted(set(semalign_core.__all__))
    for name in semalign_core.__all__:
        assert hasattr(semalign_core, name), f"semalign_core.{name} is in __all__ but missing"


def test_constraints_pin_torch_and_torchvision():
    pins = (ROOT / "constraints.txt").read_text()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins
