"""End to end: BioViL image + CXR-BERT text embeddings through the core zero-shot classifier on
shared Kermany images. Weights are random: only shapes, determinism and plumbing are checked,
never accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from biovil_testutils import write_text_checkpoint
from semalign_biovil import BioVilImageEncoder, CXRBertEncoder
from semalign_biovil.prompts import NO_FINDING, chexpert_prompts, finding_vs_normal_prompts

from semalign_core import Translator, ZeroShotClassifier

pytest.importorskip("faiss")

REPORTS = {"normal": ["no acute cardiopulmonary process", "the lungs are clear",
                      "normal chest x-ray"],
           "pneumonia": ["right lower lobe consolidation consistent with pneumonia",
                         "left lower lobe opacity, pneumonia", "findings of pneumonia"]}


@pytest.fixture(scope="module")
def encoders(resnet18_image_ckpt, tmp_path_factory):
    # projection_size 128: the text and image halves share BioViL's 128-d joint space
    text_dir = write_text_checkpoint(tmp_path_factory.mktemp("zs") / "bert",
                                     projection_size=128, seed=11)
    image = BioVilImageEncoder(weights=resnet18_image_ckpt, backbone="resnet18", resize=64,
                               crop=56, device="cpu", progress=False)
    return image, CXRBertEncoder(weights=text_dir, device="cpu")


def _classify(encoders, kermany, kermany_labels, prompts):
    image_enc, text_enc = encoders
    images = image_enc.encode(kermany, progress=False)
    counters = {"normal": 0, "pneumonia": 0}
    anchor_texts = []
    for label in kermany_labels:  # pair each image with a report of its class
        anchor_texts.append(REPORTS[label][counters[label]])
        counters[label] += 1
    reports = text_enc.encode(anchor_texts, ids=images.ids, progress=False)
    # BioViL and CXR-BERT were trained into one space: the identity map is the native model
    translator = Translator("identity").fit(images, reports)
    clf = ZeroShotClassifier(translator, text_enc, prompts, device="cpu")
    return clf, images


def test_single_label_normal_vs_pneumonia(encoders, kermany, kermany_labels):
    clf, images = _classify(encoders, kermany, kermany_labels,
                            finding_vs_normal_prompts(["Pneumonia"]))
    labels = clf.predict(images)
    proba = clf.predict_proba(images)
    assert labels.shape == (6,) and set(labels) <= {NO_FINDING, "Pneumonia"}
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert list(clf.classes_) == [NO_FINDING, "Pneumonia"]
    # determinism: the whole pipeline again, from fresh encoders, gives the same answer
    image_enc, text_enc = encoders
    again = (BioVilImageEncoder(**{k: getattr(image_enc, k) for k in ("weights", "backbone",
                                                                        "resize", "crop")},
                                device="cpu"), CXRBertEncoder(weights=text_enc.weights,
                                                              device="cpu"))
    clf2, images2 = _classify(again, kermany, kermany_labels,
                              finding_vs_normal_prompts(["Pneumonia"]))
    np.testing.assert_array_equal(images2.vectors, images.vectors)
    np.testing.assert_allclose(clf2.predict_proba(images2), proba, atol=1e-6)


def test_multilabel_chexpert_findings(encoders, kermany, kermany_labels):
    prompts = chexpert_prompts(["Pneumonia", "Consolidation", "Pleural Effusion"])
    clf, images = _classify(encoders, kermany, kermany_labels, prompts)
    proba = clf.predict_proba(images)
    assert proba.shape == (6, 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    predicted = clf.predict(images)
    assert predicted.shape == (6, 3) and set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, (proba >= 0.5).astype(int))
