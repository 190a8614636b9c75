"""Tools for testing semalign plugins: conformance checks and pytest fixtures.

A plugin's own test suite calls the ``check_*`` functions on its objects; each raises
``AssertionError`` with a message that names the broken rule. The pytest fixtures are in
:mod:`semalign_core.testing.pytest_plugin` (auto-loaded by pytest through the ``pytest11`` entry
point). See ``docs/testing-plugins.md``.
"""

from __future__ import annotations

from .conformance import check_anchor_selector, check_encoder, check_solver

__all__ = ["check_anchor_selector", "check_encoder", "check_solver"]
