"""Cold against warm `semalign demo`: the encoding stage and the whole run, side by side.

Runs the README's main job twice in fresh processes against one new, empty embedding cache: the
first run encodes everything (cold), the second finds every item in the cache (warm). Prints
each run's encoding stage (``timing.encode_s`` in results.json: cache look-ups and encoder calls),
its reading + encoding (``prepare_s``), and the whole run, then the cold/warm ratios. Needs the
shared data and the torchvision and sentence-transformers plugins, offline::

    HF_HUB_OFFLINE=1 python benchmarks/bench_demo_cache.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_demo(cache: Path, out: Path, extra: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    command = "import sys; from semalign_core.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", command, "demo", "--cache-dir", str(cache),
                    "--output-dir", str(out), "--quiet", *extra], check=True,
                   stdout=subprocess.DEVNULL)
    timing = json.loads((out / "results.json").read_text(encoding="utf-8"))["timing"]
    return {**timing, "process_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs (median reported)")
    parser.add_argument("demo_args", nargs="*", help="extra `semalign demo` arguments")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold = run_demo(root / "cache", root / "cold", args.demo_args)
        warm_runs = [run_demo(root / "cache", root / f"warm{i}", args.demo_args)
                     for i in range(args.warm_runs)]
    warm = {k: sorted(r[k] for r in warm_runs)[len(warm_runs) // 2] for k in cold}
    print(f"{'stage':<28}{'cold s':>10}{'warm s':>10}{'cold/warm':>11}")
    for key, label in (("encode_s", "encoding stage"), ("prepare_s", "reading + encoding"),
                       ("total_s", "whole run (in process)"), ("process_s", "whole process")):
        print(f"{label:<28}{cold[key]:>10.2f}{warm[key]:>10.2f}{cold[key] / warm[key]:>10.1f}x")
    print(f"(warm: median of {len(warm_runs)} runs)")


if __name__ == "__main__":
    main()
