"""Load PNG, JPEG and DICOM images the way image encoders expect them.

Needs the ``images`` extra (``pip install semalign-core[images]``: pillow and pydicom); neither
is imported until an image is loaded.

- 8-bit images (``L``, ``RGB``, ``P``, ``RGBA``, ``CMYK``...) are converted with Pillow exactly as
  ``Image.open(path).convert("RGB")`` does, so encoders see the same pixels as their reference
  libraries (for ``RGBA`` the alpha channel is dropped, as Pillow does).
- High-bit-depth images (``I;16``, ``I``, ``F``) are scaled linearly from their own minimum and
  maximum to 0..255: such files usually hold 10-16-bit data in a 16-bit container, so dividing by
  65535 would turn them almost black.
- DICOM (``.dcm``/``.dicom`` or the ``DICM`` magic bytes) goes through pydicom: the modality LUT
  (rescale slope/intercept) and the VOI LUT or window are applied, the result is scaled from the
  output range of that window (or the image's own range when there is none) to 0..255, and
  ``MONOCHROME1`` images are inverted so that bone is always bright.
- Grayscale becomes 3 identical channels for ``mode="RGB"``.

A file that cannot be read raises :class:`~semalign_core.errors.ImageLoadError` naming it;
:func:`load_images` with ``skip_errors=True`` skips such files instead and reports each one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImageLoadError, InvalidInputError

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "DICOM_SUFFIXES",
    "MODES",
    "SkippedImage",
    "is_dicom",
    "load_image",
    "load_images",
    "read_dicom_array",
    "to_uint8",
]

MODES = ("RGB", "L")
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


@dataclass(frozen=True)
class SkippedImage:
    """An input that was skipped because it could not be read."""

    index: int
    source: str
    reason: str


def _missing_extra(package: str) -> ImageLoadError:
    return ImageLoadError(f"{package} is needed to load images; install it with "
                          f"`pip install semalign-core[images]`")


def is_dicom(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a DICOM file (by suffix, or the ``DICM`` marker at byte 128)."""
    p = Path(path)
    if p.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(p, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def to_uint8(array: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Scale ``array`` linearly from ``[low, high]`` (default: its own range) to uint8.

    Values outside the range are clipped; a constant image becomes all zeros.
    """
    arr = np.asarray(array, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise InvalidInputError("image contains NaN or inf pixel values")
    low = float(arr.min()) if low is None else float(low)
    high = float(arr.max()) if high is None else float(high)
    if high <= low:
        return np.zeros(arr.shape, dtype=np.uint8)
    scaled = (arr - low) / (high - low) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _voi_output_range(ds: Any) -> tuple[float, float] | None:
    """The value range apply_voi_lut maps into, or None when no VOI/window is present."""
    if ds.get("VOILUTSequence"):
        descriptor = ds.VOILUTSequence[0].get("LUTDescriptor")
        if descriptor is not None:
            return 0.0, float(2 ** int(descriptor[2]) - 1)
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        # Mirror pydicom's apply_windowing: the output spans the stored (rescaled) range.
        if ds.get("ModalityLUTSequence"):
            low, high = 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
        elif int(ds.PixelRepresentation) == 0:
            low, high = 0.0, float(2 ** int(ds.BitsStored) - 1)
        else:
            low = -float(2 ** (int(ds.BitsStored) - 1))
            high = float(2 ** (int(ds.BitsStored) - 1) - 1)
        slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
        if slope is not None and intercept is not None:
            slope, intercept = float(slope), float(intercept)
            low, high = low * slope + intercept, high * slope + intercept
        return (min(low, high), max(low, high))
    return None


def read_dicom_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a single-frame grayscale (or RGB) DICOM as a uint8 array ready for a model.

    Applies the modality LUT, then the VOI LUT / window, scales to 0..255 and inverts
    ``MONOCHROME1``. Multi-frame files give their first frame.
    """
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as exc:
        raise _missing_extra("pydicom") from exc
    ds = pydicom.dcmread(os.fspath(path))
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[0]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        if photometric != "RGB":
            from pydicom.pixels import convert_color_space

            arr = convert_color_space(arr, photometric, "RGB")
        return to_uint8(arr, 0, 255) if arr.dtype == np.uint8 else to_uint8(arr)
    arr = apply_modality_lut(arr, ds)
    window = _voi_output_range(ds)
    arr = apply_voi_lut(arr, ds)
    low, high = window if window is not None else (float(np.min(arr)), float(np.max(arr)))
    out = to_uint8(arr, low, high)
    if photometric == "MONOCHROME1":  # low values are white in MONOCHROME1
        out = 255 - out
    return out


def _from_array(arr: np.ndarray, mode: str) -> PILImage.Image:
    from PIL import Image

    image = Image.fromarray(arr, "RGB" if arr.ndim == 3 else "L")
    return image.convert(mode)


def _convert(image: PILImage.Image, mode: str) -> PILImage.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _from_array(to_uint8(np.asarray(image)), mode)
    if mode == "L" and image.mode not in ("L", "1"):
        # Pillow's own luminance conversion (ITU-R 601-2), after flattening palettes/alpha.
        return image.convert("RGB").convert("L")
    return image.convert(mode)


def load_image(source: str | os.PathLike[str] | PILImage.Image, *,
               mode: str = "RGB") -> PILImage.Image:
    """Load one image as a Pillow image in ``mode`` (``"RGB"`` or ``"L"``).

    Parameters
    ----------
    source : path-like or PIL.Image.Image
        A PNG/JPEG/TIFF/... or DICOM file, or an image already in memory.
    mode : {"RGB", "L"}
        ``"RGB"`` (grayscale replicated to 3 channels) or ``"L"`` (grayscale).

    Raises
    ------
    ImageLoadError
        Naming the file, when it is missing, corrupt or not an image.
    """
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
    try:
        from PIL import Image
    except ImportError as exc:
        raise _missing_extra("pillow") from exc
    if isinstance(source, Image.Image):
        return _convert(source, mode)
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(f"expected an image path or a PIL image, got "
                                f"{type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise ImageLoadError(f"cannot read image {path}: no such file", os.fspath(path))
    try:
        if is_dicom(path):
            return _from_array(read_dicom_array(path), mode)
        with Image.open(path) as image:
            image.load()  # decode now: truncated files fail here, not later in a worker
            return _convert(image, mode)
    except ImageLoadError:
        raise
    except Exception as exc:
        # Every decode failure means "this file is not a readable image": pydicom raises
        # InvalidDicomError (a .dcm that is not DICOM), AttributeError or KeyError for broken
        # datasets, Pillow OSError/SyntaxError for broken streams and DecompressionBombError
        # (not an OSError) for a bomb. One type lets skip_errors=True skip them all.
        raise ImageLoadError(f"cannot read image {path}: {type(exc).__name__}: {exc}",
                             os.fspath(path)) from exc


def load_images(sources: Iterable[str | os.PathLike[str] | PILImage.Image], *,
                mode: str = "RGB", skip_errors: bool = False,
                ) -> tuple[list[PILImage.Image], list[SkippedImage]]:
    """Load several images; optionally skip unreadable ones.

    Returns
    -------
    images : list of PIL.Image.Image
        The images that could be read, in input order.
    skipped : list of SkippedImage
        One entry per skipped input (empty unless ``skip_errors=True``); each also emits a
        ``UserWarning``.
    """
    images: list[PILImage.Image] = []
    skipped: list[SkippedImage] = []
    for index, source in enumerate(sources):
        try:
            images.append(load_image(source, mode=mode))
        except ImageLoadError as exc:
            if not skip_errors:
                raise
            skipped.append(SkippedImage(index, str(source), str(exc)))
            warnings.warn(f"skipping unreadable image: {exc}", UserWarning, stacklevel=2)
    return images, skipped
