"""Where ``encode`` and ``evaluate`` read their items: a manifest file or a registered dataset.

``--manifest labels.csv --columns id=path`` reads any CSV/Parquet file, naming the columns that
hold the canonical fields; ``--dataset kermany --root DIR`` goes through the dataset registry
(:func:`semalign_core.get_dataset`), whose readers know their layout. The ids are the same
either way for the Kermany data (the image path relative to its folder), so embeddings made one
way pair with labels read the other.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInputError
from ._common import parse_options

__all__ = ["add_input_arguments", "read_input"]


def add_input_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--manifest``/``--columns`` and ``--dataset``/``--root``/``--dataset-option``."""
    group = parser.add_argument_group(f"{what} (give --manifest, or --dataset with --root)")
    group.add_argument("--manifest", help="CSV/Parquet manifest or image folder")
    group.add_argument("--columns", nargs="+", metavar="FIELD=COLUMN",
                       help="the manifest's column for each field (id, image, text, label, "
                            "split, group), e.g. --columns id=path")
    group.add_argument("--dataset", help="registered dataset, e.g. kermany (`semalign plugins` "
                                         "lists them)")
    group.add_argument("--root", help="the dataset's folder or file (with --dataset)")
    group.add_argument("--dataset-option", action="append", metavar="KEY=VALUE",
                       help="dataset reader option (repeatable; JSON values where possible)")


def _columns(pairs: Sequence[str] | None) -> dict[str, str]:
    # Column names stay strings (a column called "1" is not the number 1), unlike --option.
    out: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise InvalidInputError(f"--columns expects FIELD=COLUMN, got {pair!r}")
        out[field] = column
    return out


def read_input(args: argparse.Namespace, *, check_files: bool = True) -> Any:
    """The :class:`~semalign_core.data.manifest.Manifest` the arguments name.

    Raises
    ------
    InvalidInputError
        Neither or both of ``--manifest`` and ``--dataset``; ``--dataset`` without ``--root``;
        options of one used with the other.
    """
    if bool(args.manifest) == bool(args.dataset):
        raise InvalidInputError("give the items as --manifest PATH, or as --dataset NAME "
                                "--root PATH (e.g. --dataset kermany --root "
                                "../shared/data/kermany-cxr)")
    if args.dataset:
        if not args.root:
            raise InvalidInputError(f"--dataset {args.dataset} needs --root, the folder or file "
                                    f"the dataset is read from")
        if args.columns:
            raise InvalidInputError("--columns maps a --manifest file's columns; a --dataset "
                                    "reader knows its own layout")
        from ..data.manifest import get_dataset

        return get_dataset(args.dataset, args.root,
                           **parse_options(args.dataset_option, "--dataset-option"))
    if args.root or args.dataset_option:
        raise InvalidInputError("--root and --dataset-option go with --dataset; for a "
                                "--manifest, relative image paths are read from its folder")
    from ..data.readers import read_manifest

    return read_manifest(args.manifest, columns=_columns(args.columns) or None,
                         check_files=check_files)
