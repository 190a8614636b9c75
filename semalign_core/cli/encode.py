"""``semalign encode``: encode a manifest's images or texts to an embeddings file."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidInputError
from ._common import add_command, check_writable, parse_options
from .inputs import add_input_arguments, read_input

__all__ = ["add_parser"]


def _cmd_encode(args: argparse.Namespace) -> int:
    from ..encoding.encoder import get_encoder
    from ..encoding.engines import EngineSpec, encode_dataset

    if args.engine == "ray" and (args.no_cache or not args.cache_dir):
        # the per-user default cache is one machine's folder; a cluster needs shared storage
        raise InvalidInputError("--engine ray writes through the embedding cache (that is what "
                                "makes a killed run resumable); give --cache-dir on storage "
                                "every worker sees, without --no-cache")
    spec = EngineSpec(args.engine, workers=args.workers, address=args.address,
                      threads=args.threads, hash_on=args.hash_on)
    options = parse_options(args.option, "--option")
    encoder = get_encoder(args.encoder, **options)
    if args.field and args.field != encoder.modality:
        # a text encoder would embed image paths as sentences (and exit 0)
        raise InvalidInputError(f"--field {args.field} but {args.encoder} is a "
                                f"{encoder.modality} encoder; pick a {args.field} encoder or "
                                f"--field {encoder.modality}")
    check_writable(args.output)
    manifest = read_input(args)
    if args.split:
        manifest = manifest.filter(split=args.split)
    modality = encoder.modality
    items = manifest.items(modality)
    if not args.no_cache:
        from ..locations import default_cache_dir

        emb = encode_dataset(args.encoder, items, args.cache_dir or default_cache_dir(),
                             options=options, ids=manifest.ids, engine=spec,
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
        "Encode every item of a manifest (CSV, Parquet or image folder) or of a "
        "registered dataset with a registered encoder; ids are the manifest ids.",
        "  semalign encode --encoder torchvision-squeezenet1-1 "
        "--option weights=squeezenet.safetensors \\\n"
        "      --manifest data/manifest.csv --split train -o train_img.safetensors\n"
        "  semalign encode --encoder all-minilm-l6-v2 --manifest data/manifest.csv "
        "-o reports.safetensors --no-cache\n"
        "  # on a Ray cluster (4 actors, one GPU each when the cluster has GPUs):\n"
        "  semalign encode --encoder torchvision-squeezenet1-1 --manifest data/manifest.csv \\\n"
        "      -o img.safetensors --cache-dir /shared/cache --engine ray --workers 4 "
        "--address auto\n"
        "  semalign encode --encoder torchvision-squeezenet1-1 --option weights=sq.safetensors "
        "\\\n      --dataset kermany --root ../shared/data/kermany-cxr --split train "
        "-o train_img.safetensors\n"
        "  semalign encode --encoder torchvision-squeezenet1-1 --option weights=sq.safetensors "
        "\\\n      --manifest ../shared/data/kermany-cxr/labels.csv --columns id=path "
        "-o all_img.safetensors\n", _cmd_encode)
    enc.add_argument("--encoder", required=True, help="registered encoder name")
    enc.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="encoder option (repeatable; values parsed as JSON when possible)")
    add_input_arguments(enc, "items")
    enc.add_argument("--split", help="only items of this split")
    enc.add_argument("--field", choices=("image", "text"),
                     help="manifest field to encode (default: the encoder's modality)")
    enc.add_argument("-o", "--output", required=True, help="output .safetensors file")
    enc.add_argument("--cache-dir", help="embedding cache to use and fill (default: the "
                     "per-user cache, $SEMALIGN_CACHE_DIR or ~/.cache/semalign/embeddings)")
    enc.add_argument("--no-cache", action="store_true",
                     help="encode everything afresh, reading and writing no cache")
    enc.add_argument("--batch-size", type=int, help="items per batch (default: the encoder's)")
    enc.add_argument("--quiet", action="store_true", help="no progress bar")
    enc.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="where to encode: this process (default) or a Ray actor pool "
                          "(needs --cache-dir; see docs/scale.md)")
    enc.add_argument("--workers", type=int,
                     help="Ray actors (default: one per GPU, else one per --threads CPUs)")
    enc.add_argument("--address", help="Ray cluster to join (default: start a local Ray)")
    enc.add_argument("--threads", type=int, default=1,
                     help="torch threads (and CPUs reserved) per CPU actor (default 1)")
    enc.add_argument("--hash-on", choices=("driver", "workers"), default="driver",
                     help="where the content keys are computed with --engine ray: on this "
                          "machine (default; a fully cached run never starts Ray) or on the "
                          "Ray actors, so that the driver reads no image file")
