"""Weight resolution: explicit path, weights dir, hub cache, download; fast offline errors."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from pathlib import Path

import pytest

from semalign_core import MissingWeightsError
from semalign_core.encoding import weights as weights_mod
from semalign_core.encoding.weights import HubRef, dir_sha256, resolve_weights

_OFFLINE_VARS = ("SEMALIGN_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face hub cache in tmp_path (no network is ever used)."""
    constants = pytest.importorskip("huggingface_hub.constants")
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_hub_repo(cache: Path, repo: str, files: dict[str, bytes],
                   commit: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """Lay out a repo the way huggingface_hub caches it: refs/main -> snapshots/<commit>."""
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    for name, content in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(content)
    return snapshot


def test_explicit_path_wins_and_is_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          offline: None) -> None:
    explicit = tmp_path / "mine.safetensors"
    explicit.write_bytes(b"explicit weights")
    (tmp_path / "wd").mkdir()
    (tmp_path / "wd" / "model.safetensors").write_bytes(b"other")
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path / "wd"))
    found = resolve_weights("m", path=explicit, names=["model.safetensors"])
    assert found.path == explicit and found.source == "explicit"
    assert found.identity == _sha(explicit)


def test_explicit_missing_path_does_not_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  offline: None) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"x")
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="typo.safetensors does not exist"):
        resolve_weights("m", path=tmp_path / "typo.safetensors", names=["model.safetensors"])
    with pytest.raises(MissingWeightsError, match="is not a directory"):
        resolve_weights("m", path=tmp_path / "model.safetensors", expect="dir")


def test_weights_dir_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        offline: None) -> None:
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    model_dir = tmp_path / "minilm"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"abc")
    found = resolve_weights("minilm", names=["minilm.safetensors", "minilm"])
    assert found.path == model_dir and found.source == "weights_dir"
    before = found.identity
    assert before == dir_sha256(model_dir)
    (model_dir / "model.safetensors").write_bytes(b"abd")
    assert dir_sha256(model_dir) != before
    (model_dir / ".cache").mkdir()
    (model_dir / ".cache" / "lock").write_text("ignored")
    assert dir_sha256(model_dir) == resolve_weights("minilm", names=["minilm"]).identity


def test_hub_cache_file_and_snapshot(hub_cache: Path, offline: None) -> None:
    pytest.importorskip("huggingface_hub")
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    _fake_hub_repo(hub_cache, "org/model", {"weights.bin": b"w", "config.json": b"{}"}, commit)
    found = resolve_weights("org/model", hub=HubRef("org/model", "weights.bin"))
    assert found.source == "hub_cache" and found.path.read_bytes() == b"w"
    assert found.identity == f"hf:org/model@{commit}"
    alt = resolve_weights("org/model", hub=HubRef("org/model", "missing.bin",
                                                  alternatives=("config.json",)))
    assert alt.path.name == "config.json"
    snap = resolve_weights("org/model", hub=HubRef("org/model"), expect="dir")
    assert snap.path.is_dir() and snap.identity == f"hf:org/model@{commit}"


def test_local_caches_come_after_the_hub(tmp_path: Path, hub_cache: Path, offline: None) -> None:
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    found = resolve_weights("m", hub=HubRef("org/none"), local_caches=[packaged], expect="dir")
    assert found.source == "local_cache" and found.path == packaged


def test_offline_and_missing_is_fast_and_says_what_to_do(
        tmp_path: Path, hub_cache: Path, monkeypatch: pytest.MonkeyPatch, offline: None) -> None:
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path / "weights"))
    called = []
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights("clip/ViT-B-32 (openai)", names=["ViT-B-32_openai"],
                        hub=HubRef("timm/vit-b-32", "model.safetensors"),
                        download=lambda: called.append(1) or "x")
    assert time.perf_counter() - start < 2.0
    assert not called, "nothing may be downloaded offline"
    message = str(info.value)
    for needle in ("clip/ViT-B-32 (openai)", str(tmp_path / "weights" / "ViT-B-32_openai"),
                   str(hub_cache), "HF_HUB_OFFLINE=1", "weights=", "SEMALIGN_WEIGHTS_DIR",
                   "timm/vit-b-32"):
        assert needle in message, needle
    assert isinstance(info.value, FileNotFoundError)


def test_unreachable_host_fails_fast_without_offline_flags(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    release = threading.Event()

    def hanging_connect(*args: object, **kwargs: object) -> None:
        release.wait(30)  # what a resolver or firewall that drops packets does
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hanging_connect)
    monkeypatch.delenv("SEMALIGN_WEIGHTS_DIR", raising=False)
    called = []
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError, match="unreachable"):
        resolve_weights("m", download=lambda: called.append(1) or "x",
                        download_host="example.org")
    assert time.perf_counter() - start < 2.0
    assert not called
    release.set()


def test_download_when_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              online: None) -> None:
    monkeypatch.setattr(weights_mod, "host_reachable", lambda *a, **k: True)
    target = tmp_path / "downloaded.pth"

    def download() -> Path:
        target.write_bytes(b"fresh")
        return target

    found = resolve_weights("m", download=download, expect="file")
    assert found.source == "download" and found.identity == _sha(target)


def test_no_source_at_all(monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    monkeypatch.delenv("SEMALIGN_WEIGHTS_DIR", raising=False)
    with pytest.raises(MissingWeightsError, match="no download source"):
        resolve_weights("local-only model")


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_offline_flags(monkeypatch: pytest.MonkeyPatch, value: str, online: None) -> None:
    assert not weights_mod.is_offline()
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", value)
    assert weights_mod.is_offline()
