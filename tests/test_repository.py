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


def test_ci_fails_loudly_without_the_shared_folder(pytester, monkeypatch, tmp_path):
    """Under CI=true a missing ../shared stops the test run; locally the data tests skip."""
    import pytest

    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_uses_data="def test_data(shared):\n    assert shared\n")
    monkeypatch.setenv("SEMALIGN_SHARED_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*CI is set but the shared data folder {tmp_path / 'absent'}*"])
    for value in ("", "false"):
        monkeypatch.setenv("CI", value)
        local = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        assert local.ret == pytest.ExitCode.OK
        local.assert_outcomes(skipped=1)


def test_ci_script_runs_in_ci_mode():
    assert 'export CI="${CI:-true}"' in (ROOT / ".ci" / "run").read_text()
