"""Registration, options and the encoder contract (semalign_core.testing.check_encoder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from semalign_biovil import BioVilImageEncoder, CXRBertEncoder

from semalign_core import ImageLoadError, InvalidInputError, get_encoder, list_encoders
from semalign_core.testing import check_encoder

SMALL = {"backbone": "resnet18", "resize": 40, "crop": 32, "device": "cpu"}
TEXTS = ["no pleural effusion", "right lower lobe consolidation", "mild cardiomegaly",
         "the lungs are clear."]


def test_register_encoders_names_and_aliases():
    assert {"biovil-resnet50", "biovil-resnet50-t"} <= set(list_encoders(modality="image"))
    assert {"biovil-cxr-bert-text", "biovil-cxr-bert-t-text"} <= set(list_encoders(modality="text"))
    # The names before the naming rule stay aliases of the same presets.
    names = list_encoders(aliases=True)
    for name in ("biovil-image", "biovil-t-image", "cxr-bert", "biovil-t-text"):
        assert name in names
    assert get_encoder("biovil-resnet50-t", weights="random").model_key == "biovil-t"
    assert get_encoder("biovil-cxr-bert-t-text").checkpoint.repo_id == get_encoder(
        "biovil-t-text").checkpoint.repo_id
    assert get_encoder("biovil", weights="random").model_key == "biovil"
    t = get_encoder("biovil-t", weights="random")
    assert t.model_key == "biovil-t" and t.fingerprint.preprocessing["crop"] == 448
    assert get_encoder("cxr-bert-specialized").checkpoint.repo_id.endswith("CXR-BERT-specialized")
    assert get_encoder("biovil-t-text").checkpoint.repo_id == "microsoft/BiomedVLP-BioViL-T"
    with pytest.raises(InvalidInputError, match="biovil-resnet50 is model=.biovil."):
        get_encoder("biovil-image", model="biovil-t")


def test_importing_and_configuring_does_not_import_torch():
    code = ("import sys, semalign_biovil\n"
            "from semalign_biovil.prompts import chexpert_prompts\n"
            "chexpert_prompts()\n"
            "enc = semalign_biovil.BioVilImageEncoder(weights='random')\n"
            "assert enc.dim == 128 and enc.fingerprint.dim == 128\n"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("options", [
    {"model": "chexzero"}, {"output": "patches"}, {"backbone": "vit"}, {"crop": 600},
    {"resize": 0}, {"normalize": "yes"}, {"weights": ""},
    {"backbone": "resnet18"},  # the published checkpoint is ResNet-50
    {"joint_dim": 64},
])
def test_bad_image_options_are_refused_at_construction(options):
    with pytest.raises(InvalidInputError):
        BioVilImageEncoder(**options)


@pytest.mark.parametrize("options", [{"model": "bert"}, {"output": "mean"},
                                     {"normalize": 1}, {"device": "tpu"}])
def test_bad_text_options_are_refused_at_construction(options):
    with pytest.raises(InvalidInputError):
        CXRBertEncoder(**options)


def test_fingerprint_records_what_changes_the_output(resnet18_image_ckpt):
    base = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL).fingerprint
    for change in ({"crop": 24}, {"output": "global"}, {"normalize": False}):
        other = BioVilImageEncoder(weights=resnet18_image_ckpt, **{**SMALL, **change})
        assert other.fingerprint != base, change
    assert BioVilImageEncoder(weights="random", **SMALL).fingerprint.weights == \
        "random-init:seed=0"
    assert BioVilImageEncoder(weights="random", output="global").dim == 2048
    assert BioVilImageEncoder("biovil-t", weights="random", output="global").dim == 512


@pytest.mark.parametrize("output", ["projected", "global"])
def test_check_encoder_image(resnet18_image_ckpt, kermany, output):
    enc = BioVilImageEncoder(weights=resnet18_image_ckpt, output=output, **SMALL)
    check_encoder(enc, kermany[:3])


def test_check_encoder_image_biovil_t(kermany, tmp_path):
    from biovil_testutils import write_random_image_checkpoint

    ckpt = write_random_image_checkpoint(tmp_path / "t.pt", multi_image=True,
                                         backbone="resnet18")
    check_encoder(BioVilImageEncoder("biovil-t", weights=ckpt, **SMALL), kermany[:3])


@pytest.mark.parametrize("output", ["projected", "cls"])
def test_check_encoder_text(tiny_text_dir, output):
    check_encoder(CXRBertEncoder(weights=tiny_text_dir, output=output, device="cpu"), TEXTS)


def test_dataloader_workers_give_the_same_vectors(resnet18_image_ckpt, kermany):
    single = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL)
    workers = BioVilImageEncoder(weights=resnet18_image_ckpt, num_workers=2, **SMALL)
    np.testing.assert_array_equal(single.encode(kermany[:4], progress=False).vectors,
                                  workers.encode(kermany[:4], progress=False).vectors)


def test_unreadable_image_is_named_or_skipped(resnet18_image_ckpt, kermany, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    enc = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL)
    with pytest.raises(ImageLoadError, match="broken.png"):
        enc.encode([kermany[0], broken], progress=False)
    skipping = BioVilImageEncoder(weights=resnet18_image_ckpt, skip_errors=True, **SMALL)
    with pytest.warns(UserWarning, match="broken.png"):
        emb = skipping.encode([kermany[0], broken], progress=False)
    assert list(emb.ids) == [str(kermany[0])]
    assert emb.metadata["skipped"][0]["source"] == str(broken)


def test_constant_image_encodes_without_nan(resnet18_image_ckpt, tmp_path):
    from PIL import Image

    flat = tmp_path / "flat.png"
    Image.new("L", (50, 60), 128).save(flat)
    out = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL).encode(
        [flat], progress=False).vectors
    assert np.isfinite(out).all()


def test_dicom_input_is_accepted(resnet18_image_ckpt, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    path = tmp_path / "cxr.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = 48, 40
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(48 * 40, dtype=np.uint16) % 4096).tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    out = BioVilImageEncoder(weights=resnet18_image_ckpt, **SMALL).encode(
        [Path(path)], progress=False).vectors
    assert out.shape == (1, 128) and np.isfinite(out).all()
