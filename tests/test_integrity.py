"""Issue 11, item 1: every semalign file carries SHA-256 checksums of its header and tensors,
verified on load; damaged, edited and unverifiable files are refused with CorruptFileError."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from helpers import LstsqSolver
from safetensors import safe_open
from safetensors.numpy import save_file

from semalign_core import CorruptFileError, Embeddings, Fingerprint, Translator, hookimpl
from semalign_core.fileio import read_arrays, write_arrays
from semalign_core.zeroshot import LabelIndex

FP = Fingerprint("enc", "arch", "w", 4)


class _Plugin:
    @hookimpl
    def register_solvers(self, register):  # type: ignore[no-untyped-def]
        register("test-lstsq", LstsqSolver)


@pytest.fixture(autouse=True)
def _solver(semalign_register_plugin):
    semalign_register_plugin(_Plugin(), "test-integrity-solver")


def _tensor_span(path: Path, name: str) -> tuple[int, int]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    start, end = json.loads(raw[8:8 + n])[name]["data_offsets"]
    return 8 + n + start, 8 + n + end


def flip_bit(path: Path, tensor: str, byte: int = 0, bit: int = 0) -> Path:
    """Flip one bit inside ``tensor``'s bytes (counted from the end when ``byte`` < 0)."""
    start, end = _tensor_span(path, tensor)
    raw = bytearray(path.read_bytes())
    raw[(start if byte >= 0 else end) + byte] ^= 1 << bit
    path.write_bytes(bytes(raw))
    return path


def rewrite(path: Path, *, header=None, arrays=None, drop_record: bool = False) -> Path:
    """Rewrite ``path`` with an edited header or arrays but the ORIGINAL checksum record."""
    with safe_open(str(path), framework="numpy") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if header is not None:
        meta["semalign"] = header(meta["semalign"])
    if arrays is not None:
        tensors = arrays(tensors)
    if drop_record:
        meta.pop("semalign.sha256")
    save_file(tensors, str(path), metadata=meta)
    return path


def _translator(tmp_path: Path, name: str = "t.safetensors") -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    Y = (X @ rng.normal(size=(4, 3))).astype(np.float32)
    return Translator("test-lstsq").fit(X, Y).save(tmp_path / name)


def _embeddings(tmp_path: Path, name: str = "e.safetensors") -> Path:
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    return Embeddings(vectors, ["i0", "i1", "i2"], FP, {"split": "test"}).save(tmp_path / name)


def test_a_flipped_bit_in_the_vectors_is_refused(tmp_path):
    path = flip_bit(_embeddings(tmp_path), "vectors", byte=3, bit=6)  # 4.28e37 on old code
    with pytest.raises(CorruptFileError, match="checksum of tensor 'vectors'"):
        Embeddings.load(path)


def test_a_flipped_bit_in_the_ids_is_refused(tmp_path):
    path = flip_bit(_embeddings(tmp_path), "id_bytes", byte=1, bit=5)  # "i0" -> "I0"
    with pytest.raises(CorruptFileError, match="id_bytes"):
        Embeddings.load(path)


def test_tampered_id_offsets_are_refused(tmp_path):
    path = rewrite(_embeddings(tmp_path),
                   arrays=lambda t: {**t, "id_offsets": np.array([0, 1, 4, 6], np.int64)})
    with pytest.raises(CorruptFileError, match="id_offsets"):
        Embeddings.load(path)


def test_a_flipped_bit_in_the_solver_coefficients_is_refused(tmp_path):
    path = flip_bit(_translator(tmp_path), "solver.coef_", byte=-1, bit=6)
    with pytest.raises(CorruptFileError, match="solver.coef_"):
        Translator.load(path)


def test_nan_written_into_the_coefficients_is_refused(tmp_path):
    def nan(t):
        coef = t["solver.coef_"].copy()
        coef[0, 0] = np.nan
        return {**t, "solver.coef_": coef}

    with pytest.raises(CorruptFileError):
        Translator.load(rewrite(_translator(tmp_path), arrays=nan))


def test_a_header_edited_from_standard_to_center_is_refused(tmp_path):
    path = rewrite(_translator(tmp_path), header=lambda h: h.replace('"standard"', '"center"'))
    with pytest.raises(CorruptFileError, match="header checksum"):
        Translator.load(path)


def test_added_or_dropped_tensors_and_a_stripped_record_are_refused(tmp_path):
    added = rewrite(_embeddings(tmp_path, "a.st"),
                    arrays=lambda t: {**t, "extra": np.zeros(2, np.float32)})
    dropped = rewrite(_translator(tmp_path, "b.st"),
                      arrays=lambda t: {k: v for k, v in t.items() if k != "source.0.scale"})
    stripped = rewrite(_embeddings(tmp_path, "c.st"), drop_record=True)
    with pytest.raises(CorruptFileError, match="was written with"):
        Embeddings.load(added)
    with pytest.raises(CorruptFileError, match="was written with"):
        Translator.load(dropped)
    with pytest.raises(CorruptFileError, match="lacks its checksum record"):
        Embeddings.load(stripped)


def test_label_index_is_checksummed(tmp_path):
    index = LabelIndex(["a", "b"], np.eye(2, 4, dtype=np.float32), device="cpu")
    path = flip_bit(index.save(tmp_path / "l.safetensors"), "embeddings", byte=2, bit=1)
    with pytest.raises(CorruptFileError, match="embeddings"):
        LabelIndex.load(path, device="cpu")


def _legacy(path: Path, fmt: str) -> Path:
    """The same file as semalign wrote it before checksums: format version 1, no record."""
    def header(text: str) -> str:
        doc = json.loads(text)
        doc["format_version"] = 1
        if fmt == "semalign.embeddings" and doc.get("fingerprint"):
            doc["fingerprint"].pop("precision", None)
        return json.dumps(doc)

    return rewrite(path, header=header, drop_record=True)


def test_version_1_files_are_refused_unless_allow_unverified(tmp_path):
    emb = _legacy(_embeddings(tmp_path), "semalign.embeddings")
    tr = _legacy(_translator(tmp_path), "semalign.translator")
    for load, path in ((Embeddings.load, emb), (Translator.load, tr)):
        with pytest.raises(CorruptFileError, match="allow_unverified=True"):
            load(path)
    loaded = Embeddings.load(emb, allow_unverified=True)
    assert loaded.ids == ("i0", "i1", "i2")
    assert Translator.load(tr, allow_unverified=True).is_fitted
    # the documented upgrade: load once without verification, save again
    upgraded = loaded.save(tmp_path / "upgraded.safetensors")
    assert read_arrays(upgraded, format="semalign.embeddings", max_version=2)[1][
        "format_version"] == 2


def test_checksums_round_trip_any_header(tmp_path):
    header = {"tuple": (1, 2), "nested": {"b": [1.5, None], "a": "é"}, "big": 2**60}
    path = write_arrays(tmp_path / "x.st", {"a": np.arange(5, dtype=np.int64),
                                             "b": np.zeros((0, 3), np.float32)},
                        format="semalign.test", version=2, header=header)
    arrays, doc = read_arrays(path, format="semalign.test", max_version=2)
    assert doc["tuple"] == [1, 2] and doc["nested"]["a"] == "é"
    assert arrays["b"].shape == (0, 3)


def test_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = _embeddings(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(_embeddings(tmp_path, "private.st").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(CorruptFileError, match="is a directory"):
        Embeddings.load(tmp_path)
