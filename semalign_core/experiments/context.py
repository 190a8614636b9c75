"""What a run encodes once and every task evaluation reuses: :class:`RunContext`.

:func:`build_context` resolves the datasets, builds both encoders and encodes (through the
embedding cache) the anchor pool and the evaluation set with the source encoder, and the pool's
target side: the items themselves, or, with ``anchors.texts``, the texts they are paired with by
label (a new pairing per seed, :meth:`RunContext.pool_targets`).
"""

from __future__ import annotations

import contextlib
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..data.manifest import Manifest
from ..encoding.encoder import Encoder
from ..errors import InvalidInputError
from .config import ExperimentConfig
from .datasets import DatasetSpec, load_dataset
from .pairing import pair_by_label, split_texts, unit_mean

__all__ = ["Encodings", "PairingTexts", "PoolTargets", "RunContext", "build_context",
           "build_encoder", "check_components"]


@dataclass(frozen=True)
class PairingTexts:
    """The texts anchors are paired with by label (``anchors.texts``), encoded once."""

    embeddings: Embeddings
    labels: dict[str, str]  # text id -> its single label


@dataclass(frozen=True)
class PoolTargets:
    """The pool's target side for one seed.

    ``held_out`` (label -> text ids) are the pairing texts this seed kept out of the pairing;
    ``None`` when the pool pairs item by item.
    """

    embeddings: Embeddings
    held_out: dict[str, list[str]] | None = None


@dataclass(kw_only=True)
class Encodings:
    """Reads a config's datasets and encodes through its cache, counting hits and misses and
    the seconds spent encoding (``encode_seconds``: cache look-ups and encoder calls, not the
    reading of datasets, so a warm run's figure is the cost of the cache alone), and the engine
    each encoding actually ran on (``engines``: a config asking for Ray still encodes texts, and
    encoders it cannot rebuild by name, in this process; ``results.json`` says which)."""

    config: ExperimentConfig
    cache_dir: Path
    progress: bool = False
    cache_stats: dict[str, Any] = field(default_factory=dict)
    engines: dict[str, Any] = field(default_factory=dict)
    encode_seconds: float = 0.0

    def dataset(self, spec: DatasetSpec) -> Manifest:
        """Load a dataset section of the config (paths relative to the config file)."""
        return load_dataset(spec, self.config.resolve_path)

    def encode(self, encoder: Encoder, manifest: Manifest, label: str) -> Embeddings:
        """Encode every item of ``manifest`` (its ``encoder.modality`` field) through the cache;
        ``label`` names the entry in ``results.json``'s cache statistics."""
        from ..encoding.engines import EngineSpec, encode_dataset

        started = time.perf_counter()
        items = manifest.items(encoder.modality)
        engine = self.config.engine
        built = None
        if engine.name == "ray":
            with contextlib.suppress(TypeError):
                built = _BUILT.get(encoder)
        common: dict[str, Any] = {"ids": manifest.ids, "batch_size": self.config.batch_size,
                                  "progress": self.progress}
        if engine.shard_size is not None:
            common["shard_size"] = engine.shard_size
        if engine.name == "ray" and built is None:
            warnings.warn(f"{label}: {type(encoder).__name__} was not built from its registered "
                          f"name (build_encoder), so Ray actors cannot rebuild it; encoding "
                          f"with the local engine", UserWarning, stacklevel=2)
        if built is not None:  # the Ray engine rebuilds the encoder on every actor
            name, options = built
            spec = EngineSpec("ray", workers=engine.workers, address=engine.address,
                              threads=engine.threads, hash_on=engine.hash_on)
            emb = encode_dataset(name, items, self.cache_dir, options=options, engine=spec,
                                 **common)
        else:
            emb = encode_dataset(encoder, items, self.cache_dir, **common)
        self._record(label, emb, started)
        if len(emb) != len(manifest):
            raise InvalidInputError(f"{len(manifest) - len(emb)} {label} item(s) could not be "
                                    f"encoded: {emb.metadata.get('skipped')}")
        return emb

    def encode_texts(self, encoder: Encoder, texts: Sequence[str], label: str) -> Embeddings:
        """Encode distinct ``texts`` through the cache; the ids are the texts themselves."""
        from ..encoding.cache import encode_cached

        started = time.perf_counter()
        unique = list(dict.fromkeys(texts))
        emb = encode_cached(encoder, unique, self.cache_dir, ids=unique,
                            batch_size=self.config.batch_size)
        self._record(label, emb, started)
        return emb

    def _record(self, label: str, emb: Embeddings, started: float) -> None:
        self.cache_stats[label] = emb.metadata["cache"]
        self.engines[label] = emb.metadata.get("engine", {"name": "local"})
        self.encode_seconds += time.perf_counter() - started


