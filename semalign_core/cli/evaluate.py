"""``semalign evaluate``: score predictions against a manifest's labels."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._common import add_command
from .inputs import add_input_arguments, read_input

__all__ = ["add_parser"]


def _read_predictions(path: str) -> list[dict[str, str]]:
    import csv
    import io

    from ..fileio import read_text

    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path, "predictions file"),
                                               newline="")))
    except csv.Error as exc:
        raise InvalidInputError(f"{path} is not a readable CSV: {exc}") from None
    if not rows or not {"id", "prediction"} <= set(rows[0]):
        raise InvalidInputError(f"{path} needs columns id, prediction and "
                                f"p_<class> (as written by `semalign zero-shot`)")
    return rows


def _check_coverage(path: str, ids: list[str], truth: dict[str, Any], split: str | None) -> None:
    """One prediction per manifest item: duplicates would count twice, gaps go unnoticed."""
    from collections import Counter

    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    if duplicated:
        raise InvalidInputError(f"{path} has {len(duplicated)} id(s) predicted more than once, "
                                f"e.g. {duplicated[0]!r}; keep one row per item")
    missing = [i for i in ids if i not in truth]
    if missing:
        raise InvalidInputError(f"{len(missing)} prediction id(s) are not in the manifest, "
                                f"e.g. {missing[0]!r}")
    unpredicted = [i for i in truth if i not in set(ids)]
    if unpredicted:
        where = f"split {split!r} of the manifest" if split else "the manifest"
        raise InvalidInputError(f"{path} has no prediction for {len(unpredicted)} of the "
                                f"{len(truth)} items of {where}, e.g. {unpredicted[0]!r}; "
                                f"predict every item or pass --split")


def _scores(args: argparse.Namespace, rows: list[dict[str, str]]
            ) -> tuple[list[str], np.ndarray | None]:
    """The classes and the AUROC scores: the raw ``score_<class>`` columns when present (they
    rank exactly as the classifier does), else the ``p_<class>`` probabilities."""
    prefix = "score_" if any(c.startswith("score_") for c in rows[0]) else "p_"
    classes = [c[len(prefix):] for c in rows[0] if c.startswith(prefix)]
    if not classes:
        return [], None
    try:
        score = np.asarray([[float(r[f"{prefix}{c}"]) for c in classes] for r in rows])
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{args.predictions}: a {prefix}<class> value is not a number "
                                f"({exc})") from None
    if len(classes) != 2:
        return classes, score
    positive = args.positive_label or classes[1]
    if positive not in classes:
        raise InvalidInputError(f"--positive-label {positive!r} is not one of {classes}")
    negative = next(c for c in classes if c != positive)
    pos, neg = classes.index(positive), classes.index(negative)
    if prefix == "score_":  # binary: rank by the score difference, as predict_proba does
        diff = score[:, pos] - score[:, neg]
        return [negative, positive], np.column_stack([-diff, diff])
    return [negative, positive], score[:, [neg, pos]]


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.metrics import classification_metrics

    rows = _read_predictions(args.predictions)
    manifest = read_input(args, check_files=False)
    if args.split:
        manifest = manifest.filter(split=args.split)
    truth = {r.id: r.label for r in manifest}
    _check_coverage(args.predictions, [r["id"] for r in rows], truth, args.split)
    y_true = np.asarray([truth[r["id"]] for r in rows])
    y_pred = np.asarray([r["prediction"] for r in rows])
    classes, score = _scores(args, rows)
    metrics = classification_metrics(y_true, y_pred, score, labels=classes or None,
                                     n_resamples=args.bootstrap, seed=args.seed)
    if args.json:
        print(json.dumps({k: v.to_dict() for k, v in metrics.items()}, indent=2))
    else:
        for name, ci in metrics.items():
            print(f"{name:<18} {ci}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign evaluate``."""
    ev = add_command(
        sub, "evaluate", "score predictions against a manifest's labels",
        "Accuracy, balanced accuracy, macro F1 and AUROC (from the p_<class> columns), "
        "each with a bootstrap confidence interval.",
        "  semalign evaluate --predictions predictions.csv --manifest data/manifest.csv "
        "--split test\n"
        "  semalign evaluate --predictions predictions.csv --manifest data/ --json\n"
        "  semalign evaluate --predictions predictions.csv --dataset kermany "
        "--root ../shared/data/kermany-cxr --split test\n",
        _cmd_evaluate)
    ev.add_argument("--predictions", required=True, help="CSV from `semalign zero-shot`")
    add_input_arguments(ev, "true labels")
    ev.add_argument("--split", help="score only the manifest items of this split")
    ev.add_argument("--positive-label", help="binary AUROC: the positive class")
    ev.add_argument("--bootstrap", type=int, default=1000, help="resamples per CI")
    ev.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
