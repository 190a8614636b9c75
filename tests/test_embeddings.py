"""The Embeddings container: validation, selection, safetensors persistence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from semalign_core import CorruptFileError, Embeddings, Fingerprint, InvalidInputError

FP = Fingerprint("enc", "arch", "sha256:abc", 3, preprocessing={"resize": 224})


def _emb(n: int = 4, dim: int = 3) -> Embeddings:
    vectors = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
    return Embeddings(vectors, [f"id{i}" for i in range(n)], FP if dim == 3 else None,
                      {"split": "test"})


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, np.nan]]), "NaN or inf"),
    (np.array([[1.0, np.inf]]), "NaN or inf"),
    (np.zeros(3), "must be 2-D"),
    (np.zeros((1, 2, 3)), "must be 2-D"),
    (np.zeros((2, 2), dtype=np.int64), "floating-point"),
    (np.array([["a", "b"]]), "floating-point"),
])
def test_rejects_bad_vectors(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        Embeddings(bad, [str(i) for i in range(len(bad))] if np.ndim(bad) else [])


def test_rejects_id_count_mismatch():
    with pytest.raises(InvalidInputError, match="got 1 ids for 2 vectors"):
        Embeddings(np.zeros((2, 2), np.float32), ["a"])


def test_rejects_duplicate_ids():
    with pytest.raises(InvalidInputError, match="'a' occurs more than once"):
        Embeddings(np.zeros((3, 2), np.float32), ["a", "b", "a"])


def test_rejects_non_string_ids():
    with pytest.raises(InvalidInputError, match="ids must be strings"):
        Embeddings(np.zeros((2, 2), np.float32), [1, 2])


def test_rejects_fingerprint_of_another_dimension():
    with pytest.raises(InvalidInputError, match="fingerprint says 3"):
        Embeddings(np.zeros((2, 5), np.float32), ["a", "b"], FP)


def test_float64_is_stored_as_float32():
    emb = Embeddings(np.ones((2, 3)), ["a", "b"])
    assert emb.vectors.dtype == np.float32


def test_subset_by_ids_and_indices():
    emb = _emb()
    by_id = emb.subset(["id2", "id0"])
    np.testing.assert_array_equal(by_id.vectors, emb.vectors[[2, 0]])
    assert by_id.ids == ("id2", "id0") and by_id.fingerprint == FP
    assert emb.subset(np.array([3])).ids == ("id3",)
    with pytest.raises(InvalidInputError, match="'nope' is not in"):
        emb.subset(["nope"])
    with pytest.raises(InvalidInputError, match="out of range"):
        emb.subset([7])


def test_save_load_round_trip(tmp_path: Path):
    emb = _emb()
    path = emb.save(tmp_path / "sub" / "emb.safetensors")
    loaded = Embeddings.load(path)
    np.testing.assert_array_equal(loaded.vectors, emb.vectors)
    assert loaded.ids == emb.ids
    assert loaded.fingerprint == FP and loaded.fingerprint.id == FP.id
    assert loaded.metadata == {"split": "test"}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@settings(max_examples=30, deadline=None)
@given(vectors=arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(1, 5)),
                      elements=st.floats(-1e6, 1e6, width=32)),
       prefix=st.text(min_size=0, max_size=5))
def test_round_trip_property(tmp_path_factory, vectors, prefix):
    ids = [f"{prefix}\n{i}é" for i in range(len(vectors))]
    path = tmp_path_factory.mktemp("emb") / "e.safetensors"
    loaded = Embeddings.load(Embeddings(vectors, ids).save(path))
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert list(loaded.ids) == ids


def test_failed_write_leaves_the_old_file_untouched(tmp_path: Path, monkeypatch):
    path = _emb().save(tmp_path / "emb.safetensors")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        _emb(n=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["emb.safetensors"]


def test_truncated_file_is_corrupt(tmp_path: Path):
    path = _emb().save(tmp_path / "emb.safetensors")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(CorruptFileError, match="emb.safetensors"):
        Embeddings.load(path)


def test_garbage_file_is_corrupt(tmp_path: Path):
    path = tmp_path / "emb.safetensors"
    path.write_bytes(b"definitely not safetensors")
    with pytest.raises(CorruptFileError):
        Embeddings.load(path)


def test_file_of_another_format_is_refused(tmp_path: Path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(path),
              metadata={"semalign": json.dumps({"format": "semalign.translator",
                                                "format_version": 1})})
    with pytest.raises(CorruptFileError, match="expected 'semalign.embeddings'"):
        Embeddings.load(path)


def test_newer_format_version_is_refused(tmp_path: Path):
    from safetensors.numpy import save_file

    path = tmp_path / "future.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(path),
              metadata={"semalign": json.dumps({"format": "semalign.embeddings",
                                                "format_version": 99})})
    with pytest.raises(CorruptFileError, match="upgrade"):
        Embeddings.load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        Embeddings.load("/nonexistent/emb.safetensors")


def test_fingerprint_identity_and_validation():
    same = Fingerprint("enc", "arch", "sha256:abc", 3, preprocessing={"resize": 224})
    other = Fingerprint("enc", "arch", "sha256:abd", 3, preprocessing={"resize": 224})
    assert same == FP and hash(same) == hash(FP) and same.id == FP.id
    assert other != FP and other.id != FP.id
    assert Fingerprint.from_dict(FP.to_dict()) == FP
    with pytest.raises(InvalidInputError):
        Fingerprint("e", "a", "w", 0)
    with pytest.raises(InvalidInputError):
        Fingerprint.from_dict({"encoder": "e"})
