"""Text encoding through semalign next to ``SentenceTransformer.encode`` on the same reports.

Both encode the same Open-i reports (``--section``, default "both": findings + impression) with
the same all-MiniLM-L6-v2 weights, batch size and device; the semalign side is
``get_encoder("minilm").encode`` (length-sorted batches in ``TorchTextEncoder``), the baseline
``SentenceTransformer(path).encode`` (which sorts by length too). Interleaved runs, median
[min-max] seconds and the median ratio of throughputs (acceptance: semalign >= 0.95x). The
outputs are checked to agree.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_text.py --n 512 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--section", default="both")
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    from semalign_core import get_encoder
    from semalign_core.data.openi import read_openi_reports
    from semalign_core.data.sources import find_shared_dir, shared_demo_inputs

    inputs = shared_demo_inputs(find_shared_dir(None))
    reports = read_openi_reports(inputs.openi_reports)
    texts = [t for t in (r.text(args.section) for r in reports) if t][:args.n]
    enc = get_encoder("minilm", device="cpu")
    enc.load()
    st_model = SentenceTransformer(str(enc._resolve().path), device="cpu", local_files_only=True)
    ours = lambda: enc.encode(texts, batch_size=args.batch_size, progress=False).vectors  # noqa: E731
    raw = lambda: st_model.encode(texts, batch_size=args.batch_size, show_progress_bar=False)  # noqa: E731
    np.testing.assert_allclose(ours(), raw(), atol=1e-4)  # same vectors (and a warm-up)
    t_ours, t_raw = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        raw()
        t2 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_raw.append(t2 - t1)
    ratio = np.array(t_raw) / np.array(t_ours)  # throughput of ours relative to ST
    print(f"{len(texts)} Open-i reports ({args.section}), batch {args.batch_size}, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"semalign minilm  {np.median(t_ours):6.2f} s [{min(t_ours):.2f}-{max(t_ours):.2f}]  "
          f"{len(texts) / np.median(t_ours):6.1f} texts/s")
    print(f"ST.encode        {np.median(t_raw):6.2f} s [{min(t_raw):.2f}-{max(t_raw):.2f}]  "
          f"{len(texts) / np.median(t_raw):6.1f} texts/s")
    print(f"throughput ratio semalign/ST {np.median(ratio):.2f} [{ratio.min():.2f}-"
          f"{ratio.max():.2f}] (target >= 0.95)")


if __name__ == "__main__":
    main()
