"""semalign-dinov2: parity with transformers on a tiny random DINOv2, poolings, errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from semalign_core import InvalidInputError, MissingWeightsError, get_encoder  # noqa: E402
from semalign_core.testing import check_encoder  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A random tiny Dinov2Model (image_size 518 like the real ones) saved with save_pretrained."""
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, patch_size=14, image_size=518)
    torch.manual_seed(0)
    model = transformers.Dinov2Model(config).eval()
    path = tmp_path_factory.mktemp("dinov2") / "tiny"
    model.save_pretrained(path)
    return path, model


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(2)
    paths = []
    for i, (w, h) in enumerate([(300, 256), (256, 400), (224, 224), (500, 333)]):
        path = tmp_path / f"im{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _reference(model: object, paths: list[str]) -> np.ndarray:
    """DINOv2's own evaluation transform (facebookresearch/dinov2
    ``make_classification_eval_transform``: torchvision on PIL) + transformers' Dinov2Model."""
    from torchvision import transforms

    transform = transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    pixels = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return model(pixel_values=pixels).last_hidden_state.numpy()  # type: ignore[operator]


def _hf_processor_reference(model: object, paths: list[str]) -> np.ndarray:
    """transformers' image processor with facebook/dinov2-*'s settings (resizes tensors, not PIL
    images, so it differs from DINOv2's own transform by ~1e-4)."""
    processor = transformers.BitImageProcessor(
        do_resize=True, size={"shortest_edge": 256}, resample=3, do_center_crop=True,
        crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
        do_convert_rgb=True)
    pixels = processor([Image.open(p) for p in paths], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return model(pixel_values=pixels).last_hidden_state.numpy()  # type: ignore[operator]


def test_parity_all_poolings(tiny: tuple[Path, object], images: list[str]) -> None:
    path, model = tiny
    tokens = _reference(model, images)
    expected = {"cls": tokens[:, 0], "mean": tokens[:, 1:].mean(1),
                "cls+mean": np.concatenate([tokens[:, 0], tokens[:, 1:].mean(1)], axis=1)}
    for pooling, want in expected.items():
        enc = get_encoder("dinov2", weights=str(path), pooling=pooling, device="cpu")
        assert enc.dim == want.shape[1]
        got = enc.encode(images, progress=False).vectors
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=pooling)
    hf = _hf_processor_reference(model, images)[:, 0]
    np.testing.assert_allclose(expected["cls"], hf, atol=2e-3)
    # the CLS token is what transformers calls the pooled output
    with torch.no_grad():
        pooled = model(pixel_values=torch.zeros(1, 3, 224, 224)).pooler_output  # type: ignore[operator]
    np.testing.assert_allclose(
        get_encoder("dinov2", weights=str(path), device="cpu").encode_tensor(
            torch.zeros(1, 3, 224, 224)), pooled.numpy(), atol=1e-5)


def test_conformance(tiny: tuple[Path, object], images: list[str]) -> None:
    check_encoder(get_encoder("dinov2", weights=str(tiny[0]), device="cpu"), images)


def test_weights_dir(tiny: tuple[Path, object], tmp_path: Path, images: list[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copytree(tiny[0], tmp_path / "dinov2-small")
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    a = get_encoder("dinov2-vits14", device="cpu")
    b = get_encoder("dinov2", weights=str(tiny[0]), device="cpu")
    assert a.fingerprint.weights == b.fingerprint.weights
    np.testing.assert_allclose(a.encode(images[:2], progress=False).vectors,
                               b.encode(images[:2], progress=False).vectors, atol=1e-6)


def test_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path / "w"))
    enc = get_encoder("dinov2-vitb14")
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as info:
        enc.fingerprint  # noqa: B018
    assert time.perf_counter() - start < 2.0
    assert "facebook/dinov2-base" in str(info.value) and "weights=" in str(info.value)
    with pytest.raises(InvalidInputError, match="pooling"):
        get_encoder("dinov2", pooling="max")
    with pytest.raises(InvalidInputError, match="unknown DINOv2"):
        get_encoder("dinov2", model="vitz99")


def test_registered_as_image_encoders() -> None:
    from semalign_core import list_encoders

    assert {"dinov2", "dinov2-vits14", "dinov2-vitg14"} <= set(list_encoders(modality="image"))
    assert not {"dinov2", "dinov2-vits14"} & set(list_encoders(modality="text"))
