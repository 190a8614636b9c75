"""IVFIndex: exact at nprobe = nlist, high recall on clustered data, files that refuse damage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semalign_core import CorruptFileError, InvalidInputError, NotFittedError
from semalign_core.errors import DimensionMismatchError

faiss = pytest.importorskip("faiss")
from semalign_core.zeroshot.ivf_index import IVFIndex, recall_at_k  # noqa: E402


def _exact(X, Q, k):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    scores = Qn @ Xn.T
    rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, rows, axis=1), rows


def _clustered(n, dim, centers, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centers, dim))
    return (means[rng.integers(0, centers, n)] + 0.3 * rng.normal(size=(n, dim))
            ).astype(np.float32)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(80, 300), dim=st.sampled_from([4, 8, 12]), nlist=st.integers(1, 2),
       seed=st.integers(0, 2 ** 16))
def test_visiting_every_cell_is_exact(n, dim, nlist, seed):
    X = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    Q = np.random.default_rng(seed + 1).normal(size=(7, dim)).astype(np.float32)
    index = IVFIndex(nlist=nlist, nprobe=nlist, device="cpu").fit(X)
    scores, rows = index.search(Q, k=5)
    want_scores, _ = _exact(X, Q, 5)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-5)
    assert rows.shape == (7, 5) and index.ntotal == n


def test_known_answer_items_find_themselves():
    X = _clustered(3000, 16, 30, 0)
    index = IVFIndex(nlist=30, nprobe=4, device="cpu").fit(X)
    _, rows = index.search(X[:50], k=1)
    assert rows[:, 0].tolist() == list(range(50))


# IVF-PQ (16 one-byte codes for 32 dims: 8x smaller) trades recall for memory.
@pytest.mark.parametrize(("kind", "bar"), [("ivf-flat", 0.95), ("ivf-pq", 0.6)])
def test_recall_against_the_exact_index(kind, bar):
    X = _clustered(20000, 32, 100, 1)
    Q = _clustered(200, 32, 100, 1)[:200] + 0.01
    _, exact = _exact(X, Q, 10)
    index = IVFIndex(kind, nlist=100, nprobe=1, m=16, device="cpu").fit(X)
    low = recall_at_k(index.search(Q, k=10)[1], exact)
    index.nprobe = 16
    high = recall_at_k(index.search(Q, k=10)[1], exact)
    assert high >= bar and high > low  # nprobe trades speed for recall


def test_chunked_adds_equal_one_fit(tmp_path):
    X = _clustered(4000, 8, 20, 2)
    whole = IVFIndex(nlist=20, nprobe=20, device="cpu", train_size=800).fit(X)
    parts = IVFIndex(nlist=20, nprobe=20, device="cpu", train_size=800).fit(X[:1000])
    for start in range(1000, 4000, 1000):
        parts.add(X[start:start + 1000])
    assert parts.ntotal == 4000
    np.testing.assert_allclose(parts.search(X[:20], 3)[0], whole.search(X[:20], 3)[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["ivf-flat", "ivf-pq"])
def test_save_load_round_trip_and_damage(tmp_path, kind):
    X = _clustered(3000, 16, 20, 3)
    index = IVFIndex(kind, nlist=20, nprobe=5, m=4, device="cpu").fit(X)
    path = index.save(tmp_path / "index.safetensors")
    loaded = IVFIndex.load(path, device="cpu")
    assert (loaded.kind, loaded.nprobe, loaded.ntotal, loaded.dim) == (kind, 5, 3000, 16)
    for a, b in zip(index.search(X[:30], 5), loaded.search(X[:30], 5), strict=True):
        np.testing.assert_array_equal(a, b)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # one flipped bit inside the FAISS blob
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        IVFIndex.load(path)


def test_bad_input_is_refused():
    X = _clustered(500, 12, 5, 4)
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        IVFIndex("hnsw")
    with pytest.raises(InvalidInputError, match="m to divide"):
        IVFIndex("ivf-pq", m=5, nlist=4, device="cpu").fit(X)
    with pytest.raises(NotFittedError):
        IVFIndex(device="cpu").search(X, 3)
    index = IVFIndex(nlist=4, device="cpu").fit(X)
    with pytest.raises(DimensionMismatchError):
        index.search(X[:, :6], 3)
    with pytest.raises(InvalidInputError, match="nprobe"):
        index.nprobe = 0
    with pytest.raises(InvalidInputError, match="cannot train"):
        IVFIndex(nlist=100, device="cpu").fit(X[:50])
    if faiss.get_num_gpus() == 0:
        with pytest.raises(InvalidInputError, match="sees no GPU"):
            IVFIndex(device="cuda")
