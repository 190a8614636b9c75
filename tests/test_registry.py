"""Registry look-ups and their errors."""

from __future__ import annotations

import types

import pytest

from semalign_core import (
    InvalidInputError,
    PluginError,
    UnknownPluginError,
    get_anchor_selector,
    get_encoder,
    get_solver,
    hookimpl,
)
from semalign_core.plugins.registry import get_entry


def test_unknown_name_lists_available_and_closest(semalign_isolated_plugins):
    with pytest.raises(UnknownPluginError) as info:
        get_solver("identiti")
    message = str(info.value)
    assert "Did you mean 'identity'?" in message
    assert "Available: identity, none" in message


def test_unknown_name_without_close_match(semalign_isolated_plugins):
    with pytest.raises(UnknownPluginError) as info:
        get_solver("zzzzzz")
    assert "Did you mean" not in str(info.value)


def test_unknown_kind_without_any_plugins(semalign_isolated_plugins):
    with pytest.raises(UnknownPluginError, match="none \\(is the plugin installed"):
        get_encoder("clip-vit-b-32")
    with pytest.raises(UnknownPluginError):
        get_anchor_selector("random")


def test_non_string_name(semalign_isolated_plugins):
    with pytest.raises(UnknownPluginError, match="must be a string"):
        get_solver(3)  # type: ignore[arg-type]


def test_unknown_error_is_a_key_error_with_a_readable_message(semalign_isolated_plugins):
    with pytest.raises(KeyError) as info:
        get_solver("nope")
    assert str(info.value).startswith("unknown solver 'nope'")


def test_unknown_component_kind():
    with pytest.raises(UnknownPluginError, match="component kind"):
        get_entry("tokenizer", "x")


def test_factory_returning_the_wrong_type(semalign_isolated_plugins, semalign_register_plugin):
    @hookimpl
    def register_solvers(register):
        register("liar", dict)

    module = types.ModuleType("liar-plugin")
    module.register_solvers = register_solvers
    semalign_register_plugin(module)
    with pytest.raises(PluginError, match="'liar-plugin' registered solver 'liar'.*dict"):
        get_solver("liar")


def test_unknown_option_is_a_clear_error(semalign_isolated_plugins):
    with pytest.raises(InvalidInputError, match="bad options for solver 'identity'.*alpha"):
        get_solver("identity", alpha=1.0)  # identity takes no hyperparameters
