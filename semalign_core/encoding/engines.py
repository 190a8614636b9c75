"""Encode a dataset through the embedding cache on an engine: in this process or on Ray.

:func:`encode_dataset` is the one entry point. Both engines share the content-addressed cache of
:mod:`semalign_core.encoding.cache`: a run on one engine reuses and fills the shards of the other,
and an interrupted run of either resumes where it stopped.

``engine="local"`` (the default) is :func:`~semalign_core.encoding.cache_run.encode_cached` in this
process. ``engine="ray"`` hands the cache misses to a pool of Ray actors
(:mod:`semalign_core.encoding.ray_engine`); Ray is imported only then.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..align.embeddings import Embeddings
from ..errors import InvalidInputError
from .cache import DEFAULT_SHARD_SIZE
from .cache_run import encode_cached
from .encoder import Encoder

__all__ = ["ENGINES", "EngineSpec", "encode_dataset"]

ENGINES = ("local", "ray")
HASH_ON = ("driver", "workers")


@dataclass(frozen=True)
class EngineSpec:
    """Where encoding runs.

    Attributes
    ----------
    name : {"local", "ray"}
    workers : int, optional
        Ray actors (default: one per GPU of the cluster, else one per ``threads`` CPUs).
    address : str, optional
        Ray cluster to join (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); default:
        the running Ray of this process, else a new local one.
    threads : int
        Torch/BLAS threads per CPU actor (and the CPUs each reserves).
    plugin_modules : tuple of str
        Modules each actor registers with :func:`~semalign_core.register_plugin` before building
        the encoder, for plugins registered by hand rather than through entry points.
    hash_on : {"driver", "workers"}
        Where the Ray engine computes the content hashes: on the driver (the default; a fully
        cached run then never starts Ray), or on the encoding actors, each window's items
        before its cache lookup (SHA-256 reads every image file: at 10^8 images one driver
        would take ~a day), so that the driver receives only the 32-byte keys. Cached items
        are still never encoded (the actors load their weights only on a first block to
        encode).
    """

    name: str = "local"
    workers: int | None = None
    address: str | None = None
    threads: int = 1
    plugin_modules: tuple[str, ...] = field(default_factory=tuple)
    hash_on: str = "driver"

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise InvalidInputError(f"engine must be one of {ENGINES}, got {self.name!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise InvalidInputError(f"workers must be a positive int, got {self.workers!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise InvalidInputError(f"threads must be a positive int, got {self.threads!r}")
        if self.address is not None and not isinstance(self.address, str):
            raise InvalidInputError(f"address must be a string, got {self.address!r}")
        if self.name == "local" and (self.workers not in (None, 1) or self.address):
            raise InvalidInputError("workers and address apply to engine 'ray'; the local "
                                    "engine runs in this process")
        if self.hash_on not in HASH_ON or (self.name == "local" and self.hash_on != "driver"):
            raise InvalidInputError(f"hash_on must be one of {HASH_ON} (and 'driver' for the "
                                    f"local engine), got {self.hash_on!r}")


def _build(encoder: str | Encoder, options: Mapping[str, Any] | None) -> Encoder:
    if isinstance(encoder, Encoder):
        if options:
            raise InvalidInputError("options apply to an encoder given by name; this encoder "
                                    "is already built")
        return encoder
    if not isinstance(encoder, str):
        raise InvalidInputError(f"encoder must be a registered name or an Encoder, got "
                                f"{type(encoder).__name__}")
    from .encoder import get_encoder

    return get_encoder(encoder, **dict(options or {}))


def encode_dataset(encoder: str | Encoder, items: Sequence[Any],
                   cache_dir: str | os.PathLike[str], *,
                   options: Mapping[str, Any] | None = None, ids: Sequence[str] | None = None,
                   engine: str | EngineSpec = "local", workers: int | None = None,
                   address: str | None = None, batch_size: int | None = None,
                   shard_size: int = DEFAULT_SHARD_SIZE, progress: bool = False,
                   on_shard: Callable[[int, int], None] | None = None) -> Embeddings:
    """Encode ``items`` through the embedding cache in ``cache_dir``, locally or on Ray.

    Parameters
    ----------
    encoder : str or Encoder
        A registered encoder name (built with ``options``). The Ray engine needs the name: each
        actor builds its own encoder from it, encoders are never shipped.
    items : sequence
        Image paths or texts (the local engine also takes PIL images).
    cache_dir : path
        The embedding cache; on a cluster, a folder the driver can write.
    options : mapping, optional
        Encoder options, as for :func:`~semalign_core.get_encoder`.
    ids : sequence of str, optional
        One id per item (default: image paths, else positions).
    engine : {"local", "ray"} or EngineSpec
        ``workers`` and ``address`` are shorthands for the :class:`EngineSpec` fields.
    batch_size : int, optional
        The encoder's batch size (per actor on Ray).
    shard_size : int
        Items per cache shard, and per Ray task: the most work an interruption loses.
    progress : bool
        One progress bar counting encoded items (across all actors on Ray).
    on_shard : callable, optional
        Called as ``on_shard(done, total)`` (items) after each shard is written.

    Returns
    -------
    Embeddings
        In the order of ``items``; ``metadata["cache"]`` holds the cache statistics,
        ``metadata["engine"]`` the engine, ``metadata["skipped"]`` any items skipped under the
        encoder's ``skip_errors`` option.
    """
    spec = engine if isinstance(engine, EngineSpec) else EngineSpec(
        name=engine, workers=workers, address=address)
    if isinstance(engine, EngineSpec) and (workers is not None or address is not None):
        raise InvalidInputError("give workers/address in the EngineSpec, not beside it")
    if spec.name == "local":
        built = _build(encoder, options)
        out = encode_cached(built, items, cache_dir, ids=ids, shard_size=shard_size,
                            batch_size=batch_size, progress=progress, on_shard=on_shard)
        out.metadata["engine"] = {"name": "local"}
        return out
    if not isinstance(encoder, str):
        raise InvalidInputError("engine 'ray' needs the encoder's registered name (and "
                                "options): each Ray actor builds its own encoder")
    from .ray_engine import encode_on_ray

    items = items if isinstance(items, list) else list(items)
    return encode_on_ray(encoder, dict(options or {}), items, cache_dir, spec, ids=ids,
                         batch_size=batch_size, shard_size=shard_size, progress=progress,
                         on_shard=on_shard)
