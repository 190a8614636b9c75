"""``semalign zero-shot``: classify image embeddings by their nearest class prompt."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._common import add_command, load_embeddings, parse_options

__all__ = ["add_parser"]


def _read_prompts(path: str) -> dict[str, Any]:
    from ..fileio import read_text

    source = Path(path)
    text = read_text(source, "prompts file")
    try:
        if source.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise InvalidInputError(f"{path} is not valid JSON/YAML: "
                                f"{' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} must map class names to prompt(s)")
    return data


def _cmd_zero_shot(args: argparse.Namespace) -> int:
    import csv

    from ..align.translator import Translator
    from ..encoding.encoder import get_encoder
    from ..fileio import atomic_path, check_writable
    from ..zeroshot.classifier import ZeroShotClassifier

    check_writable(args.output)
    translator = Translator.load(args.translator)
    images = load_embeddings(args.images)
    text_encoder = get_encoder(args.text_encoder, **parse_options(args.option, "--option"))
    clf = ZeroShotClassifier(translator, text_encoder, _read_prompts(args.prompts),
                             temperature=args.temperature,
                             **({"space": args.space} if args.space else {}))
    proba = clf.predict_proba(images)
    scores = clf.decision_scores(images)
    classes = [str(c) for c in clf.classes_]
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    with atomic_path(args.output) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "prediction", *(f"p_{c}" for c in classes),
                         *(f"score_{c}" for c in classes)])
        # repr, not a rounded format: rounding would tie close probabilities, and the raw
        # scores let `semalign evaluate` rank exactly as the classifier does
        for item_id, p, row, srow in zip(images.ids, pred, proba, scores, strict=True):
            writer.writerow([item_id, p, *(repr(float(v)) for v in row),
                             *(repr(float(v)) for v in srow)])
    print(f"wrote {len(pred)} predictions to {args.output}")
    if len(pred) >= 2 and len(set(pred.tolist())) == 1:
        import sys

        print(f"warning: every one of the {len(pred)} images was predicted {pred[0]!r}; check "
              f"the translator, the prompts and --space before trusting this run",
              file=sys.stderr)
    return 0


def add_parser(sub: Any) -> None:
    """Add ``semalign zero-shot``."""
    zs = add_command(
        sub, "zero-shot", "classify image embeddings by their nearest class prompt",
        "Translate image embeddings with a fitted translator and label each by its "
        "nearest class prompt, embedded with the translator's target text encoder. "
        "Writes a CSV: id, prediction, p_<class>...",
        "  semalign zero-shot --translator translator.safetensors --images "
        "test_img.safetensors \\\n"
        "      --text-encoder all-minilm-l6-v2 --prompts prompts.yaml "
        "-o predictions.csv\n", _cmd_zero_shot)
    zs.add_argument("--translator", required=True,
                    help="fitted translator (.safetensors from `semalign fit`)")
    zs.add_argument("--images", required=True, help="image embeddings (.safetensors)")
    zs.add_argument("--text-encoder", required=True, help="the translator's target encoder")
    zs.add_argument("--option", action="append", metavar="KEY=VALUE",
                    help="text encoder option")
    zs.add_argument("--prompts", required=True,
                    help="YAML/JSON mapping class -> prompt or list of prompts")
    zs.add_argument("--temperature", type=float, default=1.0,
                    help="softmax temperature of the p_<class> columns (default 1.0)")
    zs.add_argument("--space", choices=("normalized", "centered", "raw"),
                    help="where images and prompts are compared (default: "
                         "ZeroShotClassifier's)")
    zs.add_argument("-o", "--output", required=True, help="output CSV")
