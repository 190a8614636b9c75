"""Cold against warm `semalign demo`, stage by stage, side by side.

Runs the README's main job in fresh processes against one new, empty embedding cache and one new,
empty semalign cache root (``$XDG_CACHE_HOME``: the memoised encoder facts and parsed Open-i
archive start empty too; the Hugging Face, torch and matplotlib caches stay where they are): the
first run encodes everything (cold), the next ones find every item in the cache (warm; the
median of ``--warm-runs``). Prints each stage from ``timing`` in results.json:

- encoding stage (``encode_s``: cache look-ups and encoder calls);
- reading datasets and building encoders (``prepare_s - encode_s``);
- fits, predictions and bootstrap CIs of every (count, seed) (``evaluate_s``);
- baselines (``baselines_s``) and the plots (``plots_s``), then the three documents
  (``report_s - plots_s``);
- outside the run: the rest of the process's wall time (Python start-up, the CLI's imports,
  finding the inputs, exit); imports made during the run count in the stage that makes them,

then the cold/warm ratios, the issue's target (encoding stage >= 20x) and, on their own, a bare
Python start-up and ``import semalign_core.cli``. Needs the shared data and the torchvision and
sentence-transformers plugins, offline::

    HF_HUB_OFFLINE=1 python benchmarks/bench_demo_cache.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# as the `semalign` console script calls it: main() reads sys.argv itself
_DEMO = "import sys; from semalign_core.cli import main; sys.exit(main())"
_SKLEARN = "import sklearn.linear_model, sklearn.metrics"
TARGET = 20.0  # issue #14: the warm encoding stage at least 20x faster than cold


def _environment(xdg: Path) -> dict[str, str]:
    """A fresh semalign cache root; the model and font caches keep their usual places."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg))
    env.setdefault("HF_HOME", str(home / "huggingface"))
    env.setdefault("TORCH_HOME", str(home / "torch"))
    env.setdefault("MPLCONFIGDIR", str(home / "matplotlib"))  # its font cache
    return env


def run_demo(cache: Path, out: Path, extra: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _DEMO, "demo", "--cache-dir", str(cache),
                    "--output-dir", str(out), "--quiet", *extra], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    process_s = time.perf_counter() - started
    t = json.loads((out / "results.json").read_text(encoding="utf-8"))["timing"]
    return {"encode_s": t["encode_s"], "read_s": t["prepare_s"] - t["encode_s"],
            "evaluate_s": t["evaluate_s"], "baselines_s": t["baselines_s"],
            "plots_s": t["plots_s"], "documents_s": t["report_s"] - t["plots_s"],
            "startup_s": process_s - t["total_s"] - t["report_s"],
            "run_s": t["total_s"] + t["report_s"], "process_s": process_s}


def _startup(code: str, env: dict[str, str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


ROWS = (("encode_s", "encoding stage"), ("read_s", "reading data, encoders"),
        ("evaluate_s", "fits + CIs (count x seed)"), ("baselines_s", "baselines"),
        ("plots_s", "plots"), ("documents_s", "json + md + html"),
        ("run_s", "whole run (in process)"), ("startup_s", "outside the run"),
        ("process_s", "whole process"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs (median reported)")
    parser.add_argument("demo_args", nargs="*", help="extra `semalign demo` arguments")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = _environment(root / "xdg")
        cold = run_demo(root / "cache", root / "cold", args.demo_args, env)
        warm_runs = [run_demo(root / "cache", root / f"warm{i}", args.demo_args, env)
                     for i in range(args.warm_runs)]
        bare = _startup("pass", env, args.warm_runs)
        cli = _startup("import semalign_core.cli", env, args.warm_runs)
        # what a warm run pays inside its stages for libraries it cannot do without (the probe
        # baseline and the CIs' point estimates need scikit-learn, the plots matplotlib)
        sklearn = _startup(_SKLEARN, env, args.warm_runs) - bare
        both = _startup(f"{_SKLEARN}; import matplotlib.pyplot", env, args.warm_runs)
        mpl = both - bare - sklearn
    warm = {k: statistics.median(r[k] for r in warm_runs) for k in cold}
    print(f"{'stage':<28}{'cold s':>9}{'warm s':>9}{'cold/warm':>11}   warm runs")
    for key, label in ROWS:
        runs = " ".join(f"{r[key]:.2f}" for r in warm_runs)
        ratio = cold[key] / warm[key] if warm[key] > 0 else float("inf")
        print(f"{label:<28}{cold[key]:>9.2f}{warm[key]:>9.2f}{ratio:>10.1f}x   {runs}")
    ratio = cold["encode_s"] / warm["encode_s"]
    print(f"(warm: median of {len(warm_runs)} runs; python start-up {bare:.2f} s, "
          f"import semalign_core.cli {cli:.2f} s)")
    print(f"of which imports, each measured alone in a fresh process: scikit-learn {sklearn:.2f} s "
          f"(warm: first paid in fits + CIs), matplotlib after it {mpl:.2f} s (in plots)")
    print(f"encoding stage cold/warm {ratio:.1f}x: target >= {TARGET:.0f}x "
          f"{'met' if ratio >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
