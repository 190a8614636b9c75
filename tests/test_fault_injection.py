"""Fault injection: an encode killed with SIGKILL mid-run resumes to embeddings bit for bit
equal to an uninterrupted run; a corrupted shard is detected, set aside and re-encoded to the
same bits; orphaned temporary shards are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import HashTextEncoder

from semalign_core.encoding.cache import CorruptShardWarning, encode_cached

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

TEXTS = [f"report {i}: {' '.join(f'w{(i * k) % 97}' for k in range(1, 9))}" for i in range(60)]
SHARD = 10

# The child encodes with a cheap deterministic encoder; after two shards its encoder stalls
# (as a slow model would), so the parent's SIGKILL lands in the middle of the third shard.
CHILD = """
import sys, time
from helpers import HashTextEncoder
from semalign_core.encoding.cache import encode_cached

texts = [line.rstrip("\\n") for line in open(sys.argv[2], encoding="utf-8")]

class Stalling(HashTextEncoder):
    stall = False

    def encode_batch(self, items):
        if self.stall:
            print("stalled", flush=True)
            time.sleep(300)
        return super().encode_batch(items)

encoder = Stalling(dim=24)

def on_shard(done, total):
    print(f"shard {done}/{total}", flush=True)
    if done >= 2 * %(shard)d:
        encoder.stall = True

encode_cached(encoder, texts, sys.argv[1], shard_size=%(shard)d, on_shard=on_shard)
print("finished", flush=True)
""".replace("%(shard)d", str(SHARD))


def _reference(tmp_path: Path):
    return encode_cached(HashTextEncoder(dim=24), TEXTS, tmp_path / "reference", shard_size=SHARD)


def _same_bits(a, b) -> None:
    assert a.ids == b.ids
    assert a.vectors.dtype == b.vectors.dtype == np.float32
    assert a.vectors.tobytes() == b.vectors.tobytes()


def _kill_mid_run(cache: Path, tmp_path: Path) -> list[str]:
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(cache), str(texts_file)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.strip() == "stalled":
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert lines[-1:] == ["stalled"], (lines, child.stderr.read())
    assert child.returncode == -signal.SIGKILL
    return lines


def test_sigkill_mid_encode_then_resume_is_bit_identical(tmp_path):
    reference = _reference(tmp_path)
    cache = tmp_path / "cache"
    lines = _kill_mid_run(cache, tmp_path)
    assert lines[:2] == [f"shard {SHARD}/60", f"shard {2 * SHARD}/60"]
    resumed_encoder = HashTextEncoder(dim=24)
    resumed = encode_cached(resumed_encoder, TEXTS, cache, shard_size=SHARD)
    stats = resumed.metadata["cache"]
    assert stats["hits"] == 2 * SHARD and stats["misses"] == len(TEXTS) - 2 * SHARD
    assert stats["corrupt_shards"] == []
    _same_bits(resumed, reference)
    # and a third run is served entirely from the cache, still the same bits
    warm = encode_cached(HashTextEncoder(dim=24), TEXTS, cache, shard_size=SHARD)
    assert warm.metadata["cache"]["misses"] == 0
    _same_bits(warm, reference)


def _flip_byte_in_vectors(shard: Path) -> None:
    import json

    raw = bytearray(shard.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    start, _ = json.loads(raw[8:8 + n])["vectors"]["data_offsets"]
    raw[8 + n + start + 5] ^= 0x10
    shard.write_bytes(bytes(raw))


def test_a_corrupted_shard_is_re_encoded_to_the_same_bits(tmp_path):
    reference = _reference(tmp_path)
    cache = tmp_path / "cache"
    encode_cached(HashTextEncoder(dim=24), TEXTS, cache, shard_size=SHARD)
    shards = sorted(cache.glob("*/shard-*.safetensors"))
    assert len(shards) == len(TEXTS) // SHARD
    _flip_byte_in_vectors(shards[2])
    encoder = HashTextEncoder(dim=24)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repaired = encode_cached(encoder, TEXTS, cache, shard_size=SHARD)
    assert any(issubclass(w.category, CorruptShardWarning) for w in caught)
    stats = repaired.metadata["cache"]
    assert stats["misses"] == SHARD and stats["corrupt_shards"] == [str(shards[2])]
    assert shards[2].with_suffix(".corrupt").is_file()  # set aside, not deleted
    _same_bits(repaired, reference)


def test_sigkill_then_a_corrupted_shard_still_resumes_bit_identical(tmp_path):
    reference = _reference(tmp_path)
    cache = tmp_path / "cache"
    _kill_mid_run(cache, tmp_path)
    _flip_byte_in_vectors(sorted(cache.glob("*/shard-*.safetensors"))[0])
    with pytest.warns(CorruptShardWarning):
        resumed = encode_cached(HashTextEncoder(dim=24), TEXTS, cache, shard_size=SHARD)
    assert resumed.metadata["cache"]["misses"] == len(TEXTS) - SHARD
    _same_bits(resumed, reference)


def test_orphaned_temporary_shards_are_removed_but_fresh_ones_kept(tmp_path):
    cache = tmp_path / "cache"
    encode_cached(HashTextEncoder(dim=24), TEXTS[:5], cache, shard_size=SHARD)
    folder = next(cache.iterdir())
    orphan = folder / ".shard-0123456789abcdef01234567.safetensors.k3j2h1.tmp"
    fresh = folder / ".shard-fedcba9876543210fedcba98.safetensors.x9y8z7.tmp"
    orphan.write_bytes(b"half a shard")
    fresh.write_bytes(b"being written right now")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    out = encode_cached(HashTextEncoder(dim=24), TEXTS[:5], cache, shard_size=SHARD)
    assert out.metadata["cache"]["hits"] == 5
    assert not orphan.exists() and fresh.exists()
