"""Out-of-core translation and zero-shot: embedding shards in, result shards out.

Embeddings that do not fit in memory live in shards: Parquet files (columns ``id`` and
``vector``, a fixed-size list of float32) or semalign ``Embeddings`` safetensors files. Each
source shard gives one Parquet result shard in ``out_dir`` (same stem), written through a
temporary file and renamed into place, so a result shard is either complete or absent; shards
whose result exists are skipped, which makes an interrupted run resumable.

``engine="local"`` streams the shards in this process, ``batch_size`` rows at a time (Parquet is
read batch by batch): peak memory is one batch, whatever the number of rows. ``engine="ray"``
hands one shard per task to a Ray Data actor pool; each actor streams its shard the same way,
with the same code, and the driver only holds file names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..align.translator import Translator, check_fitted_translator
from ..errors import InvalidInputError
from ..fileio import atomic_path

__all__ = ["classify_shards", "iter_shard", "translate_shards", "write_embeddings_shard"]

SUFFIXES = (".parquet", ".safetensors")


def write_embeddings_shard(path: str | os.PathLike[str], ids: Sequence[str],
                           vectors: Any) -> Path:
    """Write ``ids`` and ``vectors`` as a Parquet embeddings shard (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    V = np.ascontiguousarray(vectors, dtype=np.float32)
    if V.ndim != 2 or V.shape[0] != len(ids):
        raise InvalidInputError(f"expected {len(ids)} vectors in a 2-d array, got {V.shape}")
    column = pa.FixedSizeListArray.from_arrays(pa.array(V.reshape(-1)), V.shape[1])
    with atomic_path(path) as tmp:
        pq.write_table(pa.table({"id": pa.array(list(ids), pa.string()), "vector": column}),
                       tmp)
    return Path(path)


def _parquet_batches(path: Path, batch_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    missing = {"id", "vector"} - set(handle.schema_arrow.names)
    if missing:
        raise InvalidInputError(f"{path} lacks column(s) {sorted(missing)}; an embeddings shard "
                                f"has 'id' and 'vector' (a fixed-size list of floats)")
    for batch in handle.iter_batches(batch_size=batch_size, columns=["id", "vector"]):
        vectors = batch.column("vector")
        width = vectors.type.list_size if hasattr(vectors.type, "list_size") else None
        flat = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        if width is None:  # a variable-size list column: every row must have the same length
            width = flat.size // max(len(batch), 1)
        yield batch.column("id").to_pylist(), flat.reshape(len(batch), width)


def iter_shard(path: str | os.PathLike[str], batch_size: int = 65536
               ) -> Iterator[tuple[list[str], np.ndarray]]:
    """Yield ``(ids, float32 vectors)`` of one shard, ``batch_size`` rows at a time."""
    source = Path(path)
    if not source.is_file():
        raise InvalidInputError(f"embeddings shard {source} does not exist")
    if source.suffix == ".parquet":
        yield from _parquet_batches(source, batch_size)
    elif source.suffix == ".safetensors":
        emb = Embeddings.load(source)  # an Embeddings file is one shard: it fits by definition
        for start in range(0, len(emb), batch_size):
            yield list(emb.ids[start:start + batch_size]), emb.vectors[start:start + batch_size]
    else:
        raise InvalidInputError(f"embeddings shards are {SUFFIXES} files, got {source}")


class _TranslateJob:
    """Rows -> translated vectors (picklable: it travels to Ray actors)."""

    def __init__(self, translator: Translator, space: str) -> None:
        self.translator, self.space = translator, space

    def columns(self, ids: list[str], X: np.ndarray) -> dict[str, Any]:
        Z = self.translator.transform(X, space=self.space)
        return {"id": ids, "vector": np.asarray(Z, np.float32)}


class _ZeroShotJob:
    """Rows -> predictions and class probabilities, by a classifier rebuilt from its prompts'
    embeddings (the text encoder does not travel)."""

    def __init__(self, classifier: Any) -> None:
        if classifier.calibration != "none":
            raise InvalidInputError("a transductive calibration fits the whole evaluation "
                                    "batch at once; classify shards with calibration='none'")
        classifier._build()  # embeds the prompts once, here
        self.translator = classifier.translator
        self.prompt_set, self.space = classifier.prompt_set, classifier.space
        self.temperature = classifier.temperature
        self.texts = Embeddings(classifier._text_vectors, classifier.prompt_set.texts(),
                                self.translator.target_fingerprint_)
        self._classifier: Any = None

    def columns(self, ids: list[str], X: np.ndarray) -> dict[str, Any]:
        if self._classifier is None:
            from .classifier import ZeroShotClassifier

            self._classifier = ZeroShotClassifier(
                self.translator, self.texts, self.prompt_set, space=self.space,
                temperature=self.temperature, device="cpu")
        proba = self._classifier.predict_proba(X)
        classes = [str(c) for c in self._classifier.classes_]
        out: dict[str, Any] = {"id": ids}
        if not self.prompt_set.is_multilabel:
            out["prediction"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        out.update({f"p_{c}": proba[:, j] for j, c in enumerate(classes)})
        return out


def _table(columns: dict[str, Any]) -> Any:
    import pyarrow as pa

    data = {}
    for name, value in columns.items():
        if name == "vector":
            V = np.ascontiguousarray(value, dtype=np.float32)
            data[name] = pa.FixedSizeListArray.from_arrays(pa.array(V.reshape(-1)), V.shape[1])
        else:
            data[name] = pa.array(list(value) if name in ("id", "prediction") else value)
    return pa.table(data)


def run_shard(job: Any, source: str, target: str, batch_size: int) -> int:
    """Stream one source shard through ``job`` into ``target``; returns the rows written."""
    import pyarrow.parquet as pq

    rows = 0
    with atomic_path(target) as tmp:
        writer = None
        try:
            for ids, X in iter_shard(source, batch_size):
                table = _table(job.columns(ids, X))
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(ids)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # an empty shard still gets its (empty) result
            import pyarrow as pa

            pq.write_table(pa.table({"id": pa.array([], pa.string())}), tmp)
    return rows


class _ShardActor:
    """A Ray actor running :func:`run_shard` for each shard it is handed."""

    def __init__(self, job: Any, batch_size: int) -> None:
        self.job, self.batch_size = job, batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [run_shard(self.job, str(s), str(t), self.batch_size)
                for s, t in zip(batch["source"], batch["target"], strict=True)]
        return {"target": batch["target"], "rows": np.asarray(rows, np.int64)}


def _plan(sources: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
          ) -> list[tuple[str, str]]:
    out = Path(out_dir)
    pairs = [(str(s), str(out / (Path(s).stem + ".parquet"))) for s in sources]
    stems = [t for _, t in pairs]
    if len(set(stems)) != len(stems):
        raise InvalidInputError("two source shards share a file stem; their results would "
                                "overwrite each other")
    for source, _ in pairs:
        if Path(source).suffix not in SUFFIXES or not Path(source).is_file():
            raise InvalidInputError(f"{source} is not an existing {SUFFIXES} embeddings shard")
    out.mkdir(parents=True, exist_ok=True)
    return pairs


def _run(job: Any, sources: Sequence[Any], out_dir: Any, engine: str, workers: int | None,
         address: str | None, batch_size: int) -> list[Path]:
    if engine not in ("local", "ray"):
        raise InvalidInputError(f"engine must be 'local' or 'ray', got {engine!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
    pairs = _plan(sources, out_dir)
    todo = [(s, t) for s, t in pairs if not Path(t).is_file()]  # finished shards are kept
    if engine == "local":
        for source, target in todo:
            run_shard(job, source, target, batch_size)
    elif todo:
        from ..encoding.ray_engine import ray_session

        with ray_session(address) as ray:
            ray.data.DataContext.get_current().enable_progress_bars = False
            size = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            dataset = ray.data.from_items([{"source": s, "target": t} for s, t in todo])
            done = dataset.map_batches(
                _ShardActor, batch_size=1, batch_format="numpy", num_cpus=1,
                compute=ray.data.ActorPoolStrategy(size=size),
                fn_constructor_kwargs={"job": job, "batch_size": batch_size})
            for _ in done.iter_batches(batch_size=None):
                pass  # results are on disk; the driver only waits
    return [Path(t) for _, t in pairs]


def translate_shards(translator: Translator, sources: Sequence[str | os.PathLike[str]],
                     out_dir: str | os.PathLike[str], *, space: str = "raw",
                     engine: str = "local", workers: int | None = None,
                     address: str | None = None, batch_size: int = 65536) -> list[Path]:
    """Translate every shard of ``sources`` into ``out_dir`` (one Parquet shard each).

    Parameters
    ----------
    translator : Translator
        Fitted.
    sources : sequence of path
        Parquet (``id``, ``vector``) or ``Embeddings`` safetensors shards.
    out_dir : path
    space : str
        As for :meth:`Translator.transform`.
    engine : {"local", "ray"}
        Stream here, or one shard per Ray actor task.
    workers, address : optional
        Ray actors (default one per CPU) and the cluster to join.
    batch_size : int
        Rows per step: the memory bound.

    Returns
    -------
    list of Path
        The result shards (columns ``id``, ``vector``), in the order of ``sources``.
    """
    check_fitted_translator(translator)
    return _run(_TranslateJob(translator, space), sources, out_dir, engine, workers, address,
                batch_size)


def classify_shards(classifier: Any, sources: Sequence[str | os.PathLike[str]],
                    out_dir: str | os.PathLike[str], *, engine: str = "local",
                    workers: int | None = None, address: str | None = None,
                    batch_size: int = 65536) -> list[Path]:
    """Zero-shot classify every image-embedding shard into ``out_dir`` (one Parquet each).

    ``classifier`` is a :class:`~semalign_core.zeroshot.ZeroShotClassifier` with
    ``calibration="none"``; its prompts are embedded once, on the driver. Result columns: ``id``,
    ``prediction`` (single-label) and ``p_<class>``, equal to its ``predict_proba``. Other
    parameters as for :func:`translate_shards`.
    """
    return _run(_ZeroShotJob(classifier), sources, out_dir, engine, workers, address,
                batch_size)
