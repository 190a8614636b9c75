"""Weights: checkpoints in the published layouts load offline from every place the resolver
looks; a wrong or missing checkpoint gives a fast, actionable error."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from biovil_testutils import write_random_image_checkpoint, write_text_checkpoint
from semalign_biovil import BioVilImageEncoder, CXRBertEncoder, checkpoints
from semalign_biovil.checkpoints import IMAGE_CHECKPOINTS, TEXT_CHECKPOINTS, file_md5

from semalign_core import CorruptFileError, MissingWeightsError, get_encoder

torch = pytest.importorskip("torch")

SMALL = {"backbone": "resnet18", "resize": 40, "crop": 32, "device": "cpu", "progress": False}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def pin_md5(monkeypatch):
    """Pretend a test file is the published checkpoint (its MD5 becomes the pinned one)."""
    def pin(key: str, path: Path) -> None:
        entry = dataclasses.replace(IMAGE_CHECKPOINTS[key], md5=file_md5(path))
        monkeypatch.setitem(IMAGE_CHECKPOINTS, key, entry)

    return pin


def _hub_cache_file(cache: Path, repo_id: str, revision: str, name: str) -> Path:
    """Lay a file out the way huggingface_hub's cache stores it (snapshot + revision ref)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(COMMIT)
    target = repo / "snapshots" / COMMIT / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _encode(enc: BioVilImageEncoder, images: list[Path]) -> np.ndarray:
    return enc.encode(images, progress=False).vectors


# -- image checkpoints ---------------------------------------------------------------------------
def test_explicit_image_file_loads_offline(offline_env, resnet18_image_ckpt, kermany):
    enc = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL)
    assert enc.fingerprint.weights == file_md5_free_identity(resnet18_image_ckpt)
    out = _encode(enc, kermany[:2])
    assert out.shape == (2, 128) and np.isfinite(out).all()


def file_md5_free_identity(path: Path) -> str:
    # Computed here, not with the core's helper, so the test checks what the core records.
    import hashlib

    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_safetensors_checkpoint_gives_the_same_embeddings(offline_env, resnet18_image_ckpt,
                                                         kermany, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(resnet18_image_ckpt, weights_only=True)
    converted = tmp_path / "biovil.safetensors"
    save_file(state, str(converted))
    a = _encode(BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL), kermany[:2])
    b = _encode(BioVilImageEncoder(weights=converted, **SMALL), kermany[:2])
    np.testing.assert_array_equal(a, b)


def test_weights_dir_copy_is_checked_against_the_published_md5(offline_env, monkeypatch,
                                                               resnet18_image_ckpt, tmp_path,
                                                               pin_md5, kermany):
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    shutil.copy(resnet18_image_ckpt, weights_dir / IMAGE_CHECKPOINTS["biovil"].filename)
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(weights_dir))
    # the reference name but not the reference file: refused, naming both checksums
    with pytest.raises(CorruptFileError, match="MD5") as info:
        checkpoints.resolve_image_weights(IMAGE_CHECKPOINTS["biovil"])
    assert IMAGE_CHECKPOINTS["biovil"].md5 in str(info.value)
    # the same file once it carries the pinned checksum: found and used
    pin_md5("biovil", resnet18_image_ckpt)
    resolved = checkpoints.resolve_image_weights(IMAGE_CHECKPOINTS["biovil"])
    assert resolved.source == "weights_dir"
    # (resnet18 is only allowed with explicit weights; load through the resolved path)
    enc = BioVilImageEncoder(weights=resolved.path, **SMALL)
    assert _encode(enc, kermany[:1]).shape == (1, 128)


def test_hub_cache_copy_loads_offline_with_its_commit_as_identity(offline_env, pin_md5,
                                                                 tmp_path):
    ckpt = IMAGE_CHECKPOINTS["biovil-t"]
    target = _hub_cache_file(offline_env, ckpt.repo_id, ckpt.revision, ckpt.filename)
    write_random_image_checkpoint(target, multi_image=True)
    pin_md5("biovil-t", target)
    enc = get_encoder("biovil-t-image", device="cpu", resize=40, crop=32)
    assert enc.fingerprint.weights == f"hf:{ckpt.repo_id}@{COMMIT}"
    img = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.arange(48 * 40, dtype=np.uint16).reshape(48, 40) % 251).convert(
        "L").save(img)
    assert enc.encode([img], progress=False).vectors.shape == (1, 128)


def test_hi_ml_download_location_is_used(offline_env, pin_md5):
    import tempfile

    ckpt = IMAGE_CHECKPOINTS["biovil"]
    path = Path(tempfile.gettempdir()) / ckpt.filename
    path.write_bytes(b"not really a checkpoint")
    pin_md5("biovil", path)
    resolved = checkpoints.resolve_image_weights(IMAGE_CHECKPOINTS["biovil"])
    assert resolved.source == "local_cache" and resolved.path == path


