"""Step 2: hand-written prompt sets (written a priori, not tuned on test), encoded with MiniLM.

Writes ``$SEMALIGN_STUDY_DIR/prompts.npz`` with arrays ``<set>_<class>`` (class 0 = normal,
1 = pneumonia). Run: ``python benchmarks/zeroshot_study/prompts.py``.
"""

from __future__ import annotations

import os

import numpy as np
from study_paths import minilm_dir, study_dir

PROMPTS = {
    # the 2-per-class set in the style of the design notes
    "hand2": {
        0: ["No acute cardiopulmonary abnormality.", "The lungs are clear. Normal chest x-ray."],
        1: [
            "Focal airspace consolidation consistent with pneumonia.",
            "Findings of pneumonia with lung infiltrates.",
        ],
    },
    # larger Open-i-style ensemble
    "hand8": {
        0: [
            "No acute cardiopulmonary abnormality.",
            "No acute cardiopulmonary disease.",
            "The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.",
            "Normal chest x-ray.",
            "Heart size and mediastinal contours are normal. Lungs are clear.",
            "No active disease.",
            "No focal airspace disease.",
            "Clear lungs without infiltrate.",
        ],
        1: [
            "Focal airspace consolidation consistent with pneumonia.",
            "Findings consistent with pneumonia.",
            "Right lower lobe pneumonia.",
            "Left lower lobe airspace disease concerning for pneumonia.",
            "Patchy bilateral infiltrates compatible with pneumonia.",
            "There is consolidation in the lung base.",
            "Airspace opacity suspicious for infection.",
            "Bilateral airspace disease and infiltrate.",
        ],
    },
    # single short class names
    "names": {0: ["normal chest x-ray"], 1: ["pneumonia"]},
}


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    out = {}
    for name, d in PROMPTS.items():
        for c in (0, 1):
            out[f"{name}_{c}"] = st.encode(d[c], convert_to_numpy=True).astype(np.float32)
    np.savez(study_dir() / "prompts.npz", **out)
    print(list(out))


if __name__ == "__main__":
    main()
