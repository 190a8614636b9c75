"""Step 3 (selection stage only): a train-only shift proxy.

SqueezeNet features of the 400 TRAIN images under 7 generic acquisition-style perturbations
(chosen a priori, not modelled on the test images). Rows follow the TRAIN order of
``cache.npz``. Needs ``cache.npz`` (``embed_cache.py``); writes
``$SEMALIGN_STUDY_DIR/cache_pert.npz``. Used by ``shiftcv.py`` and ``grid_shift.py`` only.
"""

from __future__ import annotations

import numpy as np
from study_paths import kermany_dir, squeezenet_weights, study_dir


def perturbations():
    import torchvision.transforms.functional as TF
    from PIL import Image, ImageEnhance, ImageFilter

    return {
        "gamma0.7": lambda im: TF.adjust_gamma(im, 0.7),
        "gamma1.4": lambda im: TF.adjust_gamma(im, 1.4),
        "contrast0.7": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
        "contrast1.3": lambda im: ImageEnhance.Contrast(im).enhance(1.3),
        "blur1.5": lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
        "down112": lambda im: im.resize((112, 112), Image.BILINEAR).resize(
            (224, 224), Image.BILINEAR
        ),
        "zoom0.9": lambda im: TF.center_crop(im, 202).resize((224, 224), Image.BILINEAR),
    }


def main():
    import torch
    import torchvision
    import torchvision.transforms.functional as TF
    from PIL import Image
    from safetensors.torch import load_file

    torch.set_num_threads(2)
    data = kermany_dir()
    d = np.load(study_dir() / "cache.npz")
    paths = d["paths"][d["split"] == "train"]
    m = torchvision.models.squeezenet1_1()
    m.load_state_dict(load_file(str(squeezenet_weights())))
    m.eval()
    norm = torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    out = {}
    with torch.no_grad():
        ims = [Image.open(data / p).convert("RGB").resize((224, 224)) for p in paths]
        for name, f in perturbations().items():
            x = torch.stack([norm(TF.to_tensor(f(im))) for im in ims])
            feats = [
                torch.nn.functional.adaptive_avg_pool2d(m.features(x[i : i + 100]), 1).flatten(1)
                for i in range(0, len(x), 100)
            ]
            out[name] = torch.cat(feats).numpy()
            print(name, flush=True)
    np.savez(study_dir() / "cache_pert.npz", **out)


if __name__ == "__main__":
    main()