def test_wrong_layout_and_garbage_files_name_the_problem(resnet18_image_ckpt, tmp_path):
    multi = write_random_image_checkpoint(tmp_path / "t.pt", multi_image=True,
                                          backbone="resnet18")
    with pytest.raises(CorruptFileError, match="model='biovil-t'"):
        BioVilImageEncoder(weights=multi, **SMALL).load()
    with pytest.raises(CorruptFileError, match="backbone="):
        BioVilImageEncoder(weights=resnet18_image_ckpt, **{**SMALL, "backbone": "resnet50"}).load()
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(CorruptFileError, match="garbage.pt"):
        BioVilImageEncoder(weights=garbage, **SMALL).load()
    import datetime

    pickled = tmp_path / "pickled.pt"
    torch.save({"w": torch.zeros(1), "when": datetime.date(2020, 1, 1)}, pickled)
    with pytest.raises(CorruptFileError, match="pickled.pt"):  # refused by weights_only
        BioVilImageEncoder(weights=pickled, **SMALL).load()
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(CorruptFileError, match="flat state dict"):
        BioVilImageEncoder(weights=listed, **SMALL).load()


# -- text checkpoints ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_text_checkpoint_dir_loads_offline(offline_env, tmp_path, fmt):
    directory = write_text_checkpoint(tmp_path / fmt, fmt=fmt, seed=7)
    enc = CXRBertEncoder(weights=directory, device="cpu")
    out = enc.encode(["no pleural effusion", "pneumonia"], progress=False).vectors
    assert out.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_bin_and_safetensors_give_the_same_embeddings(tmp_path):
    a = write_text_checkpoint(tmp_path / "a", fmt="bin", seed=3)
    b = write_text_checkpoint(tmp_path / "b", fmt="safetensors", seed=3)
    texts = ["mild cardiomegaly", "the lungs are clear"]
    np.testing.assert_array_equal(
        CXRBertEncoder(weights=a, device="cpu").encode(texts, progress=False).vectors,
        CXRBertEncoder(weights=b, device="cpu").encode(texts, progress=False).vectors)


def test_text_checkpoint_from_weights_dir_and_hub_cache(offline_env, monkeypatch, tmp_path):
    ckpt = TEXT_CHECKPOINTS["cxr-bert-specialized"]
    root = tmp_path / "weights"
    write_text_checkpoint(root / ckpt.dirname)
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(root))
    enc = get_encoder("cxr-bert", device="cpu")
    assert enc.encode(["pneumonia"], progress=False).vectors.shape == (1, 16)
    assert enc.fingerprint.weights.startswith("sha256:")

    monkeypatch.delenv("SEMALIGN_WEIGHTS_DIR")
    bt = TEXT_CHECKPOINTS["biovil-t"]
    snapshot = _hub_cache_file(offline_env, bt.repo_id, bt.revision, "config.json").parent
    write_text_checkpoint(snapshot, fmt="safetensors")
    enc = get_encoder("biovil-t-text", device="cpu", output="cls")
    assert enc.fingerprint.weights == f"hf:{bt.repo_id}@{COMMIT}"
    assert enc.encode(["pneumonia"], progress=False).vectors.shape == (1, 32)


def test_incomplete_or_foreign_text_checkpoints(tmp_path):
    directory = write_text_checkpoint(tmp_path / "no-vocab")
    (directory / "vocab.txt").unlink()
    with pytest.raises(MissingWeightsError, match="vocab.txt"):
        _ = CXRBertEncoder(weights=directory).fingerprint
    plain = write_text_checkpoint(tmp_path / "plain")
    import json

    config = json.loads((plain / "config.json").read_text())
    del config["projection_size"]
    (plain / "config.json").write_text(json.dumps(config))
    with pytest.raises(CorruptFileError, match="projection_size"):
        _ = CXRBertEncoder(weights=plain).fingerprint
    big = write_text_checkpoint(tmp_path / "big-vocab")
    with open(big / "vocab.txt", "a") as fh:
        fh.write("\n".join(f"extra{i}" for i in range(50)) + "\n")
    with pytest.raises(CorruptFileError, match="does not belong"):
        CXRBertEncoder(weights=big, device="cpu").load()


# -- missing weights -----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("biovil-image", "biovil_image_resnet50_proj_size_128.pt"),
    ("biovil-t-image", "biovil_t_image_model_proj_size_128.pt"),
    ("cxr-bert", "BiomedVLP-CXR-BERT-specialized"),
    ("biovil-t-text", "BiomedVLP-BioViL-T"),
])
def test_missing_weights_offline_fail_fast_and_say_how_to_fix(offline_env, name, expected):
    enc = get_encoder(name, device="cpu")  # building is free: nothing is looked up yet
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as info:
        enc.encode(["x"] if "text" in name or "bert" in name else [Path("x.png")],
                   progress=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    message = str(info.value)
    assert expected in message
    assert "SEMALIGN_WEIGHTS_DIR" in message and "weights=" in message
    assert "offline" in message
