"""The ``semalign`` command.

Every subcommand exits 0 on success and non-zero with a one-line ``error: ...`` on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidInputError, SemalignError

__all__ = ["main"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    from ..plugins.manager import plugin_infos
    from ..plugins.registry import list_solvers

    infos = plugin_infos()
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
    else:
        rows = [("distribution", "version", "hooks", "registered", "status")]
        for info in infos:
            registered = "; ".join(f"{kind}: {', '.join(names)}"
                                   for kind, names in sorted(info.registered.items()))
            status = info.status if not info.error else f"{info.status} ({info.error})"
            rows.append((info.name, info.version or "-", ", ".join(info.hooks) or "-",
                         registered or "-", status))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                  + "  " + row[4])
    list_solvers()  # surfaces a DuplicatePluginError as a non-zero exit after the listing
    return 0


def _parse_options(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as JSON when they can be (numbers, booleans)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{flag} expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _echo(args: argparse.Namespace) -> Any:
    return None if getattr(args, "quiet", False) else (lambda m: print(m, flush=True))


def _cmd_run(args: argparse.Namespace) -> int:
    from ..experiments.config import load_config, parse_config
    from ..experiments.report import format_table
    from ..experiments.runner import run_experiment

    config = load_config(args.config)
    if args.output_dir:
        data = config.to_dict()
        data["output_dir"] = str(Path(args.output_dir).resolve())
        config = parse_config(data, base_dir=config._base_dir(), source=args.config)
    result = run_experiment(config, progress=args.progress, echo=_echo(args),
                            write_report=True)
    print(format_table(result.document))
    print(f"report: {result.output_dir / 'summary.md'}")
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    from ..data.manifest import read_manifest
    from ..encoding.cache import encode_cached
    from ..plugins.registry import get_encoder

    encoder = get_encoder(args.encoder, **_parse_options(args.option, "--option"))
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


def _load_embeddings(path: str) -> Any:
    from ..align.embeddings import Embeddings

    if not Path(path).is_file():
        raise InvalidInputError(f"embeddings file {path} does not exist")
    return Embeddings.load(path)


def _cmd_fit(args: argparse.Namespace) -> int:
    from ..align.translator import Translator

    source = _load_embeddings(args.source)
    target = _load_embeddings(args.target)
    common = [i for i in source.ids if i in set(target.ids)]
    if len(common) < 2:
        raise InvalidInputError(f"{args.source} and {args.target} share {len(common)} id(s); "
                                f"anchors are the items whose ids appear in both")
    src, tgt = source.subset(common), target.subset(common)
    if args.anchors is not None:
        from ..plugins.registry import get_anchor_selector

        selector = get_anchor_selector(args.selector, seed=args.seed)
        index = selector.select(src.vectors, args.anchors)
        src, tgt = src.subset(index), tgt.subset(index)
    translator = Translator(args.solver, source_preprocessing=args.source_preprocessing,
                            target_preprocessing=args.target_preprocessing,
                            solver_params=_parse_options(args.param, "--param") or None)
    translator.fit(src, tgt)
    translator.save(args.output)
    print(f"fitted {translator!r} on {len(src)} anchors; wrote {args.output}")
    return 0


def _read_prompts(path: str) -> dict[str, Any]:
    source = Path(path)
    if not source.is_file():
        raise InvalidInputError(f"prompts file {path} does not exist")
    text = source.read_text(encoding="utf-8")
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
    from ..plugins.registry import get_encoder
    from ..zeroshot.classifier import ZeroShotClassifier

    translator = Translator.load(args.translator)
    images = _load_embeddings(args.images)
    text_encoder = get_encoder(args.text_encoder, **_parse_options(args.option, "--option"))
    clf = ZeroShotClassifier(translator, text_encoder, _read_prompts(args.prompts),
                             temperature=args.temperature)
    proba = clf.predict_proba(images)
    classes = [str(c) for c in clf.classes_]
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    from ..fileio import atomic_path

    with atomic_path(args.output) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "prediction", *(f"p_{c}" for c in classes)])
        for item_id, p, row in zip(images.ids, pred, proba, strict=True):
            writer.writerow([item_id, p, *(f"{v:.6g}" for v in row)])
    print(f"wrote {len(pred)} predictions to {args.output}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import csv

    from ..data.manifest import read_manifest
    from ..evaluation.metrics import classification_metrics

    if not Path(args.predictions).is_file():
        raise InvalidInputError(f"predictions file {args.predictions} does not exist")
    with open(args.predictions, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"id", "prediction"} <= set(rows[0]):
        raise InvalidInputError(f"{args.predictions} needs columns id, prediction and "
                                f"p_<class> (as written by `semalign zero-shot`)")
    manifest = read_manifest(args.manifest, check_files=False)
    if args.split:
        manifest = manifest.filter(split=args.split)
    truth = {r.id: r.label for r in manifest}
    missing = [r["id"] for r in rows if r["id"] not in truth]
    if missing:
        raise InvalidInputError(f"{len(missing)} prediction id(s) are not in the manifest, "
                                f"e.g. {missing[0]!r}")
    classes = [c[2:] for c in rows[0] if c.startswith("p_")]
    y_true = np.asarray([truth[r["id"]] for r in rows])
    y_pred = np.asarray([r["prediction"] for r in rows])
    score = None
    if classes:
        score = np.asarray([[float(r[f"p_{c}"]) for c in classes] for r in rows])
        if len(classes) == 2:
            positive = args.positive_label or classes[1]
            if positive not in classes:
                raise InvalidInputError(f"--positive-label {positive!r} is not one of {classes}")
            negative = next(c for c in classes if c != positive)
            classes = [negative, positive]
            score = score[:, [classes.index(negative), classes.index(positive)]]
    metrics = classification_metrics(y_true, y_pred, score, labels=classes or None,
                                     n_resamples=args.bootstrap, seed=args.seed)
    if args.json:
        print(json.dumps({k: v.to_dict() for k, v in metrics.items()}, indent=2))
    else:
        for name, ci in metrics.items():
            print(f"{name:<18} {ci}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..data.sources import download_demo_inputs, find_shared_dir, shared_demo_inputs
    from ..experiments.config import parse_config
    from ..experiments.recipes import pneumonia_zero_shot_config
    from ..experiments.report import format_table
    from ..experiments.runner import run_experiment

    if args.download:
        inputs = download_demo_inputs(args.data_dir)
    else:
        inputs = shared_demo_inputs(find_shared_dir(args.shared_dir))
    say = _echo(args)
    if say:
        say(f"inputs: {inputs.origin}")
    counts = args.anchors[0] if len(args.anchors) == 1 else args.anchors
    data = pneumonia_zero_shot_config(
        kermany=inputs.kermany, openi_reports=inputs.openi_reports,
        vision_weights=inputs.vision_weights, output_dir=Path(args.output_dir).resolve(),
        anchors=counts, seeds=list(range(args.seeds)), cache_dir=args.cache_dir,
        bootstrap=args.bootstrap, device=args.device, progress=args.progress,
        calibration=args.calibration)
    if args.write_config:
        import yaml

        Path(args.write_config).write_text(yaml.safe_dump(data, sort_keys=False))
        print(f"wrote the demo's config to {args.write_config} (run it with `semalign run`)")
        return 0
    result = run_experiment(parse_config(data, source="semalign demo"), progress=args.progress,
                            echo=say)
    doc = result.document
    print()
    print(f"Zero-shot pneumonia vs. normal on {doc['data']['evaluation']['items']} Kermany test "
          f"X-rays; mean [95% CI] over {len(data['seeds'])} anchor seeds")
    print(format_table(doc))
    print(f"\nreport: {result.output_dir / 'summary.md'}  ({doc['timing']['total_s']:.0f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semalign",
        description="Align the latent spaces of encoders that were never trained together.",
        epilog="Examples:\n  semalign demo\n  semalign plugins\n  semalign run "
               "examples/pneumonia_zero_shot.yaml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"semalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = sub.add_parser(
        "plugins", help="list installed plugins and what they register",
        description="List every plugin found (built-in and entry points), its version, the "
                    "hooks it implements, the names it registered and whether it loaded.",
        epilog="Examples:\n  semalign plugins\n  semalign plugins --json | jq '.[].name'\n"
               "  SEMALIGN_DISABLE_PLUGINS=semalign-clip semalign plugins\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(func=_cmd_plugins)
    _add_experiment_commands(sub)
    return parser


def _sub(sub: Any, name: str, help: str, description: str, examples: str
         ) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description,
                          epilog="Examples:\n" + examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_experiment_commands(sub: Any) -> None:
    run = _sub(sub, "run", "run an experiment from a YAML/JSON config",
               "Encode (through the embedding cache), fit translators for every anchor count "
               "and seed, evaluate the task and write results.json, summary.md and plots.",
               "  semalign run examples/pneumonia_zero_shot.yaml\n"
               "  semalign run my.yaml --output-dir runs/today --quiet\n")
    run.add_argument("config", help="experiment config (.yaml, .yml or .json)")
    run.add_argument("--output-dir", help="override the config's output_dir")
    run.add_argument("--progress", action="store_true", help="show encoding progress bars")
    run.add_argument("--quiet", action="store_true", help="print only the result table")
    run.set_defaults(func=_cmd_run)

    enc = _sub(sub, "encode", "encode a manifest's images or texts to an embeddings file",
               "Encode every item of a manifest (CSV, Parquet or image folder) with a "
               "registered encoder; ids are the manifest ids.",
               "  semalign encode --encoder torchvision-squeezenet1_1 "
               "--option weights=squeezenet.safetensors \\\n"
               "      --manifest data/manifest.csv --split train -o train_img.safetensors\n"
               "  semalign encode --encoder all-minilm-l6-v2 --manifest data/manifest.csv "
               "-o reports.safetensors --cache-dir ~/.cache/semalign/emb\n")
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
    enc.set_defaults(func=_cmd_encode)

    fit = _sub(sub, "fit", "fit a translator on paired embeddings",
               "Fit a Translator from source to target embeddings; anchors are the items whose "
               "ids occur in both files (optionally a selected subset).",
               "  semalign fit --source img.safetensors --target txt.safetensors "
               "-o translator.safetensors\n"
               "  semalign fit --source img.safetensors --target txt.safetensors --solver "
               "affine --param alpha=300 \\\n"
               "      --target-preprocessing center --anchors 100 --selector kmeans "
               "-o translator.safetensors\n")
    fit.add_argument("--source", required=True, help="source embeddings (.safetensors)")
    fit.add_argument("--target", required=True, help="target embeddings (.safetensors)")
    fit.add_argument("--solver", default="affine", help="registered solver (default affine)")
    fit.add_argument("--param", action="append", metavar="KEY=VALUE", help="solver parameter")
    fit.add_argument("--source-preprocessing", default="standard")
    fit.add_argument("--target-preprocessing", default="standard")
    fit.add_argument("--anchors", type=int, help="select this many anchors from the pairs")
    fit.add_argument("--selector", default="random", help="anchor selector (with --anchors)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("-o", "--output", required=True, help="output translator file")
    fit.set_defaults(func=_cmd_fit)

    zs = _sub(sub, "zero-shot", "classify image embeddings by their nearest class prompt",
              "Translate image embeddings with a fitted translator and label each by its "
              "nearest class prompt, embedded with the translator's target text encoder. "
              "Writes a CSV: id, prediction, p_<class>...",
              "  semalign zero-shot --translator translator.safetensors --images "
              "test_img.safetensors \\\n"
              "      --text-encoder all-minilm-l6-v2 --prompts prompts.yaml "
              "-o predictions.csv\n")
    zs.add_argument("--translator", required=True)
    zs.add_argument("--images", required=True, help="image embeddings (.safetensors)")
    zs.add_argument("--text-encoder", required=True, help="the translator's target encoder")
    zs.add_argument("--option", action="append", metavar="KEY=VALUE",
                    help="text encoder option")
    zs.add_argument("--prompts", required=True,
                    help="YAML/JSON mapping class -> prompt or list of prompts")
    zs.add_argument("--temperature", type=float, default=0.01)
    zs.add_argument("-o", "--output", required=True, help="output CSV")
    zs.set_defaults(func=_cmd_zero_shot)

    ev = _sub(sub, "evaluate", "score predictions against a manifest's labels",
              "Accuracy, balanced accuracy, macro F1 and AUROC (from the p_<class> columns), "
              "each with a bootstrap confidence interval.",
              "  semalign evaluate --predictions predictions.csv --manifest data/manifest.csv "
              "--split test\n"
              "  semalign evaluate --predictions predictions.csv --manifest data/ --json\n")
    ev.add_argument("--predictions", required=True, help="CSV from `semalign zero-shot`")
    ev.add_argument("--manifest", required=True, help="manifest with the true labels")
    ev.add_argument("--split")
    ev.add_argument("--positive-label", help="binary AUROC: the positive class")
    ev.add_argument("--bootstrap", type=int, default=1000, help="resamples per CI")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_cmd_evaluate)

    demo = _sub(sub, "demo", "zero-shot pneumonia classification on real chest X-rays",
                "An ImageNet SqueezeNet 1.1 that never saw text, aligned to all-MiniLM-L6-v2 "
                "with 100 anchors (Kermany train images paired with Open-i reports of their "
                "class), labels the 624 Kermany test X-rays normal vs. pneumonia. Prints the "
                "table next to a supervised probe and chance. Inputs come from the shared "
                "folder (--shared-dir, $SEMALIGN_SHARED_DIR, ../shared), or with --download "
                "from their official sources (see docs/experiments.md).",
                "  semalign demo\n"
                "  semalign demo --shared-dir /data/shared --anchors 25 100 400\n"
                "  semalign demo --download            # needs internet\n"
                "  semalign demo --write-config demo.yaml && semalign run demo.yaml\n")
    demo.add_argument("--shared-dir", help="folder holding data/ and models/")
    demo.add_argument("--download", action="store_true",
                      help="fetch inputs from their official sources (needs internet)")
    demo.add_argument("--data-dir", help="where --download stores files")
    demo.add_argument("--output-dir", default="semalign-demo", help="report folder")
    demo.add_argument("--cache-dir", help="embedding cache (default <output-dir>/cache)")
    demo.add_argument("--anchors", type=int, nargs="+", default=[100])
    demo.add_argument("--seeds", type=int, default=5, help="number of anchor seeds")
    demo.add_argument("--bootstrap", type=int, default=500, help="resamples per CI")
    demo.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    demo.add_argument("--calibration", choices=("none", "gmm"), default="none",
                      help="'gmm': fit the decision threshold to the unlabeled test batch "
                           "(transductive; see docs/zeroshot.md)")
    demo.add_argument("--write-config", metavar="PATH",
                      help="write the equivalent `semalign run` config and exit")
    demo.add_argument("--progress", action="store_true")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_cmd_demo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except SemalignError as exc:
        # one line, whatever the message: scripts grep for it and humans read it first
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
