"""The shared numerics (semalign_core/_numerics.py): known answers and properties."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semalign_core import CorruptFileError
from semalign_core import _numerics as nm

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)
matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                                   max_side=12), elements=finite)


# -- l2_normalize ----------------------------------------------------------------------------------
def test_l2_normalize_known_answer():
    out = nm.l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(nm.l2_normalize(np.array([[3.0], [4.0]]), axis=0), [[0.6], [0.8]])
    np.testing.assert_allclose(nm.l2_normalize(np.array([1.0, 1.0])), [2 ** -0.5] * 2)


@settings(max_examples=60, deadline=None)
@given(matrices)
def test_l2_normalize_gives_unit_rows_in_the_same_direction(X):
    U = nm.l2_normalize(X)
    norms = np.linalg.norm(X, axis=1)
    big = norms > 1e-6
    np.testing.assert_allclose(np.linalg.norm(U[big], axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(U[big] * norms[big, None], X[big], rtol=1e-7, atol=1e-9)
    assert np.all(np.linalg.norm(U, axis=1) <= 1.0 + 1e-9)  # nothing blows up near zero


# -- softmax / sigmoid -----------------------------------------------------------------------------
def test_softmax_and_sigmoid_known_answers():
    e = np.e
    np.testing.assert_allclose(nm.softmax(np.array([[0.0, 1.0]])), [[1 / (1 + e), e / (1 + e)]])
    np.testing.assert_allclose(nm.sigmoid(np.array([0.0, np.log(3.0)])), [0.5, 0.75])
    # no overflow at extreme logits (a temperature of 0.01 makes these routine)
    with np.errstate(over="raise"):
        np.testing.assert_allclose(nm.softmax(np.array([[1e4, 0.0]])), [[1.0, 0.0]])
        np.testing.assert_allclose(nm.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(matrices, finite)
def test_softmax_matches_scipy_and_ignores_a_shift(X, shift):
    special = pytest.importorskip("scipy.special")
    P = nm.softmax(X)
    np.testing.assert_allclose(P, special.softmax(X, axis=1), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(nm.softmax(X + shift), P, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(nm.softmax(X.T, axis=0), P.T, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 30), elements=st.floats(-800, 800)))
def test_sigmoid_matches_scipy_expit_and_the_two_class_softmax(z):
    special = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(nm.sigmoid(z), special.expit(z), rtol=1e-12, atol=1e-300)
    pair = nm.softmax(np.column_stack([np.zeros_like(z), z]))
    np.testing.assert_allclose(nm.sigmoid(z), pair[:, 1] if len(z) else z, atol=1e-12)


# -- retrieval_ranks -------------------------------------------------------------------------------
def test_retrieval_ranks_known_answer_and_ties_count_against():
    eye = np.eye(4)
    np.testing.assert_array_equal(nm.retrieval_ranks(eye, eye), [0, 0, 0, 0])
    np.testing.assert_array_equal(nm.retrieval_ranks(eye, eye[::-1]), [3, 3, 3, 3])
    same = np.ones((3, 2))  # every candidate ties with the true one: worst rank
    np.testing.assert_array_equal(nm.retrieval_ranks(same, same), [2, 2, 2])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 8), st.integers(1, 50))
def test_retrieval_ranks_match_brute_force_for_any_batch(seed, n, d, batch):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    cos = nm.l2_normalize(A) @ nm.l2_normalize(B).T
    expected = [int(np.sum(np.delete(cos[i], i) >= cos[i, i])) for i in range(n)]
    np.testing.assert_array_equal(nm.retrieval_ranks(A, B, batch_size=batch), expected)


# -- file digests ----------------------------------------------------------------------------------
def test_file_digest_known_answers(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert nm.file_digest(path) == ("ba7816bf8f01cfea414140de5dae2223"
                                    "b00361a396177a9cb410ff61f20015ad")
    assert nm.file_digest(path, "md5") == "900150983cd24fb0d6963f7d28e17f72"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))  # several read chunks
    assert nm.file_digest(big) == hashlib.sha256(big.read_bytes()).hexdigest()


def test_cached_file_digest_hashes_once_and_again_after_a_change(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    calls: list[str] = []
    real = nm.file_digest
    monkeypatch.setattr(nm, "file_digest", lambda p, a="sha256": calls.append(a) or real(p, a))
    first = nm.cached_file_digest(path)
    assert nm.cached_file_digest(path) == first == hashlib.sha256(b"first").hexdigest()
    assert nm.cached_file_digest(path, "md5") == hashlib.md5(b"first").hexdigest()
    assert calls == ["sha256", "md5"]  # the repeat came from the cache
    path.write_bytes(b"second, longer")  # new size (and mtime): hashed again
    assert nm.cached_file_digest(path) == hashlib.sha256(b"second, longer").hexdigest()
    assert calls == ["sha256", "md5", "sha256"]
    with pytest.raises(FileNotFoundError):
        nm.cached_file_digest(tmp_path / "absent.bin")


# -- read_state_dict -------------------------------------------------------------------------------
def test_read_state_dict_reads_safetensors_and_torch_files_without_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from semalign_core.encoding import read_state_dict  # the SDK name plugins import

    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3)}
    save_file(state, str(tmp_path / "m.safetensors"))
    torch.save(state, tmp_path / "m.pt")
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ck.pt")
    for name in ("m.safetensors", "m.pt", "ck.pt"):
        got = read_state_dict(tmp_path / name)
        assert set(got) == {"w", "b"} and torch.equal(got["w"], state["w"])
    wrapped = read_state_dict(tmp_path / "m.pt", unwrap=False)
    assert set(wrapped) == {"w", "b"}
    with pytest.raises(CorruptFileError, match="flat state dict"):
        read_state_dict(tmp_path / "ck.pt", unwrap=False)  # strict readers refuse wrappers
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a pickled module
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    for name in ("module.pt", "garbage.pt"):
        with pytest.raises(CorruptFileError, match=name):
            read_state_dict(tmp_path / name)


def test_unit_mean_weighs_every_row_alike():
    # rows of different norms: each counts by direction only
    np.testing.assert_allclose(nm.unit_mean(np.array([[10.0, 0.0], [0.0, 0.1]])),
                               [2 ** -0.5, 2 ** -0.5])
    with pytest.raises(nm.InvalidInputError, match="cancel out"):
        nm.unit_mean(np.array([[1.0, 0.0], [-2.0, 0.0]]))
    with pytest.raises(nm.InvalidInputError, match="non-empty"):
        nm.unit_mean(np.zeros((0, 3)))
