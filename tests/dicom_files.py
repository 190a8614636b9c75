"""One DICOM writer for the tests (image loading, dataset layouts): a minimal valid file."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dicom(path: Path, pixels: np.ndarray, *, view: str | None = None,
                photometric: str = "MONOCHROME2", bits_stored: int | None = None,
                window: tuple[float, float] | None = None,
                rescale: tuple[float, float] | None = None, suffix_free: bool = False) -> Path:
    """Write ``pixels`` (2-D ``uint8``: 8-bit storage; else 16-bit, ``bits_stored`` of them,
    default 12) as a Secondary Capture CR image; returns the path written (without its suffix
    when ``suffix_free``, to test detection by content)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    if view is not None:
        ds.ViewPosition = view
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    eight_bit = pixels.dtype == np.uint8
    ds.BitsAllocated = 8 if eight_bit else 16
    ds.BitsStored = bits_stored or (8 if eight_bit else 12)
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    ds.PixelData = (pixels if eight_bit else pixels.astype("<u2")).tobytes()
    target = path.with_suffix("") if suffix_free else path
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=True)
    return target
