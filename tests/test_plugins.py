"""The plugin manager: built-ins, manual registration, failures, allow/deny lists."""

from __future__ import annotations

import types

import pytest

import semalign_core
from semalign_core import (
    DuplicatePluginError,
    PluginError,
    get_solver,
    hookimpl,
    list_solvers,
    plugin_infos,
    register_plugin,
    reset_plugins,
    unregister_plugin,
)
from semalign_core.align.identity import IdentitySolver


def _plugin(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def _solver_plugin(name: str, solver_name: str) -> types.ModuleType:
    @hookimpl
    def register_solvers(register):
        register(solver_name, IdentitySolver)

    return _plugin(name, register_solvers=register_solvers)


def test_builtin_plugin_is_loaded(semalign_isolated_plugins):
    info = {i.name: i for i in plugin_infos()}["semalign_core.align.identity"]
    assert info.status == "loaded"
    assert info.source == "builtin"
    assert info.hooks == ["register_solvers"]
    assert info.registered == {"solver": ["identity"]}


def test_manual_registration_and_unregistration(semalign_isolated_plugins):
    name = register_plugin(_solver_plugin("extra", "extra-identity"))
    assert "extra-identity" in list_solvers()
    unregister_plugin(name)
    assert "extra-identity" not in list_solvers()


def test_fixture_unregisters_after_the_test(pytester):
    # Two tests in an inner session: the second sees that the first one's plugin is gone.
    pytester.makepyfile("""
        import types
        from semalign_core import hookimpl, list_solvers
        from semalign_core.align.identity import IdentitySolver

        @hookimpl
        def register_solvers(register):
            register("fixture-identity", IdentitySolver)

        def test_a_registers(semalign_register_plugin):
            semalign_register_plugin(types.SimpleNamespace(register_solvers=register_solvers))
            assert "fixture-identity" in list_solvers()

        def test_b_is_clean():
            assert "fixture-identity" not in list_solvers()
    """)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_unknown_hook_is_an_error(semalign_isolated_plugins):
    @hookimpl
    def register_solverz(register):  # typo of register_solvers
        register("never", IdentitySolver)

    with pytest.raises(PluginError, match="register_solverz"):
        register_plugin(_plugin("typo", register_solverz=register_solverz))
    assert "typo" not in {i.name for i in plugin_infos()}


def test_wrong_hook_arguments_are_an_error(semalign_isolated_plugins):
    @hookimpl
    def register_solvers(register, extra):
        pass

    with pytest.raises(PluginError, match="extra"):
        register_plugin(_plugin("bad-args", register_solvers=register_solvers))


def test_plugin_raising_at_registration_is_reported_and_others_work(semalign_isolated_plugins):
    @hookimpl
    def register_solvers(register):
        register("half-done", IdentitySolver)
        raise RuntimeError("no licence key")

    register_plugin(_plugin("flaky", register_solvers=register_solvers))
    register_plugin(_solver_plugin("healthy", "healthy-identity"))
    names = list_solvers()
    assert "healthy-identity" in names
    assert "half-done" not in names  # a failed plugin contributes nothing, not half its names
    info = {i.name: i for i in plugin_infos()}["flaky"]
    assert info.status == "failed"
    assert "no licence key" in info.error and "register_solvers" in info.error


def test_duplicate_names_name_both_plugins(semalign_isolated_plugins):
    register_plugin(_solver_plugin("first-dist", "shared-name"))
    register_plugin(_solver_plugin("second-dist", "shared-name"))
    with pytest.raises(DuplicatePluginError, match="first-dist.*second-dist"):
        get_solver("shared-name")


def test_duplicate_alias_of_a_builtin(semalign_isolated_plugins):
    register_plugin(_solver_plugin("aliaser", "none"))  # 'none' is an alias of 'identity'
    with pytest.raises(DuplicatePluginError, match="'none'"):
        get_solver("none")
    # scoped to the duplicated name: listing and every other lookup keep working
    assert "identity" in list_solvers() and "none" not in list_solvers(aliases=True)
    assert isinstance(get_solver("identity"), IdentitySolver)


def test_register_rejects_a_non_callable_factory(semalign_isolated_plugins):
    @hookimpl
    def register_solvers(register):
        register("not-callable", 42)

    register_plugin(_plugin("bad-factory", register_solvers=register_solvers))
    list_solvers()
    info = {i.name: i for i in plugin_infos()}["bad-factory"]
    assert info.status == "failed" and "not callable" in info.error


def test_same_manual_name_twice_is_refused(semalign_isolated_plugins):
    register_plugin(_solver_plugin("once", "once-identity"))
    with pytest.raises(PluginError, match="already registered"):
        register_plugin(_solver_plugin("once", "twice-identity"))


def test_unregister_unknown_plugin(semalign_isolated_plugins):
    with pytest.raises(PluginError, match="no plugin named"):
        unregister_plugin("never-registered")


def test_reset_reloads(semalign_isolated_plugins):
    register_plugin(_solver_plugin("transient", "transient-identity"))
    reset_plugins()
    assert "transient-identity" not in list_solvers()


def test_get_plugin_manager_exposes_pluggy():
    from semalign_core.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    assert pm.project_name == "semalign"
    assert pm.has_plugin("semalign_core.align.identity")


def test_hookimpl_is_reexported():
    assert semalign_core.hookimpl is semalign_core.plugins.hookspecs.hookimpl
