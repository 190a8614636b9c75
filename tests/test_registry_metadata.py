"""Registry metadata: modality, summary, and the naming rule for registered encoder names."""

from __future__ import annotations

import re
import types
from functools import partial

import numpy as np
import pytest
from helpers import HashTextEncoder

from semalign_core import (
    Encoder,
    Fingerprint,
    InvalidInputError,
    PluginError,
    get_encoder,
    hookimpl,
    list_encoders,
    plugin_infos,
)
from semalign_core.cli.main import main
from semalign_core.plugins.manager import registry_entries


class TinyImageEncoder(Encoder):
    name = "tiny-image"
    modality = "image"

    def __init__(self, dim: int = 3) -> None:
        self.dim = dim

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "tiny", "none", self.dim)

    def encode_batch(self, items):
        return np.zeros((len(items), self.dim), np.float32)


def _make(cls: type, **options: object) -> Encoder:
    return cls(**options)


def _plugin(register_encoders) -> types.ModuleType:
    module = types.ModuleType("metadata-plugin")
    module.register_encoders = register_encoders
    return module


@pytest.fixture
def two_modalities(semalign_isolated_plugins, semalign_register_plugin):
    @hookimpl
    def register_encoders(register):
        # Partials cannot say their modality, so they pass it; a class supplies its own.
        register("tiny-img", partial(_make, TinyImageEncoder), aliases=("tiny",),
                 modality="image", summary="zeros")
        register("hash-text", partial(_make, HashTextEncoder), modality="text",
                 description="hashed words")
        register("hash-class-text", HashTextEncoder)

    semalign_register_plugin(_plugin(register_encoders), "metadata-plugin")


def test_list_encoders_by_modality(two_modalities):
    assert list_encoders(modality="text") == ["hash-class-text", "hash-text"]
    assert list_encoders(modality="image") == ["tiny-img"]
    assert list_encoders(modality="image", aliases=True) == ["tiny", "tiny-img"]
    assert list_encoders() == ["hash-class-text", "hash-text", "tiny-img"]


def test_modality_and_summary_are_recorded(two_modalities):
    entries = registry_entries("encoder")
    assert entries["tiny"].modality == "image" and entries["tiny"].summary == "zeros"
    # description= is the summary's old name; both read the same.
    assert entries["hash-text"].summary == entries["hash-text"].description == "hashed words"
    assert entries["hash-class-text"].modality == "text"  # taken from the Encoder subclass


def test_unknown_modality_filter_is_a_clear_error(two_modalities):
    with pytest.raises(InvalidInputError, match=r"modality='audio'.*\['image', 'text'\]"):
        list_encoders(modality="audio")


def _failed_with(register_encoders, register_plugin) -> str:
    register_plugin(_plugin(register_encoders), "bad-metadata")
    list_encoders()
    info = next(i for i in plugin_infos() if i.name == "bad-metadata")
    assert info.status == "failed"
    return info.error


@pytest.mark.parametrize(("options", "message"), [
    ({"modality": "audio"}, "modality 'audio'; use one of"),
    ({"summary": "a", "description": "b"}, "both summary= and description="),
    ({"summary": "two\nlines"}, "must be one line"),
])
def test_bad_metadata_fails_the_plugin_with_the_fix(semalign_isolated_plugins,
                                                    semalign_register_plugin, options, message):
    @hookimpl
    def register_encoders(register):
        register("x-text", HashTextEncoder, **options)

    assert message in _failed_with(register_encoders, semalign_register_plugin)


def test_modality_on_a_solver_fails_the_plugin(semalign_isolated_plugins,
                                               semalign_register_plugin):
    from semalign_core.align.identity import IdentitySolver

    @hookimpl
    def register_solvers(register):
        register("copy", IdentitySolver, modality="text")

    module = types.ModuleType("bad-solver")
    module.register_solvers = register_solvers
    semalign_register_plugin(module, "bad-solver")
    list_encoders()
    info = next(i for i in plugin_infos() if i.name == "bad-solver")
    assert info.status == "failed" and "modality= describes encoders" in info.error


def test_registered_modality_must_match_what_the_factory_builds(semalign_isolated_plugins,
                                                                semalign_register_plugin):
    @hookimpl
    def register_encoders(register):
        register("liar-text", partial(_make, TinyImageEncoder), modality="text")

    semalign_register_plugin(_plugin(register_encoders), "liar")
    with pytest.raises(PluginError, match="as modality 'text'.*TinyImageEncoder with modality "
                                          "'image'"):
        get_encoder("liar-text")


def test_plugins_table_shows_modality_and_summary(two_modalities, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("semalign_core.align.identity") and lines[0].endswith("loaded")
    assert "metadata-plugin -  loaded" in lines
    assert any(line.split()[:3] == ["image", "tiny-img", "zeros"] for line in lines)
    assert any(line.split()[:2] == ["text", "hash-text"] for line in lines)
    assert all(len(line) <= 80 for line in lines)


def test_plugins_json_lists_components(two_modalities, capsys):
    import json

    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    plugin = next(d for d in data if d["name"] == "metadata-plugin")
    assert {"kind": "encoder", "name": "tiny-img", "aliases": ["tiny"], "modality": "image",
            "summary": "zeros"} in plugin["components"]


def test_installed_plugins_table_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), max(lines, key=len)


# <family>-<arch>[-<tag>][-text]: lower-case words joined by hyphens (docs/writing-plugins.md).
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def test_installed_encoders_follow_the_naming_rule():
    entries = {entry.name: entry for entry in registry_entries("encoder").values()}
    if not entries:
        pytest.skip("no encoder plugin is installed in this environment")
    families: dict[str, set[str]] = {}
    for name, entry in entries.items():
        assert _NAME.fullmatch(name), f"{name!r} ({entry.plugin}) is not lower-case-hyphenated"
        assert entry.modality in ("image", "text"), f"{name!r} registers no modality"
        assert name.endswith("-text") == (entry.modality == "text"), name
        families.setdefault(entry.plugin, set()).add(name.split("-")[0])
    for plugin, found in families.items():
        assert len(found) == 1, f"{plugin} registers several families: {sorted(found)}"
