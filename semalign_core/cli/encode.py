"""``semalign encode``: encode a manifest's images or texts to an embeddings file."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_command, parse_options

__all__ = ["add_parser"]


def _cmd_encode(args: argparse.Namespace) -> int:
    from ..data.manifest import read_manifest
    from ..encoding.cache import encode_cached
    from ..plugins.registry import get_encoder

    encoder = get_encoder(args.encoder, **parse_options(args.option, "--option"))
    manifest = read_manifest(args.manifest)
    if args.split:
        manifest = manifest.filter(split=args.split)
    modality = args.field or encoder.modality
    items = manifest.items(modality)
    if args.cache_dir:
        emb = encode_cached(encoder, items, args.cache_dir, ids=manifest.ids,
                            batch_size=args.batch_size, progress=not args.quiet)
    else:
        emb = encoder.encode(items, ids=manifest.ids, batch_size=args.batch_size,
                             progress=not args.quiet)
    emb.save(args.output)
    print(f"wrote {len(emb)} x {emb.dim} embeddings to {args.output}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign encode``."""
    enc = add_command(
        sub, "encode", "encode a manifest's images or texts to an embeddings file",
        "Encode every item of a manifest (CSV, Parquet or image folder) with a "
        "registered encoder; ids are the manifest ids.",
        "  semalign encode --encoder torchvision-squeezenet1_1 "
        "--option weights=squeezenet.safetensors \\\n"
        "      --manifest data/manifest.csv --split train -o train_img.safetensors\n"
        "  semalign encode --encoder all-minilm-l6-v2 --manifest data/manifest.csv "
        "-o reports.safetensors --cache-dir ~/.cache/semalign/emb\n", _cmd_encode)
    enc.add_argument("--encoder", required=True, help="registered encoder name")
    enc.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="encoder option (repeatable; values parsed as JSON when possible)")
    enc.add_argument("--manifest", required=True, help="CSV/Parquet manifest or image folder")
    enc.add_argument("--split", help="only items of this split")
    enc.add_argument("--field", choices=("image", "text"),
                     help="manifest field to encode (default: the encoder's modality)")
    enc.add_argument("-o", "--output", required=True, help="output .safetensors file")
    enc.add_argument("--cache-dir", help="use and fill an embedding cache here")
    enc.add_argument("--batch-size", type=int)
    enc.add_argument("--quiet", action="store_true", help="no progress bar")
