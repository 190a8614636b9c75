"""TorchTextEncoder batches by length and returns the input order (torch is imported lazily)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semalign_core import Fingerprint
from semalign_core.encoding.torch_batching import TorchTextEncoder

pytest.importorskip("torch")


class PaddedEncoder(TorchTextEncoder):
    """Vectors depend on the text only; records each batch and the padding it would need."""

    name = "test-padded"

    def __init__(self) -> None:
        super().__init__(device="cpu", autocast=False)
        self.batches: list[list[str]] = []

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "len", "none", 3)

    def _build(self) -> None:
        pass

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, t.count("a")] for t in texts],
                        dtype=np.float32)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(alphabet="ab c", max_size=30), max_size=40),
       batch_size=st.integers(1, 9))
def test_length_batching_returns_the_input_order(texts, batch_size):
    enc = PaddedEncoder()
    ids = [f"id{i}" for i in range(len(texts))]
    out = enc.encode(texts, ids=ids, batch_size=batch_size, progress=False)
    assert list(out.ids) == ids
    expected = np.array([[len(t), sum(map(ord, t)) % 97, t.count("a")] for t in texts],
                        dtype=np.float32).reshape(-1, 3)
    np.testing.assert_array_equal(out.vectors, expected)
    fed = [len(t) for batch in enc.batches for t in batch]
    assert fed == sorted(fed, reverse=True)  # longest first, batches of similar lengths


def test_sorting_cuts_the_padding():
    texts = ["a" * n for n in (1, 40, 2, 38, 3, 39, 1, 41)]
    enc = PaddedEncoder()
    enc.encode(texts, batch_size=2, progress=False)
    padded = sum(len(b) * max(map(len, b)) for b in enc.batches)
    in_order = sum(2 * max(len(texts[i]), len(texts[i + 1])) for i in range(0, 8, 2))
    assert padded < 0.6 * in_order


def test_non_strings_and_mismatched_ids_are_refused():
    from semalign_core import InvalidInputError

    with pytest.raises(InvalidInputError, match="strings"):
        PaddedEncoder().encode(["a", 3], progress=False)
    with pytest.raises(InvalidInputError, match="ids"):
        PaddedEncoder().encode(["a"], ids=["x", "y"], progress=False)
