"""Offline by default: a hub call without these variables can hang for 30 s."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SEMALIGN_OFFLINE"):
    os.environ.setdefault(_var, "1")


@pytest.fixture
def image_files(tmp_path: Path) -> list[str]:
    """Small images of several sizes and modes (L, RGB, RGBA; PNG and JPEG)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    specs = [("L", (180, 150), "png"), ("RGB", (256, 300), "jpg"), ("RGBA", (240, 240), "png"),
             ("RGB", (224, 224), "png"), ("L", (300, 260), "jpg")]
    for i, (mode, (w, h), ext) in enumerate(specs):
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        arr = rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
        image = Image.fromarray(arr[..., 0] if channels == 1 else arr, mode)
        path = tmp_path / f"img{i}.{ext}"
        image.save(path)
        paths.append(str(path))
    return paths
