"""One test per hook specification (a meta-test in test_docs.py enforces that each exists)."""

from __future__ import annotations

import types

import numpy as np
from helpers import FirstNSelector, HashTextEncoder

from semalign_core import (
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
