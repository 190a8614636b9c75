"""semalign-clip: parity with open_clip on a tiny random model, local checkpoints, errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from PIL import Image  # noqa: E402

from semalign_core import MissingWeightsError, get_encoder, list_encoders  # noqa: E402
from semalign_core.testing import check_encoder  # noqa: E402

pytestmark = pytest.mark.torch

TINY = "semalign-tiny-clip"
TINY_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TEXTS = ["a chest x-ray", "pneumonia", "a photo of a cat", "normal lungs"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A tiny open_clip architecture, registered with open_clip, with random weights saved as a
    state-dict file and as an open_clip hub-layout directory."""
    root = tmp_path_factory.mktemp("clip")
    (root / "cfg").mkdir()
    (root / "cfg" / f"{TINY}.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(root / "cfg")
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY)
    model.eval()
    from safetensors.torch import save_model

    state_file = root / "tiny.safetensors"
    save_model(model, str(state_file))
    hub_dir = root / "hub-layout"
    hub_dir.mkdir()
    from open_clip.push_to_hf_hub import save_config_for_hf

    save_config_for_hf(model, hub_dir / "open_clip_config.json", TINY_CFG)  # type: ignore[arg-type]
    save_model(model, str(hub_dir / "open_clip_model.safetensors"))
    return {"model": model, "preprocess": preprocess, "file": state_file, "dir": hub_dir,
            "tokenizer": open_clip.get_tokenizer(TINY)}


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(1)
    paths = []
    for i, (w, h) in enumerate([(40, 50), (64, 32), (33, 33), (80, 80)]):
        path = tmp_path / f"im{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _ref_image(tiny: dict, paths: list[str], normalize: bool = False) -> np.ndarray:
    x = torch.stack([tiny["preprocess"](Image.open(p)) for p in paths])  # type: ignore[operator]
    with torch.no_grad():
        return tiny["model"].encode_image(x, normalize=normalize).numpy()  # type: ignore[attr-defined]


def _ref_text(tiny: dict, texts: list[str]) -> np.ndarray:
    with torch.no_grad():
        return tiny["model"].encode_text(tiny["tokenizer"](texts)).numpy()  # type: ignore[attr-defined,operator]


@pytest.mark.parametrize("source", ["file", "dir"])
def test_image_parity(tiny: dict, images: list[str], source: str) -> None:
    enc = get_encoder("clip", model=TINY, pretrained=None, weights=str(tiny[source]),
                      device="cpu")
    assert enc.dim == 16
    np.testing.assert_allclose(enc.encode(images, progress=False).vectors,
                               _ref_image(tiny, images), atol=1e-5)


@pytest.mark.parametrize("source", ["file", "dir"])
def test_text_parity(tiny: dict, source: str) -> None:
    enc = get_encoder("clip-text", model=TINY, pretrained=None, weights=str(tiny[source]),
                      device="cpu")
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=3, progress=False).vectors,
                               _ref_text(tiny, TEXTS), atol=1e-5)


def test_normalize_is_an_explicit_option(tiny: dict, images: list[str]) -> None:
    raw = get_encoder("clip", model=TINY, pretrained=None, weights=str(tiny["file"]),
                      device="cpu")
    unit = get_encoder("clip", model=TINY, pretrained=None, weights=str(tiny["file"]),
                       device="cpu", normalize=True)
    assert raw.fingerprint != unit.fingerprint
    v = unit.encode(images, progress=False).vectors
    np.testing.assert_allclose(v, _ref_image(tiny, images, normalize=True), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(np.linalg.norm(raw.encode(images, progress=False).vectors, axis=1),
                           1.0, atol=1e-3)


def test_conformance(tiny: dict, images: list[str]) -> None:
    check_encoder(get_encoder("clip", model=TINY, pretrained=None, weights=str(tiny["dir"]),
                              device="cpu"), images)
    check_encoder(get_encoder("clip-text", model=TINY, pretrained=None,
                              weights=str(tiny["dir"]), device="cpu"), TEXTS)


def test_random_init_is_seeded(tiny: dict, images: list[str]) -> None:
    a = get_encoder("clip", model=TINY, pretrained=None, device="cpu", seed=3)
    b = get_encoder("clip", model=TINY, pretrained=None, device="cpu", seed=3)
    assert a.fingerprint.weights == "random-init:seed=3"
    np.testing.assert_array_equal(a.encode(images, progress=False).vectors,
                                  b.encode(images, progress=False).vectors)


def test_presets_and_fingerprint_of_a_tag() -> None:
    assert "clip-vit-b-32" in list_encoders(modality="image")
    assert "clip-vit-b-32-text" in list_encoders(modality="text")
    assert "clip-image" in list_encoders(modality="image", aliases=True)  # old generic name
    assert get_encoder("clip-vit-b-32-text").modality == "text"
    enc = get_encoder("clip-vit-b-32")
    assert enc.spec.model == "ViT-B-32" and enc.spec.pretrained == "openai"
    assert not enc.is_loaded


def test_weights_dir_is_searched_for_a_tag(tiny: dict, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           images: list[str]) -> None:
    import shutil

    shutil.copy(tiny["file"], tmp_path / f"{TINY}_mytag.safetensors")
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda m, t: {} if t != "mytag" else
                        {"quick_gelu": False})
    enc = get_encoder("clip", model=TINY, pretrained="mytag", device="cpu")
    np.testing.assert_allclose(enc.encode(images, progress=False).vectors,
                               _ref_image(tiny, images), atol=1e-5)


def test_offline_missing_weights_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path / "weights"))
    for name, options in [("clip-vit-b-32", {}), ("clip-text", {"model": "hf-hub:org/nothing"})]:
        enc = get_encoder(name, **options)
        start = time.perf_counter()
        with pytest.raises(MissingWeightsError) as info:
            enc.fingerprint  # noqa: B018
        assert time.perf_counter() - start < 2.0
        assert "weights=" in str(info.value) and "SEMALIGN_WEIGHTS_DIR" in str(info.value)
    with pytest.raises(MissingWeightsError, match="ViT-B-32_openai"):
        get_encoder("clip-vit-b-32").fingerprint  # noqa: B018
