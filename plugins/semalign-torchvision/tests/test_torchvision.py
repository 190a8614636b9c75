"""semalign-torchvision: parity with torchvision's own code path, weights, errors, conformance."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from semalign_core import (  # noqa: E402
    ImageLoadError,
    InvalidInputError,
    MissingWeightsError,
    get_encoder,
)
from semalign_core.testing import check_encoder  # noqa: E402

pytestmark = pytest.mark.torch


def _random_model(arch: str, seed: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torchvision.models.get_model(arch, weights=None).eval()


def _reference(model: torch.nn.Module, arch: str, paths: list[str]) -> np.ndarray:
    """torchvision's own path: the weights' preset transform + the model minus its head."""
    preset = torchvision.models.get_model_weights(arch).DEFAULT.transforms()
    x = torch.stack([preset(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        if arch.startswith("squeezenet"):
            out = torch.nn.functional.adaptive_avg_pool2d(model.features(x), 1).flatten(1)
        else:
            if hasattr(model, "fc"):
                model.fc = torch.nn.Identity()
            else:
                model.classifier[-1] = torch.nn.Identity()
            out = model(x)
    return out.numpy()


@pytest.mark.parametrize(("arch", "fmt", "dim"), [
    ("squeezenet1_1", "safetensors", 512),
    ("resnet18", "pth", 512),
    ("mobilenet_v3_small", "safetensors", 1024),
])
def test_parity_with_torchvision(tmp_path: Path, image_files: list[str], arch: str, fmt: str,
                                 dim: int) -> None:
    model = _random_model(arch)
    path = tmp_path / f"{arch}.{fmt}"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    enc = get_encoder("torchvision", model=arch, weights=str(path), device="cpu")
    assert enc.dim == dim
    got = enc.encode(image_files, progress=False).vectors
    np.testing.assert_allclose(got, _reference(model, arch, image_files), atol=1e-5, rtol=1e-5)


def test_conformance_and_workers(image_files: list[str]) -> None:
    enc = get_encoder("torchvision-squeezenet1_1", weights="random", device="cpu")
    check_encoder(enc, image_files)
    workers = get_encoder("torchvision", model="squeezenet1_1", weights="random", device="cpu",
                          num_workers=2, batch_size=2)
    np.testing.assert_allclose(workers.encode(image_files, progress=False).vectors,
                               enc.encode(image_files, progress=False).vectors, atol=1e-6)


def test_random_init_depends_on_seed(image_files: list[str]) -> None:
    a = get_encoder("torchvision", model="squeezenet1_1", weights="random", seed=0, device="cpu")
    b = get_encoder("torchvision", model="squeezenet1_1", weights="random", seed=1, device="cpu")
    assert a.fingerprint != b.fingerprint
    assert not np.allclose(a.encode(image_files[:2], progress=False).vectors,
                           b.encode(image_files[:2], progress=False).vectors)


def test_fingerprint_names_weights_and_preprocessing(tmp_path: Path) -> None:
    model = _random_model("squeezenet1_1")
    path = tmp_path / "w.safetensors"
    save_file(model.state_dict(), str(path))
    fp = get_encoder("torchvision", model="squeezenet1_1", weights=str(path),
                     resize=224).fingerprint
    import hashlib

    assert fp.weights == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert fp.architecture == "squeezenet1_1" and fp.dim == 512
    assert fp.preprocessing["resize"] == 224 and fp.preprocessing["crop"] == 224
    assert fp.preprocessing["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_weights_dir_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 image_files: list[str]) -> None:
    model = _random_model("resnet18", seed=3)
    save_file(model.state_dict(), str(tmp_path / "resnet18.safetensors"))
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    enc = get_encoder("torchvision-resnet18", device="cpu")
    np.testing.assert_allclose(enc.encode(image_files[:2], progress=False).vectors,
                               _reference(model, "resnet18", image_files[:2]), atol=1e-5)


def test_offline_missing_weights_is_fast_and_helpful(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMALIGN_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SEMALIGN_OFFLINE", "1")
    torchvision.models.get_model_weights("resnet18")  # warm the import; time the lookup only
    enc = get_encoder("torchvision", model="resnet18")
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as info:
        enc.fingerprint  # noqa: B018
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "resnet18" in message and "weights=" in message
    assert str(tmp_path) in message and "SEMALIGN_OFFLINE" in message


def test_bad_weights(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(MissingWeightsError, match="nope.safetensors"):
        get_encoder("torchvision", model="resnet18", weights=str(missing)).fingerprint  # noqa: B018
    wrong = tmp_path / "squeeze.safetensors"
    save_file(_random_model("squeezenet1_1").state_dict(), str(wrong))
    enc = get_encoder("torchvision", model="resnet18", weights=str(wrong), device="cpu")
    with pytest.raises(InvalidInputError, match="squeeze.safetensors"):
        enc.load()
    with pytest.raises(InvalidInputError, match="IMAGENET1K_V1"):
        get_encoder("torchvision", model="resnet18", weights="NOT_A_MEMBER").fingerprint  # noqa: B018
    with pytest.raises(InvalidInputError, match="unknown torchvision model"):
        get_encoder("torchvision", model="resnet_nope", weights="random").fingerprint  # noqa: B018


def test_unreadable_image_named_or_skipped(tmp_path: Path, image_files: list[str]) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    items = [image_files[0], str(broken), image_files[1]]
    enc = get_encoder("torchvision", model="squeezenet1_1", weights="random", device="cpu")
    with pytest.raises(ImageLoadError, match="broken.png") as info:
        enc.encode(items, progress=False)
    assert info.value.path == str(broken)
    skipping = get_encoder("torchvision", model="squeezenet1_1", weights="random",
                           device="cpu", skip_errors=True)
    with pytest.warns(UserWarning, match="broken.png"):
        emb = skipping.encode(items, progress=False)
    assert emb.ids == (image_files[0], image_files[1])
    assert emb.metadata["skipped"][0]["source"] == str(broken)
    np.testing.assert_allclose(emb.vectors, enc.encode([image_files[0], image_files[1]],
                                                       progress=False).vectors, atol=1e-6)


@pytest.mark.slow
@pytest.mark.shared_data
def test_squeezenet_features_separate_kermany_classes() -> None:
    """Real ImageNet SqueezeNet features: a CV logistic-regression probe reaches AUROC >= 0.9."""
    pd = pytest.importorskip("pandas")
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    default = Path(__file__).resolve().parents[3].parent / "shared"
    shared = Path(os.environ.get("SEMALIGN_SHARED_DIR", default))
    weights = shared / "models" / "squeezenet1_1_imagenet.safetensors"
    data = shared / "data" / "kermany-cxr"
    if not weights.is_file() or not (data / "labels.csv").is_file():
        pytest.skip(f"shared data not found under {shared} (set SEMALIGN_SHARED_DIR)")
    labels = pd.read_csv(data / "labels.csv")
    test = labels[labels["split"] == "test"]
    assert len(test) == 624
    enc = get_encoder("squeezenet1_1", weights=str(weights), device="cpu", num_workers=1)
    assert enc.fingerprint.weights == ("sha256:c96628356e13cb2ab3835083c4dfa24d62cc894ff84b39"
                                       "6b3fc46eb72a95a32f")
    X = enc.encode([str(data / p) for p in test["path"]], progress=False).vectors
    y = (test["label"] == "pneumonia").to_numpy().astype(int)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_predict(probe, X, y, cv=cv, method="predict_proba")[:, 1]
    assert roc_auc_score(y, scores) >= 0.9


def test_preset_names_follow_the_rule_and_keep_the_old_ones() -> None:
    from semalign_core import list_encoders

    names = list_encoders(modality="image")
    assert {"torchvision-squeezenet1-1", "torchvision-efficientnet-b0",
            "torchvision-vit-b-16"} <= set(names)
    assert not any("_" in name for name in names)
    for old, new in [("torchvision-squeezenet1_1", "torchvision-squeezenet1-1"),
                     ("squeezenet", "torchvision-squeezenet1-1"),
                     ("torchvision-convnext_tiny", "torchvision-convnext-tiny")]:
        assert get_encoder(old).arch == get_encoder(new).arch


def test_fingerprint_in_a_fresh_process_needs_no_torch(tmp_path):
    """The dimension and preprocessing are memoised on disk: a second process (a warm cache)
    computes the same fingerprint without importing torch or torchvision."""
    import os
    import subprocess
    import sys

    code = ("import sys; from semalign_core import get_encoder; "
            "fp = get_encoder('squeezenet1_1', weights='random', device='cpu').fingerprint; "
            "print(fp.id, fp.dim, 'torch' in sys.modules, 'torchvision' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                    text=True, check=True, timeout=600).stdout.split()
                     for _ in range(2))
    assert first[:2] == second[:2] and first[1] == "512"
    assert first[2] == "True" and second[2:] == ["False", "False"]
    assert list((tmp_path / "semalign" / "encoder-facts").glob("*.json"))


def test_cpu_encoding_runs_channels_last_with_equal_output():
    import torch

    enc = get_encoder("squeezenet1_1", weights="random", device="cpu")
    enc.load()
    assert enc._memory_format is torch.channels_last  # a conv net on the CPU
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    fast = enc.encode_tensor(x)
    plain = enc._model.to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        ref = enc._forward(plain, x.contiguous()).numpy()
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_decoding_workers_use_one_torch_thread():
    enc = get_encoder("squeezenet1_1", weights="random", device="cpu", num_workers=2)
    enc.load()
    loader = enc._loader(["a.png", "b.png"], 1)
    assert loader.num_workers == 2 and loader.worker_init_fn is not None
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        loader.worker_init_fn(0)  # what each decoding worker runs first
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
