"""How fast ``semalign plugins`` answers with every installed plugin (goal: under 1 s).

Prints the median wall time of ``semalign plugins`` next to a bare ``python -c pass`` start-up,
measured side by side in one run, and whether torch was imported (it must not be).

Usage::

    python benchmarks/bench_cli.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(args: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    bare = _time([sys.executable, "-c", "pass"], args.repeats)
    cli = [sys.executable, "-c",
           "import sys; from semalign_core.cli.main import main; main(['plugins']); "
           "assert 'torch' not in sys.modules, 'semalign plugins imported torch'"]
    plugins = _time(cli, args.repeats)
    print(f"python -c pass      {bare:6.3f} s")
    print(f"semalign plugins    {plugins:6.3f} s   ({plugins / bare:.1f}x bare start-up; "
          f"goal < 1 s: {'met' if plugins < 1 else 'MISSED'})")


if __name__ == "__main__":
    main()