@dataclass(kw_only=True)
class RunContext(Encodings):
    """Everything encoded once per run; what tasks read, and encode through (:class:`Encodings`).

    ``pool_source`` / ``eval_source`` are the source encoder's embeddings of the anchor pool and
    the evaluation items; the pool's target side is ``pool_target`` (item pairs) or, with
    ``anchors.texts``, drawn per seed from ``pairing_texts`` (:meth:`pool_targets`).
    """

    source: Encoder
    target: Encoder
    pool: Manifest
    evaluation: Manifest
    pool_source: Embeddings
    eval_source: Embeddings
    pool_target: Embeddings | None = None
    pairing_texts: PairingTexts | None = None
    _targets: dict[int, PoolTargets] = field(default_factory=dict, repr=False)

    # -- the anchor pool -----------------------------------------------------------------------
    def pool_labels(self) -> np.ndarray | None:
        """The pool's labels for the anchor selector (``anchors.use_labels``), if single-label."""
        if self.config.anchors.use_labels and all(len(r.labels) == 1 for r in self.pool):
            return self.pool.labels()
        return None

    def pool_targets(self, seed: int) -> PoolTargets:
        """The pool's target-side embeddings for ``seed`` (drawn once per seed, then reused)."""
        if seed not in self._targets:
            self._targets[seed] = self._draw_targets(seed)
        return self._targets[seed]

    def _draw_targets(self, seed: int) -> PoolTargets:
        spec = self.config.anchors.texts
        if spec is None or self.pairing_texts is None:
            assert self.pool_target is not None
            return PoolTargets(self.pool_target)
        texts = self.pairing_texts.embeddings
        # the pairing changes with the run seed (offset by the spec's own seed)
        pairing, held = split_texts(self.pairing_texts.labels, spec.holdout, spec.seed + seed)
        chosen = pair_by_label(self.pool.labels(), pairing, k=spec.k, seed=spec.seed + seed)
        # rows by position: Embeddings.subset would build a container per anchor (400 x seeds)
        vectors = np.stack([unit_mean(texts.vectors[texts.positions(ids)]) for ids in chosen])
        emb = Embeddings(vectors.astype(np.float32), self.pool.ids, texts.fingerprint,
                         {"paired_texts": chosen})
        return PoolTargets(emb, held)


def build_encoder(name: str, options: Mapping[str, Any], *,
                  base: Callable[[str], Path] | None = None) -> Encoder:
    """``get_encoder(name, **options)``; ``weights`` paths are resolved with ``base``."""
    from ..encoding.encoder import get_encoder

    opts = dict(options)
    weights = opts.get("weights")
    if base is not None and isinstance(weights, str) and (
            "/" in weights or weights.endswith((".safetensors", ".pt", ".pth", ".bin"))
            or "$" in weights):
        resolved = base(weights)
        if resolved.exists():
            opts["weights"] = str(resolved)
    encoder = get_encoder(name, **opts)
    with contextlib.suppress(TypeError):  # an unhashable encoder runs on the local engine
        _BUILT[encoder] = (name, opts)
    return encoder


# How each encoder of a run was built: the Ray engine rebuilds it on every actor from these.
_BUILT: weakref.WeakKeyDictionary[Encoder, tuple[str, dict[str, Any]]] = (
    weakref.WeakKeyDictionary())


def check_components(config: ExperimentConfig) -> None:
    """Build the selector and the solver and parse the normalisers once, before any encoding:
    a typo in a name or a parameter then costs seconds, not the minutes encoding takes."""
    from ..align.anchors import get_anchor_selector
    from ..align.normalizers import parse_steps
    from ..align.solvers import get_solver

    get_anchor_selector(config.anchors.selector.name, seed=config.seeds[0],
                        **config.anchors.selector.params)
    get_solver(config.translator.solver, **(config.translator.params or {}))
    parse_steps(config.translator.source_norm)
    parse_steps(config.translator.target_norm)


def build_context(config: ExperimentConfig, *, progress: bool = False) -> RunContext:
    """Build the encoders, read the datasets and encode the pool and evaluation items."""
    resolve = config.resolve_path
    cache_dir = config.resolved_cache_dir()  # one per user by default: runs share encodings
    specs = config.encoders
    source = build_encoder(specs.source.name, specs.source.options, base=resolve)
    target = build_encoder(specs.target.name, specs.target.options, base=resolve)
    check_components(config)
    enc = Encodings(config=config, cache_dir=cache_dir, progress=progress)
    pool, evaluation = enc.dataset(config.anchors.dataset), enc.dataset(config.evaluation.dataset)
    too_many = [n for n in config.anchors.counts if n > len(pool)]
    if too_many:
        raise InvalidInputError(f"anchor count(s) {too_many} exceed the pool of {len(pool)} "
                                f"items")
    pool_source = enc.encode(source, pool, "pool_source")
    eval_source = enc.encode(source, evaluation, "eval_source")
    pool_target, pairing = None, None
    if config.anchors.texts is None:
        pool_target = enc.encode(target, pool, "pool_target")
    else:
        texts = enc.dataset(config.anchors.texts.dataset).filter(has=("text", "labels"))
        pairing = PairingTexts(enc.encode(target, texts, "pairing_texts"),
                               {r.id: r.labels[0] for r in texts if len(r.labels) == 1})
    return RunContext(config=config, cache_dir=cache_dir, progress=progress,
                      cache_stats=enc.cache_stats, engines=enc.engines,
                      encode_seconds=enc.encode_seconds,
                      source=source, target=target, pool=pool,
                      evaluation=evaluation, pool_source=pool_source, eval_source=eval_source,
                      pool_target=pool_target, pairing_texts=pairing)
