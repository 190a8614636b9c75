"""The Ray engine of :func:`~semalign_core.encoding.engines.encode_dataset`: a pool of Ray
actors, fed window by window from the driver.

The driver plans the run in windows (:class:`~semalign_core.encoding.cache_run.CacheRun`): it
hashes a window's items (or, with ``hash_on="workers"``, has the actors hash them), looks the
keys up in the embedding cache and sends only the misses, one cache shard of items per task, to
the actors: a cached item is never sent to a worker. Each actor builds the encoder once from its
registered name and options (encoders are not shipped) and encodes with the plugin's own
preprocessing. The driver writes each result as one cache shard, atomically and checksummed, as
soon as it arrives, and copies its vectors into the output; a killed run resumes from the shards
already written.

Why actors fed by the driver rather than a Ray Data pipeline: Ray Data puts every input block
(or read task) into the object store when a dataset starts executing, and starts a fresh actor
pool per dataset. The driver would then hold the whole run's input and plan at once (measured:
~760 bytes an item on top of the caller's data, against ~190 locally) and a windowed run would
pay the actors' start-up (~12 s with torch) once per window. Here at most ``_DEPTH`` tasks are
queued per actor, each built only when an actor can take it, and the next window is planned
while the last tasks of the previous one run. A worker that dies is restarted and its task
retried by Ray itself (``max_restarts=-1``, ``max_task_retries=-1``). Those retries are at least
once (a task that finished just before the crash may run again), but the driver gets one result
per task and never writes a content twice.

Ray is imported inside functions only; this module is imported only when ``engine="ray"``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..errors import ImageLoadError, InvalidInputError, PluginError, SemalignError
from .cache_run import CachePlan, CacheRun
from .content import content_keys

__all__ = ["encode_on_ray", "ray_session"]

_OK, _SKIPPED, _FAILED = 0, 1, 2
#: Tasks queued per actor: one running, one waiting, so an actor never idles for a round trip.
_DEPTH = 2


class _EncodeActor:
    """One Ray actor: builds the encoder once; hashes blocks of items, encodes blocks of misses."""

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
        self.threads, self.batch_size, self.loaded = threads, batch_size, False

    def ready(self) -> bool:
        """Returns once the actor has started (its tasks run in order, after the constructor)."""
        return True

    def keys(self, items: list[str]) -> tuple[np.ndarray, str]:
        """The content keys of ``items`` ((m, 32) uint8), or an error message: an unreadable
        item comes back as data, and the driver raises it as the driver would have."""
        try:
            return content_keys(items, self.encoder.modality), ""
        except InvalidInputError as exc:
            return np.zeros((0, 32), np.uint8), str(exc)

    def encode(self, rows: np.ndarray, items: list[str]) -> dict[str, np.ndarray]:
        """Encode one block; ``rows`` (the driver's distinct-content numbers) come back with
        each row's vector and status (encoded, skipped, failed: an ImageLoadError with
        ``skip_errors`` off, raised by the driver)."""
        if not self.loaded:  # weights load on the first block: a hash-only run never loads them
            self.encoder.load()
            if "torch" in sys.modules:
                sys.modules["torch"].set_num_threads(self.threads)
            self.loaded = True
        n, dim = len(rows), self.encoder.fingerprint.dim
        vectors = np.zeros((n, dim), np.float32)
        status = np.full(n, _OK, np.int8)
        reason = [""] * n
        try:
            emb = self.encoder.encode(items, ids=[str(i) for i in range(n)],
                                      batch_size=self.batch_size, progress=False)
        except ImageLoadError as exc:  # skip_errors is off: the driver raises it
            status[:] = _FAILED
            return {"row": rows, "vector": vectors, "status": status,
                    "reason": [f"{exc}\x00{exc.path or ''}"] * n}
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


@dataclass(frozen=True)
class PoolShape:
    """How many encoding actors, and what each reserves."""

    workers: int
    num_cpus: int
    num_gpus: int


def _pool_shape(ray: Any, workers: int | None, threads: int) -> PoolShape:
    """One GPU per actor when the cluster has GPUs, else ``threads`` CPUs per actor."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if workers is None:
        workers = gpus if gpus else max(1, int(resources.get("CPU", 1)) // threads)
    _warn_if_no_node_fits(ray, threads, gpus)
    return PoolShape(workers=workers, num_cpus=threads, num_gpus=1 if gpus else 0)


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


class _Pool:
    """Encoding actors and the tasks queued on them: at most ``_DEPTH`` per actor, each sent
    to the least busy actor that has started; a finished task's callback runs on the driver,
    in this thread.

    Tasks go only to actors that have started: actors start one after another (and on a
    cluster some wait for a node to join), and a task queued on an actor that never starts
    (``workers`` larger than the cluster) would never run.
    """

    def __init__(self, ray: Any, shape: PoolShape, constructor: dict[str, Any]) -> None:
        self.ray = ray
        remote = ray.remote(_EncodeActor).options(
            num_cpus=shape.num_cpus, num_gpus=shape.num_gpus, max_restarts=-1,
            max_task_retries=-1)
        self.actors = [remote.remote(**constructor) for _ in range(shape.workers)]
        self.busy = [0] * shape.workers
        self.started: list[int] = []  # actors that have started, in order
        self.starting = {actor.ready.remote(): i for i, actor in enumerate(self.actors)}
        self.running: dict[Any, tuple[int, Callable[[Any], None]]] = {}

    def _free(self) -> int | None:
        free = [i for i in self.started if self.busy[i] < _DEPTH]
        return min(free, key=self.busy.__getitem__) if free else None

    def submit(self, method: str, args: tuple[Any, ...], done: Callable[[Any], None]) -> None:
        """Queue ``actor.method(*args)``; ``done(result)`` runs when it finishes. Waits (running
        the callbacks of finished tasks) while no started actor has room."""
        while (actor := self._free()) is None:
            self.finish_one()
        ref = getattr(self.actors[actor], method).remote(*args)
        self.running[ref] = (actor, done)
        self.busy[actor] += 1

    def finish_one(self) -> None:
        """Wait for any one task, or an actor's start, and handle it (a task's error, or an
        actor's failure to start, is raised here)."""
        (ref,), _ = self.ray.wait([*self.running, *self.starting], num_returns=1)
        if ref in self.starting:
            actor = self.starting.pop(ref)
            self._get(ref)
            self.started.append(actor)
            return
        actor, done = self.running.pop(ref)
        self.busy[actor] -= 1
        done(self._get(ref))

    def _get(self, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except Exception as exc:
            cause = _unwrap(exc)
            if cause is exc:
                raise
            raise cause from exc

    def drain(self) -> None:
        while self.running:
            self.finish_one()

    def close(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):  # already dead, or Ray shutting down
                self.ray.kill(actor)


class _RayRun:
    """One :func:`encode_on_ray` call: the windows of a :class:`CacheRun` through a pool."""

    def __init__(self, run: CacheRun, items: Sequence[Any], modality: str, spec: Any,
                 constructor: dict[str, Any], bar: Any,
                 on_shard: Callable[[int, int], None] | None) -> None:
        self.run, self.items, self.modality, self.spec = run, items, modality, spec
        self.constructor, self.bar, self.on_shard = constructor, bar, on_shard
        self.stack = contextlib.ExitStack()
        self.pool: _Pool | None = None
        self.skipped = False
        self.encoded = self.to_encode = 0
        self.in_flight: dict[int, np.ndarray] = {}  # block number -> its keys, while it runs
        self.blocks = 0

    def _pool(self) -> _Pool:
        """The pool, started on first use (a fully cached run hashed here never starts Ray)."""
        if self.pool is None:
            ray = self.stack.enter_context(ray_session(self.spec.address))
            shape = _pool_shape(ray, self.spec.workers, self.spec.threads)
            self.pool = _Pool(ray, shape, self.constructor)
            self.stack.callback(self.pool.close)
        return self.pool

    def _texts(self, numbers: Sequence[int]) -> list[str]:
        return [_item_text(self.items[i], self.modality) for i in numbers]

    def keys(self, lo: int, hi: int, block: int) -> np.ndarray:
        """The content keys of items ``lo .. hi``, hashed here or by the actors."""
        if self.spec.hash_on != "workers":
            return content_keys(self._texts(range(lo, hi)), self.modality, hi - lo)
        keys, pending = np.zeros((hi - lo, 32), np.uint8), set()

        def done(at: int, result: tuple[np.ndarray, str]) -> None:
            got, error = result
            if error:
                raise InvalidInputError(error)
            keys[at:at + len(got)] = got
            pending.discard(at)

        pool = self._pool()
        for start in range(lo, hi, block):
            pending.add(start - lo)
            pool.submit("keys", (self._texts(range(start, min(start + block, hi))),),
                        lambda result, at=start - lo: done(at, result))
        while pending:  # meanwhile the previous window's encoding tasks finish and are written
            pool.finish_one()
        return keys

    def encode(self, plan: CachePlan, block: int) -> None:
        """Send the window's misses to the pool, one shard of items per task."""
        self.to_encode += len(plan.todo)
        for start in range(0, len(plan.todo), block):
            chunk = plan.todo[start:start + block]
            number, self.blocks = self.blocks, self.blocks + 1
            self.in_flight[number] = plan.keys[chunk]
            self._pool().submit("encode", (chunk, self._texts(plan.items(chunk).tolist())),
                                lambda result, p=plan, b=number: self._written(p, b, result))

    def _written(self, plan: CachePlan, number: int, batch: dict[str, Any]) -> None:
        self.in_flight.pop(number, None)
        status, rows = batch["status"], np.asarray(batch["row"], np.int64)
        failed = np.flatnonzero(status == _FAILED)
        if failed.size:
            message, _, path = str(batch["reason"][failed[0]]).partition("\x00")
            raise ImageLoadError(message, path or None)
        ok = status == _OK
        if ok.any():  # a block delivered twice (a retried task) is written once
            plan.record(rows[ok], batch["vector"][ok])
        for i in np.flatnonzero(status == _SKIPPED).tolist():
            self.skipped = True
            warnings.warn(f"skipping unreadable image: {batch['reason'][i]}", UserWarning,
                          stacklevel=2)
        self.bar.update(len(rows))
        self.encoded += len(rows)
        if self.on_shard is not None:
            self.on_shard(self.encoded, self.to_encode)

    def wait_for_duplicates(self, keys: np.ndarray) -> None:
        """Finish the running tasks first when this window shares a content with one: its key
        is then in the cache, a hit, instead of encoded and written twice."""
        if not self.in_flight or self.pool is None:
            return
        running = np.concatenate(list(self.in_flight.values()))
        if np.isin(keys.view("S32").ravel(), running.view("S32").ravel()).any():
            self.pool.drain()


def encode_on_ray(name: str, options: dict[str, Any], items: Sequence[Any],
                  cache_dir: str | os.PathLike[str], spec: Any, *, ids: Sequence[str] | None,
                  batch_size: int | None, shard_size: int, progress: bool,
                  on_shard: Callable[[int, int], None] | None = None) -> Embeddings:
    """Encode ``items`` on a pool of Ray actors through the cache (see the module docstring)."""
    from tqdm.auto import tqdm

    from .encoder import get_encoder

    if not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive int, got {shard_size!r}")
    encoder = get_encoder(name, **options)  # cheap: weights load on first use, never here
    ids = encoder._default_ids(items) if ids is None else [str(i) for i in ids]
    if len(ids) != len(items):
        raise InvalidInputError(f"got {len(ids)} ids for {len(items)} items")
    run = CacheRun(cache_dir, encoder.fingerprint, len(items), shard_size)
    constructor = {"name": name, "options": options, "fingerprint_id": encoder.fingerprint.id,
                   "threads": spec.threads, "batch_size": batch_size,
                   "plugin_modules": tuple(spec.plugin_modules)}
    with tqdm(total=len(items), desc="encoding (ray)", unit="item",
              disable=not progress) as bar:
        state = _RayRun(run, items, encoder.modality, spec, constructor, bar, on_shard)
        with state.stack:
            for lo, hi in run.windows():
                keys = state.keys(lo, hi, shard_size)
                state.wait_for_duplicates(keys)
                plan = run.plan(lo, keys)
                bar.update((hi - lo) - len(plan.todo))  # hits, and copies of a miss
                state.encode(plan, shard_size)
            if state.pool is not None:
                state.pool.drain()
    workers = 0 if state.pool is None else len(state.pool.actors)
    return run.embeddings(ids, state.skipped, {"engine": {"name": "ray", "workers": workers}})


def _item_text(item: Any, modality: str) -> str:
    if modality == "image" and isinstance(item, str | os.PathLike):
        return os.fspath(Path(item).expanduser().resolve())
    if modality == "text" and isinstance(item, str):
        return item
    raise InvalidInputError(f"engine 'ray' takes image paths or texts (items travel to other "
                            f"machines); got {type(item).__name__}; encode in-memory images "
                            f"with engine 'local'")
