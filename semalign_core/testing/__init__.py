"""Tools for testing semalign plugins: conformance checks and pytest fixtures.

A plugin's own test suite runs the conformance checks on its objects, either one pytest case per
rule with :func:`parametrize_with_checks` or all rules of one object with the ``check_*``
functions; each failure names the broken rule. The pytest fixtures are in
:mod:`semalign_core.testing.pytest_plugin` (auto-loaded by pytest through the ``pytest11`` entry
point). See ``docs/testing-plugins.md``.
"""

from __future__ import annotations

from .conformance import (
    check_anchor_selector,
    check_encoder,
    check_solver,
    checks_for,
    parametrize_with_checks,
)

__all__ = ["check_anchor_selector", "check_encoder", "check_solver", "checks_for",
           "parametrize_with_checks"]
