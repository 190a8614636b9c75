"""Step 1: cache the embeddings the study works on.

SqueezeNet 1.1 (ImageNet) image features of the 1024 Kermany images (train + test) and MiniLM
embeddings of the Open-i reports (FINDINGS, IMPRESSION and both), with the report classes:
normal = MeSH major tag 'normal' and no pneumonia tag; pneumonia = a major tag that matches
pneumonia/consolidation/airspace disease/infiltrate. Writes ``$SEMALIGN_STUDY_DIR/cache.npz``.

Run: ``python benchmarks/zeroshot_study/embed_cache.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import csv
import os
import re
import tarfile
import xml.etree.ElementTree as ET

import numpy as np
from study_paths import kermany_dir, minilm_dir, openi_reports, squeezenet_weights, study_dir

# Pneumonia-like MeSH major tags (a report tagged with any of them is a pneumonia report).
PNEU = re.compile(r"pneumonia|consolidation|airspace disease|infiltrate", re.I)


def image_features(data, rows):
    """SqueezeNet 1.1 global-average-pooled conv features (512-d), in ``labels.csv`` order."""
    import torch
    import torchvision
    from PIL import Image
    from safetensors.torch import load_file

    m = torchvision.models.squeezenet1_1()
    m.load_state_dict(load_file(str(squeezenet_weights())))
    m.eval()
    tf = torchvision.transforms.Compose([
        torchvision.transforms.Resize(224),
        torchvision.transforms.CenterCrop(224),
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    feats = []
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            x = torch.stack(
                [tf(Image.open(data / r["path"]).convert("RGB")) for r in rows[i : i + 64]]
            )
            f = torch.nn.functional.adaptive_avg_pool2d(m.features(x), 1).flatten(1)
            feats.append(f.numpy())
    return np.concatenate(feats).astype(np.float32)


def read_reports():
    """(name, findings, impression, class, major tags) of every normal or pneumonia report."""
    recs = []
    with tarfile.open(openi_reports()) as t:
        for mem in t.getmembers():
            if not mem.name.endswith(".xml"):
                continue
            root = ET.parse(t.extractfile(mem)).getroot()
            sec = {a.get("Label"): (a.text or "").strip() for a in root.iter("AbstractText")}
            majors = [e.text or "" for e in root.iter("major")]
            is_norm = any(x.strip().lower() == "normal" for x in majors)
            is_pneu = any(PNEU.search(x) for x in majors)
            cls = 0 if (is_norm and not is_pneu) else (1 if is_pneu else -1)
            fnd, imp = sec.get("FINDINGS", ""), sec.get("IMPRESSION", "")
            recs.append((mem.name, fnd, imp, cls, "|".join(majors)))
    return [r for r in recs if r[3] >= 0]


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(2)
    data = kermany_dir()
    out = study_dir() / "cache.npz"

    # ---- images
    with open(data / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    img = image_features(data, rows)
    split = np.array([r["split"] for r in rows])
    label = np.array([1 if r["label"] == "pneumonia" else 0 for r in rows])
    subtype = np.array([r["subtype"] for r in rows])
    paths = np.array([r["path"] for r in rows])

    # ---- reports
    recs = read_reports()
    n_norm, n_pneu = sum(r[3] == 0 for r in recs), sum(r[3] == 1 for r in recs)
    print("reports normal", n_norm, "pneumonia", n_pneu)
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    fnd = [r[1] for r in recs]
    imp = [r[2] for r in recs]
    both = [(r[1] + " " + r[2]).strip() for r in recs]

    def enc(texts):
        # An empty section is encoded as "." so that every report keeps a row.
        return st.encode(
            [s if s else "." for s in texts],
            batch_size=64,
            normalize_embeddings=False,
            convert_to_numpy=True,
        ).astype(np.float32)

    np.savez(
        out,
        img=img,
        split=split,
        label=label,
        subtype=subtype,
        paths=paths,
        rep_name=np.array([r[0] for r in recs]),
        rep_cls=np.array([r[3] for r in recs]),
        rep_tags=np.array([r[4] for r in recs]),
        rep_find_txt=np.array(fnd),
        rep_imp_txt=np.array(imp),
        rep_find=enc(fnd),
        rep_imp=enc(imp),
        rep_both=enc(both),
        has_find=np.array([bool(s) for s in fnd]),
        has_imp=np.array([bool(s) for s in imp]),
    )
    print("done", img.shape, "->", out)


if __name__ == "__main__":
    main()
