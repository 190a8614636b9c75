"""Bad inputs and faults, as a hostile user would try them, through the API and the CLI.

Table-driven: every API case names the exact project error type and a fragment of its message
(or checks the correct result); every CLI case asserts exit code 1, one ``error:`` line with the
fragment, and no traceback. The tables hold more than 120 distinct cases (counted by
``test_the_tables_hold_at_least_120_cases``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

for _module in ("pydantic", "sklearn", "faiss", "PIL"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from helpers import HashTextEncoder  # noqa: E402
from test_experiment import PickPlugin, TinyPlugin, make_dataset  # noqa: E402
from test_integrity import flip_bit, rewrite  # noqa: E402

from semalign_core import (  # noqa: E402
    CorruptFileError,
    DimensionMismatchError,
    DuplicatePluginError,
    Embeddings,
    EncoderMismatchError,
    Fingerprint,
    ImageLoadError,
    InvalidInputError,
    LabelIndex,
    MissingFileError,
    NotFittedError,
    OutputError,
    PluginError,
    PromptSet,
    Solver,
    TooFewAnchorsError,
    Translator,
    UnknownPluginError,
    ZeroShotClassifier,
    get_anchor_selector,
    get_encoder,
    get_solver,
    hookimpl,
    list_solvers,
    register_plugin,
)
from semalign_core.cli.main import main  # noqa: E402
from semalign_core.experiments.config import ConfigError  # noqa: E402

FP = Fingerprint("enc", "arch", "w", 3)
FP_BF16 = Fingerprint("enc", "arch", "w", 3, precision="bfloat16")


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[dict[str, Any]], Any]
    error: type[BaseException] | None = None
    fragment: str = ""


def emb(n: int = 4, dim: int = 3, ids: Any = None, fp: Fingerprint | None = FP, **kw) -> Embeddings:
    rng = np.random.default_rng(n * 31 + dim)
    return Embeddings(rng.normal(size=(n, dim)).astype(np.float32),
                      ids if ids is not None else [f"i{k}" for k in range(n)], fp, **kw)


def fitted(fp_src: Fingerprint | None = FP) -> Translator:
    return Translator("identity", source_norm="none", target_norm="none").fit(
        emb(6, fp=fp_src), emb(6, fp=None))


class Raising(Solver):
    name = "bad-raising"

    def __init__(self, **kwargs: Any) -> None:
        if "boom" in kwargs:
            raise RuntimeError("licence server unreachable")
        if kwargs:
            raise TypeError(f"unexpected options {sorted(kwargs)}")

    def _fit(self, X, Y):
        pass

    def _transform(self, X):
        return X


class NotASolver:
    pass


class BadPlugin:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register("bad-raising", Raising)
        register("bad-wrong-type", NotASolver)
        register("bad-shared", Raising)


class CopyCat:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register("bad-shared", Raising)


class ExitingPlugin:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register("never-seen", Raising)
        raise SystemExit(2)


def _module_plugin(**hooks: Any) -> Any:
    import types

    module = types.ModuleType("bad_plugin")
    for name, fn in hooks.items():
        setattr(module, name, fn)
    return module


# -- the shared files --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Any]:
    from PIL import Image

    root = tmp_path_factory.mktemp("bad")
    f: dict[str, Any] = {"root": root}
    f["emb"] = emb(5).save(root / "emb.safetensors")
    f["emb_other_ids"] = emb(5, ids=[f"x{k}" for k in range(5)]).save(root / "other.st")
    f["emb_partial"] = emb(3).save(root / "partial.st")
    f["a_file"] = root / "plain.txt"
    f["a_file"].write_text("not a folder\n")
    f["garbage"] = root / "garbage.safetensors"
    f["garbage"].write_bytes(b"\x00" * 7 + b"definitely not safetensors")
    f["empty"] = root / "empty.safetensors"
    f["empty"].write_bytes(b"")
    f["latin1_csv"] = root / "latin1.csv"
    f["latin1_csv"].write_bytes("id,text,label\na,caf\xe9,normal\n".encode("latin-1"))
    f["latin1_json"] = root / "latin1.json"
    f["latin1_json"].write_bytes('{"normal": "caf\xe9"}'.encode("latin-1"))
    f["not_dicom"] = root / "scan.dcm"
    f["not_dicom"].write_bytes(b"this is a text file renamed to .dcm" * 10)
    f["not_png"] = root / "photo.png"
    f["not_png"].write_text("hello")
    good = root / "good.png"
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(good)
    f["good_png"] = good
    f["truncated_png"] = root / "truncated.png"
    f["truncated_png"].write_bytes(good.read_bytes()[:40])
    f["bomb"] = _bomb(good, root / "bomb.png")
    t = Translator("identity", source_norm="none", target_norm="none").fit(
        emb(6, dim=32, fp=None), emb(6, dim=32, fp=None))
    f["translator"] = t.save(root / "t.safetensors")
    flipped = t.save(root / "t_flipped.safetensors")
    f["translator_flipped"] = flip_bit(flipped, _tensor_names(flipped)[0])
    f["prompts_list"] = root / "prompts_list.json"
    f["prompts_list"].write_text(json.dumps(["normal", "pneumonia"]))
    f["manifest"] = make_dataset(root / "data", n_per_class=4)
    f["empty_dir"] = root / "empty-dir"
    f["empty_dir"].mkdir()
    return f


def _bomb(png: Path, out: Path) -> Path:
    """A small PNG whose header claims 40000 x 40000 pixels (a decompression bomb)."""
    import struct
    import zlib

    raw = bytearray(png.read_bytes())
    ihdr = raw.index(b"IHDR")
    raw[ihdr + 4:ihdr + 12] = struct.pack(">II", 40000, 40000)
    crc = zlib.crc32(bytes(raw[ihdr:ihdr + 17]))
    raw[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    out.write_bytes(bytes(raw))
    return out


def _tensor_names(path: Path) -> list[str]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return [k for k in json.loads(raw[8:8 + n]) if k != "__metadata__"]


@pytest.fixture(autouse=True)
def _plugins(semalign_register_plugin):
    semalign_register_plugin(TinyPlugin(), "tiny-encoders")
    semalign_register_plugin(PickPlugin(), "pick-and-ridge")
    semalign_register_plugin(BadPlugin(), "bad-plugin")


# -- API cases ---------------------------------------------------------------------------------
def _legacy(f):
    path = f["root"] / "legacy.st"
    emb(3).save(path)

    def header(text: str) -> str:
        doc = json.loads(text)
        doc["format_version"] = 1
        return json.dumps(doc)

    return Embeddings.load(rewrite(path, header=header, drop_record=True))


def _header_edit(f):
    path = f["root"] / "edited.st"
    emb(3, metadata={"split": "train"}).save(path)
    return Embeddings.load(rewrite(path, header=lambda h: h.replace('"train"', '"test"')))


def _stripped(f):
    path = f["root"] / "stripped.st"
    emb(3).save(path)
    return Embeddings.load(rewrite(path, drop_record=True))


def _flipped(f, tensor, byte=0):
    path = f["root"] / f"flip-{tensor}.st"
    emb(3).save(path)
    return Embeddings.load(flip_bit(path, tensor, byte=byte, bit=3))


def _newer(f):
    path = f["root"] / "newer.st"
    emb(3).save(path)
    return Embeddings.load(rewrite(path, header=lambda h: h.replace(
        '"format_version": 2', '"format_version": 99')))


def _duplicate_lookup(f):
    register_plugin(CopyCat(), name="copy-cat")
    try:
        get_solver("bad-shared")
    finally:
        from semalign_core import unregister_plugin

        unregister_plugin("copy-cat")


def _duplicate_scoped(f):
    register_plugin(CopyCat(), name="copy-cat-2")
    try:
        assert isinstance(get_solver("identity"), Solver)  # unrelated names keep working
        assert "bad-shared" not in list_solvers()
    finally:
        from semalign_core import unregister_plugin

        unregister_plugin("copy-cat-2")


def _system_exit_plugin(f):
    from semalign_core import plugin_infos, unregister_plugin

    register_plugin(ExitingPlugin(), name="exiting")
    try:
        assert "never-seen" not in list_solvers() and "identity" in list_solvers()
        info = {i.name: i for i in plugin_infos()}["exiting"]
        assert info.status == "failed" and "SystemExit" in info.error
    finally:
        unregister_plugin("exiting")


def _unknown_hook(f):
    @hookimpl
    def register_solverz(register):  # type: ignore[no-untyped-def]
        pass

    register_plugin(_module_plugin(register_solverz=register_solverz), name="typo-hook")


def _selector_seed_changed(f):
    selector = get_anchor_selector("pick", seed=0)
    selector.seed = "zero"
    return selector.select(np.eye(4), 2)


def _encode_cached(f, encoder, items, cache=None, **kw):
    from semalign_core.encoding.cache import encode_cached

    return encode_cached(encoder, items, cache or f["root"] / "cache", **kw)


def _corrupt_shard_recovers(f):
    from semalign_core.encoding.cache import CorruptShardWarning

    cache = f["root"] / "cache-corrupt"
    texts = ["a b c", "d e f", "g h"]
    first = _encode_cached(f, HashTextEncoder(), texts, cache)
    shard = next(cache.glob("*/shard-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:-3] + b"xyz")
    with pytest.warns(CorruptShardWarning):
        again = _encode_cached(f, HashTextEncoder(), texts, cache)
    assert again.vectors.tobytes() == first.vectors.tobytes()


def _disk_full_mid_run(f):
    import errno

    from safetensors import numpy as st_numpy

    original, shards = st_numpy.save_file, []

    def fill_up(tensors, filename, *args, **kwargs):
        if ".shard-" in Path(filename).name:
            shards.append(filename)
            if len(shards) > 2:  # the third shard finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
        return original(tensors, filename, *args, **kwargs)

    st_numpy.save_file = fill_up
    try:
        _encode_cached(f, HashTextEncoder(), [f"text {i}" for i in range(9)],
                       f["root"] / "cache-full", shard_size=3)
    finally:
        st_numpy.save_file = original


def _orphan_cleaned(f):
    cache = f["root"] / "cache-orphan"
    _encode_cached(f, HashTextEncoder(), ["x y"], cache)
    orphan = next(cache.iterdir()) / ".shard-00.safetensors.abc.tmp"
    orphan.write_bytes(b"partial")
    os.utime(orphan, (time.time() - 7200,) * 2)
    _encode_cached(f, HashTextEncoder(), ["x y"], cache)
    assert not orphan.exists()


def _umask(f):
    import stat

    old = os.umask(0o002)
    try:
        path = emb(2).save(f["root"] / "shared.st")
        assert stat.S_IMODE(path.stat().st_mode) == 0o664
    finally:
        os.umask(old)


def _one_class_warns(f):
    t = Translator("identity", source_norm="none", target_norm="none").fit(np.eye(2),
                                                                            np.eye(2))
    with pytest.warns(UserWarning, match="one class"):
        ZeroShotClassifier(t, Embeddings(np.eye(1, 2, dtype=np.float32), ["normal"]),
                           device="cpu")


def _one_class_calibration_warns(f):
    from semalign_core.zeroshot import gmm_threshold

    scores = np.random.default_rng(0).normal(0.3, 0.1, 300)  # one mode: one class
    with pytest.warns(UserWarning, match="Ashman"):
        gmm_threshold(scores)


def _config_fails_before_encoding(f, **translator_or_anchors):
    from semalign_core.experiments.config import parse_config
    from semalign_core.experiments.runner import run_experiment

    cfg = {"encoders": {"source": {"name": "tiny-image"},
                        "target": {"name": "tiny-text", "options": {"dim": 32}}},
           "anchors": {"dataset": {"manifest": "manifest.csv", "split": "train"}, "count": 4,
                       "selector": {"name": "pick"}},
           "translator": {"solver": "test-ridge"},
           "task": {"kind": "zero-shot", "prompts": {"normal": "clear", "pneumonia": "opaque"}},
           "evaluation": {"dataset": {"manifest": "manifest.csv", "split": "test"}},
           "output_dir": "out"}
    for key, value in translator_or_anchors.items():
        section, field = key.split("__")
        cfg[section][field] = value
    config = parse_config(cfg, base_dir=f["manifest"].parent)
    started = time.perf_counter()
    try:
        run_experiment(config, write_report=False)
    finally:
        cache = f["manifest"].parent / "out" / "cache"
        assert not cache.exists(), "encoding started before the config was checked"
        assert time.perf_counter() - started < 5


def _read_manifest(path, **kw):
    from semalign_core.data import read_manifest

    return read_manifest(path, **kw)


def _load_image(path, **kw):
    from semalign_core.encoding.images import load_image

    return load_image(path, **kw)


def _metrics(*args, **kw):
    from semalign_core.evaluation.metrics import classification_metrics

    return classification_metrics(*args, **kw)


def _bool_mask(f):
    assert emb(4).subset(np.array([True, False, True, False])).ids == ("i0", "i2")


def _pairing_reversed(f):
    src = emb(8)
    tgt = Embeddings(src.vectors * 2 + 1, src.ids)
    t = Translator("identity", source_norm="standard", target_norm="standard")
    t.fit(src, tgt.subset(list(reversed(tgt.ids))))
    np.testing.assert_allclose(t.transform(src.vectors), tgt.vectors, atol=1e-4)


def _intersection(f):
    t = Translator("identity", source_norm="none", target_norm="none")
    assert t.fit(emb(6), emb(4), pairing="intersection").n_anchors_ == 4


API: list[Case] = [
    # Embeddings construction
    Case("emb-int-vectors", lambda f: Embeddings(np.eye(2, dtype=int), ["a", "b"]),
         InvalidInputError, "must be a floating-point array"),
    Case("emb-bool-vectors", lambda f: Embeddings(np.eye(2, dtype=bool), ["a", "b"]),
         InvalidInputError, "must be a floating-point array"),
    Case("emb-object-vectors", lambda f: Embeddings(np.array([[None, 1.0]]), ["a"]),
         InvalidInputError, "must be a floating-point array"),
    Case("emb-1d", lambda f: Embeddings(np.zeros(3), ["a"]), InvalidInputError, "must be 2-D"),
    Case("emb-3d", lambda f: Embeddings(np.zeros((1, 2, 3)), ["a"]), InvalidInputError,
         "must be 2-D"),
    Case("emb-zero-columns", lambda f: Embeddings(np.zeros((2, 0)), ["a", "b"]),
         InvalidInputError, "zero columns"),
    Case("emb-nan", lambda f: Embeddings(np.array([[np.nan, 1.0]]), ["a"]), InvalidInputError,
         "NaN or inf"),
    Case("emb-inf", lambda f: Embeddings(np.array([[np.inf, 1.0]]), ["a"]), InvalidInputError,
         "NaN or inf"),
    Case("emb-float64-overflow", lambda f: Embeddings(np.array([[3.5e38, 0.0]]), ["a"]),
         InvalidInputError, "too large for float32"),
    Case("emb-int-ids", lambda f: Embeddings(np.eye(2, dtype=np.float32), [1, 2]),
         InvalidInputError, "ids must be strings"),
    Case("emb-none-id", lambda f: Embeddings(np.eye(2, dtype=np.float32), ["a", None]),
         InvalidInputError, "ids must be strings"),
    Case("emb-too-few-ids", lambda f: Embeddings(np.eye(2, dtype=np.float32), ["a"]),
         InvalidInputError, "got 1 ids for 2 vectors"),
    Case("emb-duplicate-ids", lambda f: Embeddings(np.eye(2, dtype=np.float32), ["a", "a"]),
         InvalidInputError, "'a' occurs more than once"),
    Case("emb-fingerprint-type", lambda f: Embeddings(np.eye(3, dtype=np.float32), list("abc"),
                                                      fingerprint={"encoder": "x"}),
         InvalidInputError, "fingerprint must be a Fingerprint"),
    Case("emb-fingerprint-dim", lambda f: emb(2, dim=4, fp=FP), InvalidInputError,
         "but the fingerprint says 3"),
    Case("emb-metadata-not-json", lambda f: emb(2, metadata={"when": object()}),
         InvalidInputError, "metadata must be JSON-serialisable"),
    Case("emb-metadata-set", lambda f: emb(2, metadata={"tags": {1, 2}}), InvalidInputError,
         "metadata must be JSON-serialisable"),
    # Embeddings selection
    Case("subset-unknown-id", lambda f: emb(3).subset(["nope"]), InvalidInputError,
         "'nope' is not in these embeddings"),
    Case("subset-out-of-range", lambda f: emb(3).subset([5]), InvalidInputError,
         "out of range"),
    Case("subset-negative-out-of-range", lambda f: emb(3).subset([-4]), InvalidInputError,
         "out of range"),
    Case("subset-float-indices", lambda f: emb(3).subset(np.array([0.0, 1.0])),
         InvalidInputError, "integer indices or a boolean mask"),
    Case("subset-mixed", lambda f: emb(3).subset(["i0", 1]), InvalidInputError,
         "integer indices or a boolean mask"),
    Case("subset-mask-length", lambda f: emb(3).subset(np.array([True, False])),
         InvalidInputError, "one entry per row"),
    Case("subset-2d", lambda f: emb(3).subset(np.array([[0, 1]])), InvalidInputError,
         "must be 1-D"),
    Case("subset-bool-mask-ok", _bool_mask),
    Case("positions-unknown", lambda f: emb(3).positions(["i9"]), InvalidInputError,
         "'i9' is not in these embeddings"),
    # Fingerprints
    Case("fingerprint-dim-0", lambda f: Fingerprint("e", "a", "w", 0), InvalidInputError,
         "dim must be a positive int"),
    Case("fingerprint-dim-str", lambda f: Fingerprint("e", "a", "w", "3"), InvalidInputError,
         "dim must be a positive int"),
    Case("fingerprint-precision", lambda f: Fingerprint("e", "a", "w", 3, precision="int4"),
         InvalidInputError, "precision must be one of"),
    Case("fingerprint-from-dict", lambda f: Fingerprint.from_dict({"encoder": "e"}),
         InvalidInputError, "not a valid fingerprint"),
    # Files: missing, unreadable, damaged, tampered, old
    Case("load-missing", lambda f: Embeddings.load(f["root"] / "absent.st"), MissingFileError,
         "no such file"),
    Case("load-directory", lambda f: Embeddings.load(f["root"]), CorruptFileError,
         "is a directory"),
    Case("load-garbage", lambda f: Embeddings.load(f["garbage"]), CorruptFileError,
         "not a readable semalign file"),
    Case("load-empty", lambda f: Embeddings.load(f["empty"]), CorruptFileError,
         "not a readable semalign file"),
    Case("load-text-file", lambda f: Embeddings.load(f["a_file"]), CorruptFileError,
         "not a readable semalign file"),
    Case("load-other-format", lambda f: Embeddings.load(f["translator"]), CorruptFileError,
         "expected 'semalign.embeddings'"),
    Case("load-translator-from-embeddings", lambda f: Translator.load(f["emb"]),
         CorruptFileError, "expected 'semalign.translator'"),
    Case("load-newer-version", _newer, CorruptFileError, "upgrade it"),
    Case("load-flipped-vector-bit", lambda f: _flipped(f, "vectors", 2), CorruptFileError,
         "checksum of tensor 'vectors'"),
    Case("load-flipped-id-bit", lambda f: _flipped(f, "id_bytes"), CorruptFileError,
         "checksum of tensor 'id_bytes'"),
    Case("load-flipped-offset-bit", lambda f: _flipped(f, "id_offsets", 8), CorruptFileError,
         "checksum of tensor 'id_offsets'"),
    Case("load-edited-header", _header_edit, CorruptFileError, "header checksum"),
    Case("load-stripped-checksums", _stripped, CorruptFileError, "lacks its checksum record"),
    Case("load-version-1", _legacy, CorruptFileError, "allow_unverified=True"),
    Case("load-translator-flipped", lambda f: Translator.load(f["translator_flipped"]),
         CorruptFileError, "fails the checksum"),
    Case("load-translator-missing", lambda f: Translator.load(f["root"] / "nope.st"),
         MissingFileError, "no such file"),
    Case("load-label-index-missing", lambda f: LabelIndex.load(f["root"] / "nope.st"),
         MissingFileError, "no such file"),
    Case("save-under-a-file", lambda f: emb(2).save(f["a_file"] / "e.st"), OutputError,
         "could not write"),
    Case("save-onto-a-directory", lambda f: emb(2).save(f["root"]), OutputError,
         "could not write"),
    Case("save-honours-umask", _umask),
    # Translator
    Case("fit-disjoint-ids", lambda f: fitted().fit(emb(4), emb(4, ids=list("abcd"))),
         InvalidInputError, "share no id"),
    Case("fit-partial-overlap", lambda f: fitted().fit(emb(6), emb(4)), InvalidInputError,
         "pairing='intersection'"),
    Case("fit-pairing-name", lambda f: fitted().fit(emb(4), emb(4), pairing="magic"),
         InvalidInputError, "pairing must be one of"),
    Case("fit-reversed-target-ok", _pairing_reversed),
    Case("fit-intersection-ok", _intersection),
    Case("fit-row-mismatch", lambda f: fitted().fit(np.eye(3), np.eye(3)[:2]),
         DimensionMismatchError, "paired row by row"),
    Case("fit-nan", lambda f: fitted().fit(np.full((3, 3), np.nan), np.eye(3)),
         InvalidInputError, "NaN or inf"),
    Case("fit-one-anchor", lambda f: fitted().fit(np.eye(3)[:1], np.eye(3)[:1]),
         TooFewAnchorsError, "at least 2 anchor pairs"),
    Case("fit-identity-dims", lambda f: fitted().fit(np.eye(3), np.eye(3, 4)),
         DimensionMismatchError, "equal dimensions"),
    Case("solver-not-a-name", lambda f: Translator(42).fit(np.eye(3), np.eye(3)),
         InvalidInputError, "solver must be a solver name"),
    Case("solver-unknown", lambda f: Translator("afine").fit(np.eye(3), np.eye(3)),
         UnknownPluginError, "unknown solver 'afine'"),
    Case("solver-params-with-object", lambda f: Translator(
        Raising(), solver_params={"a": 1}).fit(np.eye(3), np.eye(3)), InvalidInputError,
         "solver_params only with a solver *name*"),
    Case("norm-step-unknown", lambda f: Translator("identity", source_norm="zscore").fit(
        np.eye(3), np.eye(3)), InvalidInputError, "unknown normalisation step 'zscore'"),
    Case("transform-unfitted", lambda f: Translator("identity").transform(np.eye(3)),
         NotFittedError, "not fitted"),
    Case("transform-dim", lambda f: fitted().transform(np.eye(4)), DimensionMismatchError,
         "expects 3-d source embeddings"),
    Case("transform-1d", lambda f: fitted().transform(np.zeros(3)), InvalidInputError,
         "must be 2-D"),
    Case("transform-other-encoder", lambda f: fitted().transform(
        emb(2, fp=Fingerprint("other", "arch", "w", 3))), EncoderMismatchError,
         "encode them with that encoder"),
    Case("transform-other-precision", lambda f: fitted().transform(emb(2, fp=FP_BF16)),
         EncoderMismatchError, "bfloat16"),
    Case("transform-batch-size", lambda f: list(fitted().iter_transform(np.eye(3),
                                                                         batch_size=0)),
         InvalidInputError, "batch_size must be a positive int"),
    Case("save-unfitted", lambda f: Translator("identity").save(f["root"] / "u.st"),
         NotFittedError, "not fitted"),
    # Registry and plugins
    Case("encoder-unknown", lambda f: get_encoder("tiny-imag"), UnknownPluginError,
         "Did you mean 'tiny-image'"),
    Case("encoder-name-not-str", lambda f: get_encoder(None), UnknownPluginError,
         "name must be a string"),
    Case("encoder-unknown-option", lambda f: get_encoder("tiny-image", sid=4),
         InvalidInputError, "bad options for encoder 'tiny-image'"),
    Case("solver-unknown-option", lambda f: get_solver("identity", alpha=1),
         InvalidInputError, "it accepts no options"),
    Case("factory-raises", lambda f: get_solver("bad-raising", boom=True), PluginError,
         "plugin 'bad-plugin' failed to build solver 'bad-raising'"),
    Case("factory-type-error", lambda f: get_solver("bad-raising", colour="red"),
         InvalidInputError, "bad options for solver 'bad-raising' (from plugin 'bad-plugin')"),
    Case("factory-wrong-type", lambda f: get_solver("bad-wrong-type"), PluginError,
         "not a Solver"),
    Case("duplicate-name-lookup", _duplicate_lookup, DuplicatePluginError,
         "'bad-plugin' and 'copy-cat'"),
    Case("duplicate-name-scoped", _duplicate_scoped),
    Case("plugin-system-exit", _system_exit_plugin),
    Case("plugin-unknown-hook", _unknown_hook, PluginError, "register_solverz"),
    # Anchor selectors
    Case("selector-seed-negative", lambda f: get_anchor_selector("pick", seed=-1),
         InvalidInputError, "seed must be an int >= 0 or None"),
    Case("selector-seed-changed", _selector_seed_changed, InvalidInputError,
         "seed must be an int >= 0 or None"),
    Case("selector-labels-none", lambda f: get_anchor_selector("pick").select(
        np.eye(4), 2, labels=np.array(["a", None, "b", "a"], dtype=object)), InvalidInputError,
         "labels hold None (first at row 1)"),
    Case("selector-labels-length", lambda f: get_anchor_selector("pick").select(
        np.eye(4), 2, labels=["a", "b"]), InvalidInputError, "one entry per row of X"),
    Case("selector-n-1", lambda f: get_anchor_selector("pick").select(np.eye(4), 1),
         TooFewAnchorsError, "at least 2 anchors"),
    Case("selector-n-too-big", lambda f: get_anchor_selector("pick").select(np.eye(4), 9),
         TooFewAnchorsError, "from a pool of 4"),
    Case("selector-n-float", lambda f: get_anchor_selector("pick").select(np.eye(4), 2.0),
         InvalidInputError, "n must be an int"),
    Case("selector-unknown", lambda f: get_anchor_selector("kmeens"), UnknownPluginError,
         "unknown anchor selector"),
    # Cache and encoding
    Case("cache-not-an-encoder", lambda f: _encode_cached(f, object(), ["a"]),
         InvalidInputError, "encoder must be an Encoder"),
    Case("cache-shard-size", lambda f: _encode_cached(f, HashTextEncoder(), ["a"],
                                                      shard_size=0),
         InvalidInputError, "shard_size must be a positive int"),
    Case("cache-ids-length", lambda f: _encode_cached(f, HashTextEncoder(), ["a", "b"],
                                                      ids=["x"]),
         InvalidInputError, "got 1 ids for 2 items"),
    Case("cache-dir-is-a-file", lambda f: _encode_cached(f, HashTextEncoder(), ["a"],
                                                         f["a_file"]),
         OutputError, "is a file, not a folder"),
    Case("cache-text-not-str", lambda f: _encode_cached(f, HashTextEncoder(), [3]),
         InvalidInputError, "text items must be strings"),
    Case("cache-image-missing", lambda f: _encode_cached(
        f, get_encoder("tiny-image"), [str(f["root"] / "nope.png")]), InvalidInputError,
         "cannot read image"),
    Case("cache-corrupt-shard-recovers", _corrupt_shard_recovers),
    Case("cache-orphan-cleaned", _orphan_cleaned),
    Case("cache-disk-full-mid-run", _disk_full_mid_run, OutputError,
         "the 2 shard(s) written before (6 of 9 new items) are kept"),
    Case("encode-batch-size", lambda f: HashTextEncoder().encode(["a"], batch_size=0),
         InvalidInputError, "batch_size must be a positive int"),
    Case("encode-ids-length", lambda f: HashTextEncoder().encode(["a"], ids=["x", "y"]),
         InvalidInputError, "got 2 ids for 1 items"),
    # Images
    Case("image-missing", lambda f: _load_image(f["root"] / "nope.png"), ImageLoadError,
         "no such file"),
    Case("image-not-an-image", lambda f: _load_image(f["not_png"]), ImageLoadError,
         "cannot read image"),
    Case("image-dcm-not-dicom", lambda f: _load_image(f["not_dicom"]), ImageLoadError,
         "cannot read image"),
    Case("image-decompression-bomb", lambda f: _load_image(f["bomb"]), ImageLoadError,
         "DecompressionBomb"),
    Case("image-truncated", lambda f: _load_image(f["truncated_png"]), ImageLoadError,
         "cannot read image"),
    Case("image-directory", lambda f: _load_image(f["root"]), ImageLoadError, "no such file"),
    Case("image-bad-mode", lambda f: _load_image(f["good_png"], mode="CMYK"),
         InvalidInputError, "mode must be one of"),
    Case("image-not-a-path", lambda f: _load_image(42), InvalidInputError,
         "expected an image path or a PIL image"),
    # Zero-shot
    Case("prompts-empty", lambda f: PromptSet({}), InvalidInputError, "prompt set is empty"),
    Case("prompts-non-string", lambda f: PromptSet({"a": ["x", 3]}), InvalidInputError,
         "must be non-empty strings, got 3"),
    Case("prompts-none", lambda f: PromptSet({"a": [None]}), InvalidInputError,
         "must be non-empty strings, got None"),
    Case("prompts-int", lambda f: PromptSet({"a": 3}), InvalidInputError,
         "must be a string or a list of strings"),
    Case("prompts-blank", lambda f: PromptSet({"a": "  "}), InvalidInputError,
         "must be non-empty strings"),
    Case("prompts-duplicate", lambda f: PromptSet({"a": ["x", "x"]}), InvalidInputError,
         "twice"),
    Case("prompts-class-not-str", lambda f: PromptSet({1: "x"}), InvalidInputError,
         "class names must be non-empty strings"),
    Case("zs-translator-type", lambda f: ZeroShotClassifier(object(), emb(2), None),
         InvalidInputError, "translator must be a Translator"),
    Case("zs-unfitted", lambda f: ZeroShotClassifier(Translator("identity"), emb(2), None),
         NotFittedError, "not fitted"),
    Case("zs-temperature", lambda f: ZeroShotClassifier(fitted(), emb(2, ids=["a", "b"],
                                                                     fp=None),
                                                        temperature=0),
         InvalidInputError, "temperature must be a positive finite number"),
    Case("zs-calibration", lambda f: ZeroShotClassifier(fitted(), emb(2, ids=["a", "b"],
                                                                     fp=None),
                                                        calibration="platt"),
         InvalidInputError, "calibration must be one of"),
    Case("zs-one-class-warns", _one_class_warns),
    Case("zs-calibration-one-class-warns", _one_class_calibration_warns),
    Case("zs-gmm-equal-scores", lambda f: _gmm(np.ones(40)), InvalidInputError,
         "all scores are (nearly) equal"),
    Case("zs-gmm-too-few", lambda f: _gmm(np.arange(5.0)), InvalidInputError,
         "at least 20 unlabeled items"),
    Case("label-index-length", lambda f: LabelIndex(["a"], np.eye(2, dtype=np.float32),
                                                    device="cpu"),
         DimensionMismatchError, "got 1 labels for 2 embeddings"),
    Case("label-index-duplicate", lambda f: LabelIndex(["a", "a"], np.eye(2, dtype=np.float32),
                                                       device="cpu"),
         InvalidInputError, "duplicate class name 'a'"),
    # Manifests and metrics
    Case("manifest-latin1", lambda f: _read_manifest(f["latin1_csv"], check_files=False),
         InvalidInputError, "is not UTF-8 (byte 0xe9"),
    Case("manifest-missing", lambda f: _read_manifest(f["root"] / "nope.csv"),
         InvalidInputError, "does not exist"),
    Case("manifest-format", lambda f: _read_manifest(f["a_file"]), InvalidInputError,
         "unknown manifest format"),
    Case("manifest-no-id-column", lambda f: _read_manifest(_write(
        f, "noid.csv", "path,label\nx.png,a\n"), check_files=False), InvalidInputError,
         "missing required column 'id'"),
    Case("manifest-folder-without-images", lambda f: _read_manifest(f["empty_dir"]),
         InvalidInputError, "holds no images"),
    Case("metrics-length", lambda f: _metrics(["a", "b"], ["a"]), DimensionMismatchError,
         "one entry per item"),
    Case("metrics-auroc-one-class", lambda f: _auroc(["a", "a"], [0.1, 0.2]),
         InvalidInputError, "single class"),
    # Config: every component name and parameter is checked before any encoding starts
    Case("config-missing", lambda f: _load_config(f["root"] / "nope.yaml"), ConfigError,
         "does not exist"),
    Case("config-latin1", lambda f: _load_config(f["latin1_json"]), ConfigError,
         "is not UTF-8"),
    Case("config-unknown-solver", lambda f: _config_fails_before_encoding(
        f, translator__solver="ridgee"), UnknownPluginError, "unknown solver 'ridgee'"),
    Case("config-bad-solver-param", lambda f: _config_fails_before_encoding(
        f, translator__params={"alpah": 1.0}), InvalidInputError,
         "bad options for solver 'test-ridge'"),
    Case("config-unknown-selector", lambda f: _config_fails_before_encoding(
        f, anchors__selector={"name": "kmeens"}), UnknownPluginError,
         "unknown anchor selector 'kmeens'"),
    Case("config-bad-selector-seed", lambda f: _config_fails_before_encoding(
        f, anchors__selector={"name": "pick", "params": {"colour": 1}}), InvalidInputError,
         "bad options for anchor selector 'pick'"),
    Case("config-bad-norm", lambda f: _config_fails_before_encoding(
        f, translator__source_norm="zscore"), ConfigError,
         "translator.source_norm: unknown normalisation step 'zscore'"),
]


def _write(f, name: str, text: str) -> Path:
    path = f["root"] / name
    path.write_text(text)
    return path


def _gmm(scores):
    from semalign_core.zeroshot import gmm_threshold

    return gmm_threshold(scores)


def _auroc(y, s):
    from semalign_core.evaluation.metrics import auroc

    return auroc(y, s)


def _load_config(path):
    from semalign_core.experiments.config import load_config

    return load_config(path)


@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_api(case: Case, files):
    if case.error is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            case.run(files)
        return
    with pytest.raises(case.error) as info:
        case.run(files)
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    assert case.fragment in str(info.value), str(info.value)


# -- CLI cases ---------------------------------------------------------------------------------
def _cli_files(f) -> dict[str, str]:
    root = f["root"]
    out = {k: str(v) for k, v in f.items()}
    out["pred_dup"] = str(_write(f, "pred_dup.csv", "id,prediction,p_normal,p_pneumonia\n"
                                 "normal-0,normal,0.9,0.1\nnormal-0,normal,0.9,0.1\n"))
    everyone = [f"{c}-{i}" for c in ("normal", "pneumonia") for i in range(4)]
    out["pred_nan"] = str(_write(f, "pred_nan.csv", "id,prediction,score_normal,"
                                 "score_pneumonia\n" + "".join(
                                     f"{i},normal,{'high' if k == 3 else 0.5},0.1\n"
                                     for k, i in enumerate(everyone))))
    out["pred_partial"] = str(_write(f, "pred_partial.csv", "id,prediction,p_normal,"
                                     "p_pneumonia\nnormal-0,normal,0.9,0.1\n"))
    out["pred_unknown"] = str(_write(f, "pred_unknown.csv", "id,prediction\nghost,normal\n"))
    out["pred_columns"] = str(_write(f, "pred_columns.csv", "name,label\nx,y\n"))
    out["prompts"] = str(_write(f, "prompts.json", json.dumps({"normal": "clear",
                                                               "pneumonia": "opacity"})))
    out["config_bad"] = str(_write(f, "bad.json", "{not json"))
    out["out"] = str(root / "cli-out.safetensors")
    return out


def _fit(source: str, target: str, *extra: str) -> Callable[[dict[str, str]], list[str]]:
    return lambda p: ["fit", "--source", p[source], "--target", p[target], "--solver",
                      "identity", "-o", p["out"], *extra]


def _evaluate(pred: str, *extra: str) -> Callable[[dict[str, str]], list[str]]:
    return lambda p: ["evaluate", "--predictions", p[pred], "--manifest", p["manifest"],
                      "--bootstrap", "5", *extra]


def _zero_shot(translator: str, images: str, prompts: str
               ) -> Callable[[dict[str, str]], list[str]]:
    return lambda p: ["zero-shot", "--translator", p[translator], "--images", p[images],
                      "--text-encoder", "tiny-text", "--prompts", p[prompts], "-o",
                      str(Path(p["root"]) / "zs.csv")]


CLI: list[tuple[str, Callable[[dict[str, str]], list[str]], str]] = [
    ("fit-missing-source", lambda p: ["fit", "--source", p["root"] + "/nope.st", "--target",
                                      p["emb"], "-o", p["out"]], "does not exist"),
    ("fit-disjoint", _fit("emb", "emb_other_ids"), "share no id"),
    ("fit-partial", _fit("emb", "emb_partial"), "--pairing intersection"),
    ("fit-corrupt-source", _fit("garbage", "emb"), "not a readable semalign file"),
    ("fit-source-is-translator", _fit("translator", "emb"), "expected 'semalign.embeddings'"),
    ("fit-unknown-solver", lambda p: ["fit", "--source", p["emb"], "--target", p["emb"],
                                      "--solver", "afine", "-o", p["out"]],
     "unknown solver 'afine'"),
    ("fit-bad-param", lambda p: ["fit", "--source", p["emb"], "--target", p["emb"],
                                 "--solver", "identity", "--param", "alpha=1", "-o", p["out"]],
     "it accepts no options"),
    ("fit-bad-param-syntax", lambda p: ["fit", "--source", p["emb"], "--target", p["emb"],
                                        "--param", "alpha", "-o", p["out"]],
     "--param expects key=value"),
    ("fit-output-is-a-folder", lambda p: ["fit", "--source", p["emb"], "--target", p["emb"],
                                          "--solver", "identity", "-o", p["root"]],
     "is a folder; give a file name"),
    ("zero-shot-output-under-a-file", lambda p: [*_zero_shot("translator", "emb", "prompts")(
        p)[:-1], p["a_file"] + "/zs.csv"], "is a file, not a folder"),
    ("encode-field-modality", lambda p: ["encode", "--encoder", "tiny-text", "--field",
                                         "image", "--manifest", p["manifest"], "-o", p["out"]],
     "--field image but tiny-text is a text encoder"),
    ("encode-unknown-encoder", lambda p: ["encode", "--encoder", "tiny-imag", "--manifest",
                                          p["manifest"], "-o", p["out"]],
     "Did you mean 'tiny-image'"),
    ("encode-bad-option", lambda p: ["encode", "--encoder", "tiny-image", "--option", "sid=3",
                                     "--manifest", p["manifest"], "-o", p["out"]],
     "bad options for encoder 'tiny-image'"),
    ("encode-output-under-a-file", lambda p: ["encode", "--encoder", "tiny-image",
                                              "--manifest", p["manifest"], "-o",
                                              p["a_file"] + "/e.st"],
     "is a file, not a folder"),
    ("encode-output-is-a-folder", lambda p: ["encode", "--encoder", "tiny-image",
                                             "--manifest", p["manifest"], "-o", p["root"]],
     "is a folder; give a file name"),
    ("encode-cache-is-a-file", lambda p: ["encode", "--encoder", "tiny-image", "--manifest",
                                          p["manifest"], "-o", p["out"], "--cache-dir",
                                          p["a_file"]], "is a file, not a folder"),
    ("encode-latin1-manifest", lambda p: ["encode", "--encoder", "tiny-text", "--manifest",
                                          p["latin1_csv"], "-o", p["out"]], "is not UTF-8"),
    ("encode-missing-manifest", lambda p: ["encode", "--encoder", "tiny-text", "--manifest",
                                           p["root"] + "/nope.csv", "-o", p["out"]],
     "does not exist"),
    ("evaluate-duplicates", _evaluate("pred_dup"), "predicted more than once"),
    ("evaluate-partial", _evaluate("pred_partial"), "has no prediction for"),
    ("evaluate-unknown-id", _evaluate("pred_unknown"), "not in the manifest"),
    ("evaluate-non-numeric-score", _evaluate("pred_nan"), "is not a number"),
    ("evaluate-missing-columns", _evaluate("pred_columns"), "needs columns id, prediction"),
    ("evaluate-missing-file", lambda p: ["evaluate", "--predictions", p["root"] + "/no.csv",
                                         "--manifest", p["manifest"]], "does not exist"),
    ("evaluate-latin1", _evaluate("latin1_csv"), "is not UTF-8"),
    ("evaluate-directory", lambda p: ["evaluate", "--predictions", p["root"], "--manifest",
                                      p["manifest"]], "is a folder"),
    ("zero-shot-missing-translator", lambda p: _zero_shot("emb", "emb", "prompts")(
        {**p, "emb": p["root"] + "/nope.st"}), "no such file"),
    ("zero-shot-flipped-translator", _zero_shot("translator_flipped", "emb", "prompts"),
     "fails the checksum"),
    ("zero-shot-latin1-prompts", _zero_shot("translator", "emb", "latin1_json"),
     "is not UTF-8"),
    ("zero-shot-prompts-list", _zero_shot("translator", "emb", "prompts_list"),
     "must map class names"),
    ("zero-shot-images-garbage", _zero_shot("translator", "garbage", "prompts"),
     "not a readable semalign file"),
    ("run-missing-config", lambda p: ["run", p["root"] + "/nope.yaml"], "does not exist"),
    ("run-latin1-config", lambda p: ["run", p["latin1_json"]], "is not UTF-8"),
    ("run-bad-json", lambda p: ["run", p["config_bad"]], "bad.json"),
]


@pytest.mark.parametrize("case", CLI, ids=[c[0] for c in CLI])
def test_cli(case, files, capsys):
    _, argv, fragment = case
    paths = _cli_files(files)
    capsys.readouterr()
    assert main(argv(paths)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in err
    assert fragment in err, err


def test_cli_in_a_real_process_prints_one_line_and_no_traceback(files):
    """The in-process cases above would let a foreign exception escape; a real process shows
    what a user sees."""
    code = "import sys; from semalign_core.cli.main import main; sys.exit(main(sys.argv[1:]))"
    for argv, fragment in ((["zero-shot", "--translator", str(files["translator_flipped"]),
                             "--images", str(files["emb"]), "--text-encoder", "x",
                             "--prompts", "p.json", "-o", "o.csv"], "fails the checksum"),
                           (["encode", "--encoder", "example-hash-text", "--manifest",
                             str(files["latin1_csv"]), "-o", "o.st"], "")):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 1, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
        assert fragment in lines[0] and "Traceback" not in out.stderr


def test_the_tables_hold_at_least_120_cases():
    ids = [c.id for c in API] + [c[0] for c in CLI]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 120, len(ids)


def test_missing_weights_are_reported_before_the_network_is_built():
    pytest.importorskip("torch")
    pytest.importorskip("semalign_biovil")
    code = ("import time, torch, semalign_core as s; s.list_encoders(); t = time.perf_counter()\n"
            "try:\n    s.get_encoder('biovil-image').encode(['x.png'], progress=False)\n"
            "except s.MissingWeightsError:\n    print(time.perf_counter() - t)\n")
    env = {**os.environ, "HOME": "/nonexistent-home", "HF_HOME": "/nonexistent-home/hf",
           "HF_HUB_OFFLINE": "1", "SEMALIGN_WEIGHTS_DIR": "/nonexistent-weights"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    assert float(out.stdout) < 1.0


def test_skip_errors_skips_every_kind_of_undecodable_image(files):
    pytest.importorskip("torch")
    from test_precision import TinyConvEncoder

    encoder = TinyConvEncoder(device="cpu", autocast=False, progress=False, skip_errors=True)
    items = [str(files[k]) for k in ("good_png", "not_dicom", "bomb", "truncated_png",
                                     "not_png")]
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        out = encoder.encode(items)
    assert out.ids == (items[0],)
    assert [s["source"] for s in out.metadata["skipped"]] == items[1:]
    with pytest.raises(ImageLoadError, match="scan.dcm"):
        TinyConvEncoder(device="cpu", progress=False).encode(items[:2])
