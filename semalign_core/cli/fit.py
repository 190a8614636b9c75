"""``semalign fit``: fit a translator on paired embeddings."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import InvalidInputError
from ._common import add_command, check_writable, load_embeddings, parse_options

__all__ = ["add_parser"]


def _cmd_fit(args: argparse.Namespace) -> int:
    from ..align.pairing import pair_by_id
    from ..align.translator import Translator

    check_writable(args.output)
    source = load_embeddings(args.source)
    target = load_embeddings(args.target)
    try:
        src, tgt = pair_by_id(source, target, args.pairing)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{args.source} and {args.target}: {exc}") from None
    if args.anchors is not None:
        from ..align.anchors import get_anchor_selector

        selector = get_anchor_selector(args.selector, seed=args.seed)
        index = selector.select(src.vectors, args.anchors)
        src, tgt = src.subset(index), tgt.subset(index)
    for side in ("source", "target"):
        old = getattr(args, f"{side}_preprocessing")
        if old is not None:  # the deprecated spelling (it was confused with input preprocessing)
            print(f"warning: --{side}-preprocessing is deprecated; use --{side}-norm",
                  file=sys.stderr)
            setattr(args, f"{side}_norm", old)
    translator = Translator(args.solver, source_norm=args.source_norm,
                            target_norm=args.target_norm,
                            solver_params=parse_options(args.param, "--param") or None)
    translator.fit(src, tgt, pairing=args.pairing)
    translator.save(args.output)
    print(f"fitted {translator!r} on {len(src)} anchors; wrote {args.output}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign fit``."""
    fit = add_command(
        sub, "fit", "fit a translator on paired embeddings",
        "Fit a Translator from source to target embeddings, paired by id: both files must "
        "hold the same ids (--pairing intersection: the ids in both; --pairing rows: row by "
        "row), optionally a selected subset.",
        "  semalign fit --source img.safetensors --target txt.safetensors "
        "-o translator.safetensors\n"
        "  semalign fit --source img.safetensors --target txt.safetensors --solver "
        "affine --param alpha=300 \\\n"
        "      --target-norm center --anchors 100 --selector kmeans "
        "-o translator.safetensors\n", _cmd_fit)
    fit.add_argument("--source", required=True, help="source embeddings (.safetensors)")
    fit.add_argument("--target", required=True, help="target embeddings (.safetensors)")
    fit.add_argument("--solver", default="affine", help="registered solver (default affine)")
    fit.add_argument("--param", action="append", metavar="KEY=VALUE", help="solver parameter")
    for side in ("source", "target"):
        fit.add_argument(f"--{side}-norm", default="standard",
                         help=f"{side} SpaceNormalizer steps, e.g. center, l2+standard, none "
                              f"(default standard)")
        fit.add_argument(f"--{side}-preprocessing", help=argparse.SUPPRESS)  # deprecated
    fit.add_argument("--anchors", type=int, help="select this many anchors from the pairs")
    fit.add_argument("--selector", default="random", help="anchor selector (with --anchors)")
    fit.add_argument("--seed", type=int, default=0, help="anchor selector seed (default 0)")
    fit.add_argument("--pairing", choices=("ids", "intersection", "rows"), default="ids",
                     help="how anchors are paired: the same ids in both files (default), the "
                          "ids present in both, or row by row")
    fit.add_argument("-o", "--output", required=True, help="output translator file")
