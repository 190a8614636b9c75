"""The Ray engine of :func:`~semalign_core.encoding.engines.encode_dataset` (Ray Data batch
inference with an actor pool).

The driver hashes every item (:func:`~semalign_core.encoding.content.content_keys`), looks the
keys up in the embedding cache (:class:`~semalign_core.encoding.cache_run.CachePlan`, shared with
the local engine) and puts only the misses into a Ray Dataset, built from two Arrow columns (the
distinct-content number and the item): a cached item is never sent to a worker. Each actor of
the pool builds the encoder once from its registered name and options (encoders are not
shipped) and encodes whole cache shards with the plugin's own preprocessing. The driver writes
every result block as one cache shard, atomically and checksummed, as soon as it arrives, and
copies its vectors into the preallocated output, so a killed run resumes from the shards already
written; a block that reaches the driver twice (a retried task) is written once.

Ray is imported inside functions only; this module is imported only when ``engine="ray"``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..errors import ImageLoadError, InvalidInputError, PluginError, SemalignError
from .cache_run import CachePlan
from .content import content_keys

__all__ = ["encode_on_ray", "ray_session"]

_OK, _SKIPPED, _FAILED = 0, 1, 2


class _EncodeActor:
    """One Ray actor: builds the encoder once, then encodes one batch of cache misses per call."""

    def __init__(self, name: str, options: dict[str, Any], fingerprint_id: str, threads: int,
                 batch_size: int | None, plugin_modules: Sequence[str]) -> None:
        import importlib

        from ..plugins.manager import plugin_infos, register_plugin
        from .encoder import get_encoder

        os.environ["OMP_NUM_THREADS"] = str(threads)
        known = {info.name for info in plugin_infos()}
        for module in plugin_modules:
            if module not in known:
                register_plugin(importlib.import_module(module), name=module)
        self.encoder = get_encoder(name, **options)
        if self.encoder.fingerprint.id != fingerprint_id:
            # A worker with other weights or plugin versions would poison the shared cache.
            raise PluginError(f"encoder {name!r} on this Ray worker has fingerprint "
                              f"{self.encoder.fingerprint.id}, the driver's is {fingerprint_id}; "
                              f"install the same plugins and weights on every node")
        self.encoder.load()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = np.asarray(batch["row"], np.int64)  # the driver's distinct-content numbers
        items = [str(i) for i in batch["item"]]
        n, dim = len(rows), self.encoder.fingerprint.dim
        vectors = np.zeros((n, dim), np.float32)
        status = np.full(n, _OK, np.int8)
        reason = np.full(n, "", dtype=object)
        try:
            emb = self.encoder.encode(items, ids=[str(i) for i in range(n)],
                                      batch_size=self.batch_size, progress=False)
        except ImageLoadError as exc:  # skip_errors is off: the driver raises it
            status[:] = _FAILED
            reason[:] = f"{exc}\x00{exc.path or ''}"
            return {"row": rows, "vector": vectors, "status": status, "reason": reason}
        status[:] = _FAILED  # until the encoder returned or skipped the row
        at = np.array([int(i) for i in emb.ids], np.int64)
        vectors[at] = emb.vectors
        status[at] = _OK
        for entry in emb.metadata.get("skipped", []):
            status[entry["index"]] = _SKIPPED
            reason[entry["index"]] = str(entry.get("reason", ""))
        if (status == _FAILED).any():
            raise PluginError(f"{type(self.encoder).__name__} returned fewer vectors than "
                              f"items without reporting skipped items")
        return {"row": rows, "vector": vectors, "status": status, "reason": reason}


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """The running Ray of this process, else one joined (``address``) or started here."""
    try:
        import ray
    except ImportError as exc:
        raise InvalidInputError("engine 'ray' needs Ray: pip install 'semalign-core[ray]'"
                                ) from exc
    if ray.is_initialized():
        yield ray
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _pool_args(ray: Any, workers: int | None, threads: int) -> dict[str, Any]:
    """One GPU per actor when the cluster has GPUs, else ``threads`` CPUs per actor."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if workers is None:
        workers = gpus if gpus else max(1, int(resources.get("CPU", 1)) // threads)
    _warn_if_no_node_fits(ray, threads, gpus)
    args: dict[str, Any] = {"compute": ray.data.ActorPoolStrategy(size=workers),
                            "num_cpus": threads}
    if gpus:
        args["num_gpus"] = 1
    return args


def _warn_if_no_node_fits(ray: Any, threads: int, gpus: int) -> None:
    """Warn now when no live node can host one actor: Ray would wait for one forever (its own
    warning comes a minute later, in its log). Only a warning: an autoscaling cluster (e.g. a
    head node with no CPUs) adds such nodes once the actors ask for them."""
    need = {"CPU": threads, **({"GPU": 1} if gpus else {})}
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if any(all(node.get(k, 0) >= v for k, v in need.items()) for node in nodes):
        return
    largest = max((int(node.get("CPU", 0)) for node in nodes), default=0)
    warnings.warn(f"no node of the Ray cluster can host one encoding actor ({threads} CPU(s)"
                  f"{' and a GPU' if gpus else ''}; the largest node has {largest} CPU(s)): "
                  f"unless the cluster scales up, this run waits forever; lower --threads "
                  f"(config: engine.threads) or add a larger node", UserWarning, stacklevel=6)


def _unwrap(exc: BaseException) -> BaseException:
    """The semalign error a Ray task raised, if any (Ray wraps task errors in its own)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SemalignError):
            return seen
        seen = seen.__cause__ or getattr(seen, "cause", None)
    return exc


def _write_results(batches: Any, plan: CachePlan, total: int, progress: bool,
                   on_shard: Callable[[int, int], None] | None = None) -> bool:
    """Write each result block as one shard; return whether any item was skipped."""
    from tqdm.auto import tqdm

    skipped, done = False, 0
    with tqdm(total=total, desc="encoding (ray)", unit="item", disable=not progress) as bar:
        for batch in batches:
            status, rows = batch["status"], np.asarray(batch["row"], np.int64)
            failed = np.flatnonzero(status == _FAILED)
            if failed.size:
                message, _, path = str(batch["reason"][failed[0]]).partition("\x00")
                raise ImageLoadError(message, path or None)
            ok = status == _OK
            if ok.any():  # a block delivered twice (a retried task) is written once
                plan.record(rows[ok], batch["vector"][ok])
            for i in np.flatnonzero(status == _SKIPPED):
                skipped = True
                warnings.warn(f"skipping unreadable image: {batch['reason'][i]}", UserWarning,
                              stacklevel=3)
            bar.update(len(rows))
            done += len(rows)  # not bar.n: a disabled bar does not count
            if on_shard is not None:
                on_shard(done, total)
    return skipped


def _dataset(ray: Any, plan: CachePlan, texts: Callable[[int], str], shard_size: int) -> Any:
    """The misses as a Ray Dataset of Arrow blocks (one a shard): a distinct-content number and
    an item text per row, no Python dict per item."""
    todo = plan.todo
    # One block per shard: per-row blocks would cost a scheduling round-trip per item.
    return _arrow_blocks(ray, "row", todo, (texts(i) for i in plan.first[todo].tolist()),
                         shard_size)


def _arrow_blocks(ray: Any, column: str, numbers: np.ndarray, texts: Iterable[str],
                  block: int) -> Any:
    """A Ray Dataset of Arrow blocks of ``block`` rows: ``numbers`` (int64) under ``column`` and
    the item ``texts`` under ``"item"``, no Python object per row."""
    import pyarrow as pa

    n = len(numbers)
    table = pa.table({column: pa.array(np.asarray(numbers, np.int64)),
                      "item": pa.array(texts, pa.string(), size=n)})
    return ray.data.from_arrow([table.slice(lo, block) for lo in range(0, n, block)] or [table])


def _hash_batch(batch: dict[str, np.ndarray], modality: str) -> dict[str, np.ndarray]:
    """A Ray task: the content keys of one block of items. An unreadable item comes back as
    data (Ray Data would wrap a raised error beyond recognition) and the driver raises it."""
    items = [str(i) for i in batch["item"]]
    pos, error = np.asarray(batch["pos"], np.int64), ""
    try:
        keys = content_keys(items, modality)
    except InvalidInputError as exc:
        keys, error = np.zeros((len(items), 32), np.uint8), str(exc)
    return {"pos": pos, "key": keys, "error": np.full(len(items), error, dtype=object)}


def _keys_on_ray(ray: Any, items: Sequence[Any], modality: str, block: int) -> np.ndarray:
    """Every item's content key, hashed in Ray tasks (``hash_on="workers"``): the driver sends
    the item texts as Arrow blocks and receives (m, 32) uint8 keys."""
    n = len(items)
    dataset = _arrow_blocks(ray, "pos", np.arange(n), (_item_text(i, modality) for i in items),
                            block)
    keys, seen = np.zeros((n, 32), np.uint8), np.zeros(n, bool)
    try:
        for batch in dataset.map_batches(_hash_batch, fn_kwargs={"modality": modality},
                                         batch_size=None, batch_format="numpy").iter_batches(
                                             batch_size=None, batch_format="numpy"):
            if len(batch["error"]) and batch["error"][0]:
                raise InvalidInputError(str(batch["error"][0]))
            keys[batch["pos"]], seen[batch["pos"]] = batch["key"], True
    except Exception as exc:
        cause = _unwrap(exc)
        if cause is exc:
            raise
        raise cause from exc
    if not seen.all():
        raise PluginError(f"Ray returned content keys for {int(seen.sum())} of {n} items")
    return keys


def _run(ray: Any, name: str, options: dict[str, Any], plan: CachePlan,
         texts: Callable[[int], str], spec: Any, batch_size: int | None, shard_size: int,
         progress: bool, on_shard: Callable[[int, int], None] | None) -> tuple[bool, int]:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows one bar, counting items
    pool = _pool_args(ray, spec.workers, spec.threads)
    results = _dataset(ray, plan, texts, shard_size).map_batches(
        _EncodeActor, batch_size=shard_size, batch_format="numpy",
        fn_constructor_kwargs={"name": name, "options": options,
                               "fingerprint_id": plan.cache.fingerprint.id,
                               "threads": spec.threads, "batch_size": batch_size,
                               "plugin_modules": tuple(spec.plugin_modules)}, **pool)
    try:
        skipped = _write_results(results.iter_batches(batch_size=None, batch_format="numpy"),
                                 plan, len(plan.todo), progress, on_shard)
    except Exception as exc:
        cause = _unwrap(exc)
        if cause is exc:
            raise
        raise cause from exc
    return skipped, pool["compute"].max_size


def _item_text(item: Any, modality: str) -> str:
    if modality == "image" and isinstance(item, str | os.PathLike):
        return os.fspath(Path(item).expanduser().resolve())
    if modality == "text" and isinstance(item, str):
        return item
    raise InvalidInputError(f"engine 'ray' takes image paths or texts (items travel to other "
                            f"machines); got {type(item).__name__}; encode in-memory images "
                            f"with engine 'local'")


def encode_on_ray(name: str, options: dict[str, Any], items: Sequence[Any],
                  cache_dir: str | os.PathLike[str], spec: Any, *, ids: Sequence[str] | None,
                  batch_size: int | None, shard_size: int, progress: bool,
                  on_shard: Callable[[int, int], None] | None = None) -> Embeddings:
    """Encode ``items`` on a Ray actor pool through the cache (see the module docstring)."""
    from .encoder import get_encoder

    if not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive int, got {shard_size!r}")
    encoder = get_encoder(name, **options)  # cheap: weights load on first use, never here
    ids = encoder._default_ids(items) if ids is None else [str(i) for i in ids]
    if len(ids) != len(items):
        raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
    modality = encoder.modality
    skipped, workers = False, 0
    with contextlib.ExitStack() as stack:
        ray = (stack.enter_context(ray_session(spec.address))
               if getattr(spec, "hash_on", "driver") == "workers" else None)
        # Each item's text is made twice (hashed, sent for a miss) rather than held for all.
        keys = (_keys_on_ray(ray, items, modality, shard_size) if ray is not None else
                content_keys((_item_text(item, modality) for item in items), modality,
                             len(items)))
        plan = CachePlan(cache_dir, encoder.fingerprint, keys)
        if len(plan.todo):
            ray = ray if ray is not None else stack.enter_context(ray_session(spec.address))
            skipped, workers = _run(ray, name, options, plan,
                                    lambda i: _item_text(items[i], modality), spec, batch_size,
                                    shard_size, progress, on_shard)
    return plan.embeddings(ids, skipped, {"engine": {"name": "ray", "workers": workers}})
