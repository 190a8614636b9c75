"""Images per second of semalign's torch image encoders vs. the model's forward-only throughput.

The baseline is the strongest one: the images are decoded and preprocessed *before* timing, and
only the forward passes are timed, on an independent copy of the model (never the encoder's own
object) in its best memory layout on this device (contiguous or channels-last, whichever is
faster; both are measured and printed). semalign's side is the whole ``Encoder.encode``:
decoding, preprocessing, batching and the forward pass. Acceptance: semalign >= 0.9x the
forward-only throughput. Runs are interleaved; the best of ``--repeats`` is reported.

Usage::

    python benchmarks/bench_encoders.py                       # CPU, all encoders
    python benchmarks/bench_encoders.py --device cuda --n 1024 --num-workers 8
    python benchmarks/bench_encoders.py --only squeezenet1_1 resnet18

Images: the Kermany test images from ``$SEMALIGN_SHARED_DIR/data/kermany-cxr`` when present,
else random 224x224 JPEGs written to a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np


def _images(n: int, workdir: Path) -> list[str]:
    shared = Path(os.environ.get("SEMALIGN_SHARED_DIR",
                                 Path(__file__).resolve().parents[1].parent / "shared"))
    found = sorted((shared / "data" / "kermany-cxr").glob("*/*/*.jpeg"))
    if len(found) >= n:
        return [str(p) for p in found[:n]]
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = workdir / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _dinov2_small_dir(workdir: Path) -> str:
    """A randomly initialised DINOv2 ViT-S/14 (the real architecture) in transformers format."""
    import torch
    import transformers

    config = transformers.Dinov2Config(hidden_size=384, num_hidden_layers=12,
                                       num_attention_heads=6, intermediate_size=1536,
                                       patch_size=14, image_size=518)
    torch.manual_seed(0)
    path = workdir / "dinov2-vits14-random"
    transformers.Dinov2Model(config).save_pretrained(path)
    return str(path)


def _encoders(workdir: Path, common: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    from semalign_core import get_encoder

    return {
        "squeezenet1_1": lambda: get_encoder("torchvision", model="squeezenet1_1",
                                             weights="random", **common),
        "resnet18": lambda: get_encoder("torchvision", model="resnet18", weights="random",
                                        **common),
        "clip-ViT-B-32": lambda: get_encoder("clip", model="ViT-B-32", pretrained=None,
                                             **common),
        "dinov2-vits14": lambda: get_encoder("dinov2", weights=_dinov2_small_dir(workdir),
                                             **common),
    }


def _preprocessed(encoder: Any, paths: list[str], batch_size: int) -> list[Any]:
    import torch
    from PIL import Image

    transform = encoder.transform
    return [torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[i:i + batch_size]])
            for i in range(0, len(paths), batch_size)]


def _forward_only(encoder: Any, model: Any, batches: list[Any], layout: Any) -> np.ndarray:
    import torch

    device, dtype = encoder.torch_device, encoder._amp_dtype
    outputs = []
    for x in batches:
        x = x.to(device).contiguous(memory_format=layout)
        amp = (torch.autocast(device.type, dtype=dtype) if dtype is not None
               else contextlib.nullcontext())
        with torch.inference_mode(), amp:
            out = encoder._forward(model, x)  # the model's feature head, nothing else
        outputs.append(out.float().cpu().numpy())
    return np.concatenate(outputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=96, help="images per timed run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=0,
                        help="DataLoader workers of the semalign encoder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--autocast", default="auto", help="auto, off, float16, bfloat16")
    parser.add_argument("--only", nargs="*", help="subset of encoders to run")
    args = parser.parse_args(argv)

    import torch

    autocast: Any = False if args.autocast == "off" else args.autocast
    common = {"device": args.device, "num_workers": args.num_workers, "autocast": autocast,
              "progress": False}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = _images(args.n, workdir)
        print(f"torch {torch.__version__}, device {args.device}"
              + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
              + f", threads {torch.get_num_threads()}, {len(paths)} images, batch "
              f"{args.batch_size}, encoder workers {args.num_workers}, autocast {args.autocast}")
        print(f"{'encoder':<16}{'semalign img/s':>16}{'fwd contig':>12}{'fwd ch-last':>12}"
              f"{'ratio to best':>15}{'max |diff|':>12}")
        for name, make in _encoders(workdir, common).items():
            if args.only and name not in args.only:
                continue
            import copy

            encoder = make()
            encoder.load()
            model = copy.deepcopy(encoder.model)  # the baseline's own copy
            batches = _preprocessed(encoder, paths, args.batch_size)
            layouts = {"contig": torch.contiguous_format, "ch-last": torch.channels_last}
            encoder.encode(paths[:args.batch_size], batch_size=args.batch_size)  # warm-up
            ours: list[float] = []
            fwd: dict[str, list[float]] = {k: [] for k in layouts}
            for _ in range(args.repeats):
                start = time.perf_counter()
                got = encoder.encode(paths, batch_size=args.batch_size).vectors
                ours.append(time.perf_counter() - start)
                for key, layout in layouts.items():
                    model = model.to(memory_format=layout)
                    start = time.perf_counter()
                    want = _forward_only(encoder, model, batches, layout)
                    fwd[key].append(time.perf_counter() - start)
            ips = {k: len(paths) / min(v) for k, v in fwd.items()}
            ips_ours = len(paths) / min(ours)
            diff = float(np.abs(got - want).max())
            print(f"{name:<16}{ips_ours:>16.1f}{ips['contig']:>12.1f}{ips['ch-last']:>12.1f}"
                  f"{ips_ours / max(ips.values()):>15.3f}{diff:>12.2e}", flush=True)
            del encoder, model
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
