"""Parity with the reference implementation, hi-ml-multimodal: with the same random weights the
plugin gives the same image and text embeddings (atol 1e-5) on the same inputs, preprocessing
included.

Shims (test code only) that hi-ml-multimodal 0.2.2 needs on transformers 5:

- ``CXRBertTokenizer(vocab_file=...)`` silently ignores the file (every word becomes [UNK]), so
  the reference tokenizer is built with ``vocab=`` (the transformers 5 argument) instead;
- ``batch_encode_plus`` no longer exists; the reference engine's call is forwarded to
  ``tokenizer(...)``, which is what it did in transformers 4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

himl = pytest.importorskip("health_multimodal", reason="hi-ml-multimodal (test dependency)")
torch = pytest.importorskip("torch")

from biovil_testutils import TINY_BERT, TINY_VOCAB, write_vocab  # noqa: E402
from health_multimodal.image import ImageInferenceEngine, ImageModel  # noqa: E402
from health_multimodal.image.data.io import load_image as himl_load_image  # noqa: E402
from health_multimodal.image.data.transforms import (  # noqa: E402
    create_chest_xray_transform_for_inference,
)
from health_multimodal.text import TextInferenceEngine  # noqa: E402
from health_multimodal.text.model import (  # noqa: E402
    CXRBertConfig,
    CXRBertModel,
    CXRBertTokenizer,
)
from PIL import Image  # noqa: E402
from semalign_biovil import BioVilImageEncoder, CXRBertEncoder  # noqa: E402
from semalign_biovil._image_model import ChestXrayTransform  # noqa: E402

ATOL = 1e-5


# -- reference models (built once: ResNet-50 construction runs a forward pass in hi-ml) ----------
def _reference_image_model(encoder_type: str, seed: int) -> ImageModel:
    torch.manual_seed(seed)
    model = ImageModel(img_encoder_type=encoder_type, joint_feature_size=128)
    # Non-trivial BatchNorm statistics, so the projector's BN is really exercised.
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.rand_like(buf) * 0.5 - 0.25)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand_like(buf) * 0.5 + 0.75)
    return model.eval()


def _saved(model: ImageModel, path: Path) -> tuple[ImageModel, Path]:
    torch.save(model.state_dict(), path)  # the published checkpoints' format
    return model, path


@pytest.fixture(scope="module")
def r18_ref(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageModel, Path]:
    """A BioViL-layout model on ResNet-18 (a layout hi-ml supports): fast on CPU."""
    return _saved(_reference_image_model("resnet18", seed=1),
                  tmp_path_factory.mktemp("ref") / "r18.pt")


@pytest.fixture(scope="module")
def r18_multi_ref(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageModel, Path]:
    return _saved(_reference_image_model("resnet18_multi_image", seed=2),
                  tmp_path_factory.mktemp("ref") / "r18-multi.pt")


@pytest.fixture(scope="module")
def synthetic_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Images that exercise the intensity scaling: narrow-range gray, colour, non-square."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = {}
    gray = rng.integers(40, 201, size=(300, 260), dtype=np.uint8)  # stretched to 0..255
    out["gray"] = root / "gray.png"
    Image.fromarray(gray, "L").save(out["gray"])
    colour = rng.integers(0, 256, size=(200, 330, 3), dtype=np.uint8)
    out["colour"] = root / "colour.png"
    Image.fromarray(colour, "RGB").save(out["colour"])
    full = np.tile(np.arange(256, dtype=np.uint8), (256, 1))  # every value 0..255 once per row
    out["ramp"] = root / "ramp.png"
    Image.fromarray(full, "L").save(out["ramp"])
    return out


def _reference_transform(resize: int, crop: int):
    return create_chest_xray_transform_for_inference(resize=resize, center_crop_size=crop)


# -- preprocessing -------------------------------------------------------------------------------
@pytest.mark.parametrize(("resize", "crop"), [(512, 480), (512, 448), (64, 56)])
def test_preprocessing_matches_reference_exactly(kermany, synthetic_images, resize, crop):
    from semalign_core.encoding.images import load_image

    ours = ChestXrayTransform(resize, crop)
    ref = _reference_transform(resize, crop)
    for path in [*kermany[:2], *synthetic_images.values()]:
        mine = ours(load_image(path, mode="RGB"))
        theirs = ref(himl_load_image(path))
        assert mine.shape == theirs.shape == (3, crop, crop)
        assert torch.equal(mine, theirs), f"preprocessing differs on {path.name}"


def test_intensity_scaling_truncates_like_the_reference(synthetic_images):
    # The ramp holds every gray level; the reference's float64 arithmetic maps some of them one
    # level down (v/255*255 < v). Equality above proves we copy that; here we check the stretch
    # is actually non-trivial on the narrow-range image.
    from semalign_biovil._image_model import remap_to_uint8

    gray = np.asarray(Image.open(synthetic_images["gray"]))
    stretched = remap_to_uint8(gray)
    assert stretched.min() == 0 and stretched.max() == 255
    assert gray.min() > 0 and gray.max() < 255


# -- image embeddings ----------------------------------------------------------------------------
def _reference_outputs(model: ImageModel, images: list[Path], resize: int, crop: int):
    transform = _reference_transform(resize, crop)
    with torch.no_grad():
        out = model(torch.stack([transform(himl_load_image(p)) for p in images]))
    return (torch.nn.functional.normalize(out.projected_global_embedding, dim=1).detach().numpy(),
            out.projected_global_embedding.detach().numpy(), out.img_embedding.detach().numpy())


@pytest.mark.parametrize("model_key", ["biovil", "biovil-t"])
def test_image_parity_projected_and_global(model_key, r18_ref, r18_multi_ref, kermany,
                                           synthetic_images):
    """All three outputs, batched, on real and synthetic images; ResNet-18 trunks at a small
    crop keep this fast (the full-size ResNet-50 runs are the slow tests below)."""
    model, path = r18_ref if model_key == "biovil" else r18_multi_ref
    images = [*kermany[:2], *synthetic_images.values()]
    normalised, raw, pooled = _reference_outputs(model, images, 64, 56)
    common = {"weights": path, "backbone": "resnet18", "resize": 64, "crop": 56,
              "device": "cpu", "progress": False}
    enc = BioVilImageEncoder(model_key, **common)
    np.testing.assert_allclose(enc.encode(images, batch_size=3).vectors, normalised, atol=ATOL)
    enc = BioVilImageEncoder(model_key, normalize=False, **common)
    np.testing.assert_allclose(enc.encode(images).vectors, raw, atol=ATOL)
    enc = BioVilImageEncoder(model_key, output="global", **common)
    assert enc.dim == 512  # ResNet-18 width; BioViL-T: 2 x 256 whatever the trunk
    np.testing.assert_allclose(enc.encode(images).vectors, pooled, atol=ATOL)


@pytest.mark.slow
@pytest.mark.parametrize(("model_key", "encoder_type", "crop"),
                         [("biovil", "resnet50", 480), ("biovil-t", "resnet50_multi_image", 448)])
def test_image_parity_full_size(model_key, encoder_type, crop, kermany, tmp_path):
    """The published configurations (ResNet-50; resize 512, crop 480 / 448) against hi-ml's
    inference engine, which encodes one path at a time; the plugin encodes the batch at once."""
    model, path = _saved(_reference_image_model(encoder_type, seed=5), tmp_path / "ref.pt")
    engine = ImageInferenceEngine(model, _reference_transform(512, crop))
    images = kermany[2:4]
    with torch.no_grad():
        expected = np.stack([engine.get_projected_global_embedding(p).numpy() for p in images])
    enc = BioVilImageEncoder(model_key, weights=path, device="cpu", progress=False)
    assert enc.fingerprint.preprocessing["crop"] == crop
    got = enc.encode(images, batch_size=2).vectors
    assert got.shape == (2, 128)
    np.testing.assert_allclose(got, expected, atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


# -- text embeddings -----------------------------------------------------------------------------
def _reference_tokenizer(directory: Path) -> CXRBertTokenizer:
    import transformers
    from tokenizers.models import WordPiece

    if int(transformers.__version__.split(".")[0]) >= 5:
        # shim: transformers 5 ignores vocab_file= (all [UNK]); vocab= is its argument
        tok = CXRBertTokenizer(vocab=WordPiece.read_file(str(directory / "vocab.txt")),
                               do_lower_case=True)
    else:
        tok = CXRBertTokenizer(vocab_file=str(directory / "vocab.txt"), do_lower_case=True)
    if not hasattr(tok, "batch_encode_plus"):  # shim: removed in transformers 5
        tok.batch_encode_plus = lambda batch_text_or_text_pairs, **kw: tok(
            batch_text_or_text_pairs, **kw)
    return tok


@pytest.fixture(scope="module")
def cxr_bert_ref(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextInferenceEngine, Path]:
    directory = tmp_path_factory.mktemp("cxr-bert-ref")
    config = CXRBertConfig(vocab_size=len(TINY_VOCAB), **TINY_BERT)
    torch.manual_seed(3)
    model = CXRBertModel(config).eval()
    with torch.no_grad():  # move the projection head off its default init (LayerNorm = 1, 0)
        for p in model.cls_projection_head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(directory)  # the reference's own writer (config.json + weights)
    write_vocab(directory)
    engine = TextInferenceEngine(tokenizer=_reference_tokenizer(directory), text_model=model)
    return engine, directory


PROMPTS = ["No pleural effusion.", "Findings consistent with pneumonia!", "there is mild edema",
           "Right lower lobe consolidation, small left pleural effusion?",
           "The lungs are clear", "cardiomegaly"]


def test_reference_tokenizer_uses_the_vocabulary(cxr_bert_ref):
    # guards the shim: a reference tokenizer that maps words to [UNK] would make parity vacuous
    engine, _ = cxr_bert_ref
    ids = engine.tokenizer("no pleural effusion")["input_ids"]
    assert engine.tokenizer.unk_token_id not in ids


def test_cxr_bert_projected_parity(cxr_bert_ref):
    engine, directory = cxr_bert_ref
    expected = engine.get_embeddings_from_prompt(PROMPTS, verbose=False).numpy()
    enc = CXRBertEncoder(weights=directory, device="cpu")
    assert enc.dim == TINY_BERT["projection_size"]
    np.testing.assert_allclose(enc.encode(PROMPTS, progress=False).vectors, expected, atol=ATOL)
    # the batch is padded to its longest prompt; one at a time must give the same vectors
    np.testing.assert_allclose(enc.encode(PROMPTS, batch_size=1, progress=False).vectors,
                               expected, atol=ATOL)
    raw = engine.get_embeddings_from_prompt(PROMPTS, normalize=False, verbose=False).numpy()
    unnormalised = CXRBertEncoder(weights=directory, normalize=False, device="cpu")
    np.testing.assert_allclose(unnormalised.encode(PROMPTS, progress=False).vectors, raw,
                               atol=ATOL)


def test_cxr_bert_cls_parity(cxr_bert_ref):
    engine, directory = cxr_bert_ref
    tokens = engine.tokenize_input_prompts(PROMPTS, verbose=False)
    with torch.no_grad():
        out = engine.model(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
    enc = CXRBertEncoder(weights=directory, output="cls", device="cpu")
    assert enc.dim == TINY_BERT["hidden_size"]
    np.testing.assert_allclose(enc.encode(PROMPTS, progress=False).vectors,
                               out.last_hidden_state[:, 0].numpy(), atol=ATOL)


def test_token_ids_match_reference(cxr_bert_ref):
    engine, directory = cxr_bert_ref
    enc = CXRBertEncoder(weights=directory, device="cpu")
    ids, mask = enc.tokenizer(PROMPTS)
    ref = engine.tokenize_input_prompts(PROMPTS, verbose=False)
    assert torch.equal(ids, ref.input_ids)
    assert torch.equal(mask, ref.attention_mask)


@pytest.mark.slow
def test_cxr_bert_parity_full_size_config(tmp_path):
    """The published architecture (BERT-base, 30522 tokens, 128-d projection), random weights,
    written by the reference's save_pretrained."""
    config = CXRBertConfig(vocab_size=30522, projection_size=128)
    torch.manual_seed(4)
    model = CXRBertModel(config).eval()
    model.save_pretrained(tmp_path)
    vocab = TINY_VOCAB + [f"[unused{i}]" for i in range(30522 - len(TINY_VOCAB))]
    write_vocab(tmp_path, vocab)
    engine = TextInferenceEngine(tokenizer=_reference_tokenizer(tmp_path), text_model=model)
    expected = engine.get_embeddings_from_prompt(PROMPTS[:3], verbose=False).numpy()
    enc = CXRBertEncoder(weights=tmp_path, device="cpu")
    assert enc.dim == 128
    np.testing.assert_allclose(enc.encode(PROMPTS[:3], progress=False).vectors, expected,
                               atol=ATOL)
