"""``semalign run``: run an experiment config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_command, echo_for

__all__ = ["add_parser"]


def _cmd_run(args: argparse.Namespace) -> int:
    from ..experiments.config import load_config, parse_config
    from ..experiments.report import format_table
    from ..experiments.runner import run_experiment

    config = load_config(args.config)
    if args.output_dir or args.cache_dir:
        data = config.to_dict()
        for key in ("output_dir", "cache_dir"):
            if getattr(args, key):
                data[key] = str(Path(getattr(args, key)).expanduser().resolve())
        config = parse_config(data, base_dir=config._base_dir(), source=args.config)
    result = run_experiment(config, progress=args.progress, echo=echo_for(args),
                            write_report=True)
    print(format_table(result.document))
    print(f"report: {result.output_dir / 'summary.md'}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign run``."""
    run = add_command(
        sub, "run", "run an experiment from a YAML/JSON config",
        "Encode (through the embedding cache), fit translators for every anchor count "
        "and seed, evaluate the task and write results.json, summary.md and plots.",
        "  semalign run examples/pneumonia_zero_shot.yaml\n"
        "  semalign run my.yaml --output-dir runs/today --quiet\n", _cmd_run)
    run.add_argument("config", help="experiment config (.yaml, .yml or .json)")
    run.add_argument("--output-dir", help="override the config's output_dir (default: "
                     "~/.local/share/semalign/runs/<name>, or $SEMALIGN_RUNS_DIR/<name>)")
    run.add_argument("--cache-dir", help="override the config's cache_dir (default: the "
                     "per-user cache, $SEMALIGN_CACHE_DIR or ~/.cache/semalign/embeddings)")
    run.add_argument("--progress", action="store_true", help="show encoding progress bars")
    run.add_argument("--quiet", action="store_true", help="print only the result table")
