"""Image loading: PNG/JPEG in every mode, DICOM (MONOCHROME1, 16-bit, windowing), bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_files import write_dicom
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semalign_core.encoding.images import is_dicom, load_image, load_images, to_uint8
from semalign_core.errors import ImageLoadError, InvalidInputError

Image = pytest.importorskip("PIL.Image")


def _write_dicom(path: Path, pixels: np.ndarray, **options) -> Path:
    pydicom = pytest.importorskip("pydicom")
    target = write_dicom(path, pixels, **options)
    assert pydicom.dcmread(target).pixel_array.dtype == np.uint16
    return target


# -- PNG / JPEG ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "ext"), [
    ("L", "png"), ("RGB", "png"), ("RGBA", "png"), ("P", "png"),
    ("L", "jpg"), ("RGB", "jpg"), ("CMYK", "jpg"),
])
def test_8bit_images_match_pillow_convert(tmp_path: Path, mode: str, ext: str) -> None:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), "RGB")
    path = tmp_path / f"x.{ext}"
    rgb.convert(mode).save(path)
    got = load_image(path)
    assert got.mode == "RGB" and got.size == (30, 20)
    with Image.open(path) as reference:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(reference.convert("RGB")))
    gray = load_image(path, mode="L")
    assert gray.mode == "L" and gray.size == (30, 20)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    path = tmp_path / "g.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), "L").save(path)
    arr = np.asarray(load_image(path))
    assert arr.shape == (8, 8, 3)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    np.testing.assert_array_equal(arr[..., 0], np.arange(64).reshape(8, 8))


def test_16bit_png_is_scaled_by_its_own_range(tmp_path: Path) -> None:
    # 12-bit data in a 16-bit PNG: dividing by 65535 would make it almost black.
    data = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    path = tmp_path / "d16.png"
    Image.fromarray(data).save(path)
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    got = np.asarray(load_image(path, mode="L"))
    np.testing.assert_array_equal(got, [[0, 64], [128, 255]])
    assert np.asarray(load_image(path)).shape == (2, 2, 3)


def test_in_memory_images_are_accepted() -> None:
    image = Image.new("RGBA", (5, 4), (10, 20, 30, 0))
    assert load_image(image).mode == "RGB"
    assert np.asarray(load_image(image))[0, 0].tolist() == [10, 20, 30]
    with pytest.raises(InvalidInputError, match="image path or a PIL image"):
        load_image(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="mode"):
        load_image(image, mode="CMYK")


# -- DICOM ---------------------------------------------------------------------------------------
_ROW = np.array([[0, 1536, 2048, 2560, 4095]], dtype=np.uint16)


def test_dicom_without_window_uses_its_own_range(tmp_path: Path) -> None:
    path = _write_dicom(tmp_path / "plain.dcm", _ROW)
    assert is_dicom(path)
    got = np.asarray(load_image(path, mode="L"))
    np.testing.assert_array_equal(got, to_uint8(_ROW.astype(float)))
    np.testing.assert_array_equal(got, [[0, 96, 128, 159, 255]])


def test_dicom_window_is_applied(tmp_path: Path) -> None:
    # Window centre 2048, width 1024 (DICOM linear function): <=1536 -> black, >2559 -> white.
    path = _write_dicom(tmp_path / "win.dcm", _ROW, window=(2048, 1024))
    got = np.asarray(load_image(path, mode="L"))
    np.testing.assert_array_equal(got, [[0, 0, 128, 255, 255]])
    rgb = np.asarray(load_image(path))
    assert rgb.shape == (1, 5, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    mono2 = _write_dicom(tmp_path / "m2.dcm", _ROW, window=(2048, 1024))
    mono1 = _write_dicom(tmp_path / "m1.dcm", _ROW, window=(2048, 1024),
                         photometric="MONOCHROME1")
    a = np.asarray(load_image(mono2, mode="L")).astype(int)
    b = np.asarray(load_image(mono1, mode="L")).astype(int)
    np.testing.assert_array_equal(b, 255 - a)
    plain = np.asarray(load_image(_write_dicom(tmp_path / "p1.dcm", _ROW,
                                               photometric="MONOCHROME1"), mode="L"))
    np.testing.assert_array_equal(plain, [[255, 159, 127, 96, 0]])


def test_dicom_full_16bit_with_rescale_and_window(tmp_path: Path) -> None:
    # 16 bits stored, rescale to "HU" (slope 1, intercept -32768), window in rescaled units.
    pixels = np.array([[0, 32768 - 101, 32768, 32768 + 101, 65535]], dtype=np.uint16)
    path = _write_dicom(tmp_path / "ct.dcm", pixels, bits_stored=16, rescale=(1, -32768),
                        window=(0, 201))
    got = np.asarray(load_image(path, mode="L"))
    assert got[0, 0] == 0 and got[0, -1] == 255
    assert got[0, 1] == 0 and got[0, 3] == 255
    assert abs(int(got[0, 2]) - 128) <= 1


def test_dicom_detected_without_suffix(tmp_path: Path) -> None:
    path = _write_dicom(tmp_path / "nosuffix.dcm", _ROW, suffix_free=True)
    assert path.suffix == "" and is_dicom(path)
    assert np.asarray(load_image(path, mode="L")).shape == (1, 5)


# -- errors --------------------------------------------------------------------------------------
def _broken_files(tmp_path: Path) -> list[Path]:
    good = tmp_path / "good.jpg"
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"definitely not an image")
    bad_dicom = tmp_path / "bad.dcm"
    bad_dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    return [truncated, garbage, bad_dicom, tmp_path / "missing.png"]


def test_unreadable_files_raise_an_error_naming_them(tmp_path: Path) -> None:
    for path in _broken_files(tmp_path):
        with pytest.raises(ImageLoadError) as info:
            load_image(path)
        assert str(path) in str(info.value) and info.value.path == str(path)
        assert isinstance(info.value, InvalidInputError)


def test_skip_errors_reports_each_file(tmp_path: Path) -> None:
    broken = _broken_files(tmp_path)
    good = tmp_path / "good.jpg"
    items = [good, broken[0], good, broken[1]]
    with pytest.raises(ImageLoadError, match="truncated.jpg"):
        load_images(items)
    with pytest.warns(UserWarning) as record:
        images, skipped = load_images(items, skip_errors=True)
    assert len(images) == 2
    assert [(s.index, Path(s.source).name) for s in skipped] == [(1, "truncated.jpg"),
                                                                 (3, "garbage.png")]
    assert len(record) == 2 and "garbage.png" in str(record[1].message)


# -- properties ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=8),
                  elements=st.floats(-1e6, 1e6)))
def test_to_uint8_is_monotone_and_spans_the_range(arr: np.ndarray) -> None:
    out = to_uint8(arr)
    assert out.dtype == np.uint8 and out.shape == arr.shape
    flat, scaled = arr.ravel(), out.ravel().astype(int)
    order = np.argsort(flat, kind="stable")
    assert (np.diff(scaled[order]) >= 0).all()
    if arr.max() > arr.min():
        assert scaled[flat.argmin()] == 0 and scaled[flat.argmax()] == 255
    else:
        assert (scaled == 0).all()


def test_to_uint8_rejects_nan() -> None:
    with pytest.raises(InvalidInputError, match="NaN"):
        to_uint8(np.array([[0.0, np.nan]]))
