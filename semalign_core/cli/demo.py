"""``semalign demo``: zero-shot pneumonia classification on real chest X-rays."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ._common import add_command, echo_for

__all__ = ["add_parser"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..data.sources import download_demo_inputs, find_shared_dir, shared_demo_inputs
    from ..experiments.config import parse_config
    from ..experiments.recipes import pneumonia_zero_shot_config
    from ..experiments.report import format_table
    from ..experiments.runner import run_experiment
    from ..locations import default_runs_dir

    _check_flags(args)
    if args.download:
        inputs = download_demo_inputs(args.data_dir)
    else:
        inputs = shared_demo_inputs(find_shared_dir(args.shared_dir))
    say = echo_for(args)
    if say:
        say(f"inputs: {inputs.origin}")
    counts = args.anchors[0] if len(args.anchors) == 1 else args.anchors
    # A written config without output_dir runs into the per-user runs folder, named after it.
    output_dir = (Path(args.output_dir).expanduser().resolve() if args.output_dir
                  else None if args.write_config else default_runs_dir() / "demo")
    data = pneumonia_zero_shot_config(
        kermany=inputs.kermany, openi_reports=inputs.openi_reports,
        vision_weights=inputs.vision_weights, output_dir=output_dir,
        anchors=counts, seeds=list(range(args.seeds)), cache_dir=args.cache_dir,
        bootstrap=args.bootstrap, device=args.device, progress=args.progress,
        calibration=args.calibration)
    config = parse_config(data, source="semalign demo")  # never write one `run` would refuse
    if args.write_config:
        import yaml

        from ..fileio import atomic_path

        with atomic_path(args.write_config) as tmp:
            Path(tmp).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        print(f"wrote the demo's config to {args.write_config} (run it with `semalign run`)")
        return 0
    result = run_experiment(config, progress=args.progress, echo=say)
    doc = result.document
    print()
    seeds = len(data["seeds"])
    print(f"Zero-shot pneumonia vs. normal on {doc['data']['evaluation']['items']} Kermany test "
          f"X-rays; estimate [95% CI], every interval a bootstrap over the test images"
          + (f" (zero-shot rows: mean over {seeds} anchor seeds)" if seeds > 1 else ""))
    print(format_table(doc))
    print(f"\nreport: {result.output_dir / 'report.html'} (and summary.md)  "
          f"({doc['timing']['total_s']:.0f} s)")
    return 0


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse what the run would refuse later, before finding inputs or writing a config."""
    from ..encoding.torch_batching import DEVICES

    small = [n for n in args.anchors if n < 2]
    if small:
        raise InvalidInputError(f"--anchors: every anchor count must be at least 2 (a map needs "
                                f"two pairs), got {small[0]}")
    if len(set(args.anchors)) != len(args.anchors):
        raise InvalidInputError(f"--anchors: counts must be distinct, got {args.anchors}")
    for flag, value in (("--seeds", args.seeds), ("--bootstrap", args.bootstrap)):
        if value < 1:
            raise InvalidInputError(f"{flag} must be at least 1, got {value}")
    base, _, index = args.device.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise InvalidInputError(f"--device must be one of {', '.join(DEVICES)} or cuda:N, got "
                                f"{args.device!r}")


def add_parser(sub: Any) -> None:
    """Add ``semalign demo``."""
    demo = add_command(
        sub, "demo", "zero-shot pneumonia classification on real chest X-rays",
        "An ImageNet SqueezeNet 1.1 that never saw text, aligned to all-MiniLM-L6-v2 "
        "with 100 anchors (Kermany train images paired with Open-i reports of their "
        "class), labels the 624 Kermany test X-rays normal vs. pneumonia. Prints the "
        "table next to a supervised probe and chance. Inputs come from the shared "
        "folder (--shared-dir, $SEMALIGN_SHARED_DIR, ../shared), or with --download "
        "from their official sources (see docs/experiments.md).",
        "  semalign demo\n"
        "  semalign demo --shared-dir /data/shared --anchors 25 100 400\n"
        "  semalign demo --download            # needs internet\n"
        "  semalign demo --write-config demo.yaml && semalign run demo.yaml\n", _cmd_demo)
    demo.add_argument("--shared-dir", help="folder holding data/ and models/")
    demo.add_argument("--download", action="store_true",
                      help="fetch inputs from their official sources (needs internet)")
    demo.add_argument("--data-dir", help="where --download stores files")
    demo.add_argument("--output-dir", help="report folder (default: "
                      "~/.local/share/semalign/runs/demo, or $SEMALIGN_RUNS_DIR/demo)")
    demo.add_argument("--cache-dir", help="embedding cache (default: the per-user cache, "
                      "$SEMALIGN_CACHE_DIR or ~/.cache/semalign/embeddings)")
    demo.add_argument("--anchors", type=int, nargs="+", default=[100], metavar="N",
                      help="anchor count(s), each at least 2; several give a curve "
                           "(default 100)")
    demo.add_argument("--seeds", type=int, default=5, help="number of anchor seeds")
    demo.add_argument("--bootstrap", type=int, default=500, help="resamples per CI")
    demo.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    demo.add_argument("--calibration", choices=("none", "gmm"), default="none",
                      help="'gmm': fit the decision threshold to the unlabeled test batch "
                           "(transductive; see docs/zeroshot.md)")
    demo.add_argument("--write-config", metavar="PATH",
                      help="write the equivalent `semalign run` config and exit")
    demo.add_argument("--progress", action="store_true",
                      help="show the encoding progress bars")
    demo.add_argument("--quiet", action="store_true",
                      help="print only the result table and where the report is")
