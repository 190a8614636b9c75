"""A FAISS inverted-file (IVF) index for retrieval over millions of items.

:class:`LabelIndex`'s exact flat search compares every query with every item: right for a few
class embeddings, too slow at 10^6+ reports. :class:`IVFIndex` clusters the items into ``nlist``
cells (k-means, trained on a sample) and compares a query only with the items of its ``nprobe``
nearest cells. ``"ivf-flat"`` keeps the vectors; ``"ivf-pq"`` compresses them with product
quantisation (``m`` bytes per vector at 8 bits) for memory, at some cost in recall.

Search is sharded over all GPUs when FAISS sees them (``faiss.get_num_gpus() > 0``,
``index_cpu_to_all_gpus``), on the CPU otherwise. Files hold FAISS's own serialisation
(``serialize_index``, no pickle) as one tensor of a checksummed, versioned, atomically written
semalign file (:mod:`semalign_core.fileio`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, DimensionMismatchError, InvalidInputError, NotFittedError
from ..fileio import read_arrays, write_arrays
from ..validation import check_matrix
from .label_index import _faiss_num_gpus, _import_faiss, _resolve_device

__all__ = ["IVF_KINDS", "IVFIndex", "recall_at_k"]

IVF_KINDS = ("ivf-flat", "ivf-pq")
_FORMAT = "semalign.ivf_index"
_VERSION = 2  # checksummed from the first version, like every format since fileio checksums
#: FAISS's k-means wants at least this many training points per cell.
_POINTS_PER_CELL = 39


class IVFIndex:
    """An IVF-Flat or IVF-PQ inner-product index (cosine on L2-normalised vectors).

    Parameters
    ----------
    kind : {"ivf-flat", "ivf-pq"}
    nlist : int, optional
        Number of cells; default ``4 * sqrt(n)`` of the first :meth:`fit`, at most ``n / 39``.
    nprobe : int
        Cells visited per query: the recall/speed knob (settable after fitting).
    m, nbits : int
        IVF-PQ only: sub-quantisers (must divide the dimension) and bits per code.
    normalize : bool
        L2-normalise items and queries, so scores are cosines.
    train_size : int, optional
        Items sampled to train the cells (default ``64 * nlist``, at least ``39 * nlist``).
    seed : int
        Seed of the training sample and of k-means.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: shard over all GPUs when FAISS sees them, else the CPU.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> items = rng.normal(size=(2000, 16)).astype(np.float32)
    >>> index = IVFIndex(nlist=16, nprobe=16, device="cpu").fit(items)
    >>> scores, rows = index.search(items[:3], k=1)
    >>> rows[:, 0].tolist()
    [0, 1, 2]
    """

    def __init__(self, kind: str = "ivf-flat", *, nlist: int | None = None, nprobe: int = 16,
                 m: int = 16, nbits: int = 8, normalize: bool = True,
                 train_size: int | None = None, seed: int = 0, device: str = "auto") -> None:
        if kind not in IVF_KINDS:
            raise InvalidInputError(f"kind must be one of {IVF_KINDS}, got {kind!r}")
        for name, value in (("nlist", nlist), ("train_size", train_size)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidInputError(f"{name} must be a positive int, got {value!r}")
        for name, value in (("m", m), ("nbits", nbits), ("nprobe", nprobe)):
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive int, got {value!r}")
        self.kind, self.nlist, self.m, self.nbits = kind, nlist, m, nbits
        self.normalize, self.train_size, self.seed = bool(normalize), train_size, int(seed)
        self.device = device
        self._faiss = _import_faiss()
        self.device_ = _resolve_device(device, self._faiss)
        self._nprobe = nprobe
        self._cpu: Any = None  # the trained CPU index (what is saved)
        self._search_index: Any = None  # the same on all GPUs, or the CPU index itself

    # -- building ------------------------------------------------------------------------------
    def _prepare(self, X: Any, name: str) -> np.ndarray:
        X = np.array(check_matrix(X, name, dtype=np.float32), dtype=np.float32, order="C")
        if self._cpu is not None and X.shape[1] != self.dim:
            raise DimensionMismatchError(f"{name} has dimension {X.shape[1]}, the index "
                                         f"{self.dim}")
        if self.normalize:
            self._faiss.normalize_L2(X)
        return X

    def _new_index(self, dim: int, nlist: int) -> Any:
        faiss = self._faiss
        quantizer = faiss.IndexFlatIP(dim)
        if self.kind == "ivf-flat":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if dim % self.m:
                raise InvalidInputError(f"ivf-pq needs m to divide the dimension {dim}; "
                                        f"got m={self.m}")
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, self.m, self.nbits,
                                     faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = self.seed
        return index  # faiss's wrapper keeps the quantizer alive with the index

    def fit(self, X: Any) -> IVFIndex:
        """Train the cells on a sample of ``X`` and add all of ``X`` (rows become ids 0..n-1)."""
        X = self._prepare(X, "X")
        n = X.shape[0]
        nlist = self.nlist or max(1, min(int(4 * math.sqrt(n)), n // _POINTS_PER_CELL))
        sample = self.train_size or 64 * nlist
        floor = _POINTS_PER_CELL * nlist
        if self.kind == "ivf-pq":  # each PQ codebook is a k-means of 2**nbits centroids too
            floor = max(floor, _POINTS_PER_CELL * 2 ** self.nbits)
        sample = min(n, max(sample, floor))
        if n < nlist:
            raise InvalidInputError(f"{n} items cannot train {nlist} cells; give fewer "
                                    f"(nlist=) or more items")
        rows = np.random.default_rng(self.seed).choice(n, size=sample, replace=False)
        index = self._new_index(X.shape[1], nlist)
        index.train(X[np.sort(rows)])
        self._cpu, self.nlist_ = index, nlist
        self.add(X, _prepared=True)
        return self

    def add(self, X: Any, *, _prepared: bool = False) -> IVFIndex:
        """Append rows (ids continue from :attr:`ntotal`); use it to add data in chunks."""
        if self._cpu is None:
            raise NotFittedError("fit the IVFIndex before adding more items")
        X = X if _prepared else self._prepare(X, "X")
        self._cpu.add(X)
        self._search_index = None
        return self

    # -- searching -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        self._check_fitted()
        return int(self._cpu.d)

    @property
    def ntotal(self) -> int:
        """Items in the index."""
        return 0 if self._cpu is None else int(self._cpu.ntotal)

    @property
    def nprobe(self) -> int:
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"nprobe must be a positive int, got {value!r}")
        self._nprobe = value
        self._search_index = None

    def _check_fitted(self) -> None:
        if self._cpu is None:
            raise NotFittedError("this IVFIndex is not fitted; call fit(items) first")

    def _searcher(self) -> Any:
        if self._search_index is None:
            faiss = self._faiss
            if self.device_ == "cuda" and _faiss_num_gpus(faiss) > 0:
                options = faiss.GpuMultipleClonerOptions()
                options.shard = True  # each GPU holds a slice of the items
                index = faiss.index_cpu_to_all_gpus(self._cpu, co=options)
                faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", self._nprobe)
            else:
                index = self._cpu
                index.nprobe = self._nprobe
            self._search_index = index
        return self._search_index

    def search(self, queries: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items per query: ``(scores, rows)``, best first; row -1 pads."""
        self._check_fitted()
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive int, got {k!r}")
        Q = self._prepare(queries, "queries")
        scores, rows = self._searcher().search(Q, min(k, self.ntotal))
        return scores, rows

    # -- files ---------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {"kind": self.kind, "nlist": self.nlist_, "nprobe": self._nprobe, "m": self.m,
                "nbits": self.nbits, "normalize": self.normalize, "seed": self.seed,
                "ntotal": self.ntotal, "dim": self.dim}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index (FAISS serialisation, no pickle) atomically with checksums."""
        self._check_fitted()
        blob = self._faiss.serialize_index(self._cpu)
        return write_arrays(path, {"faiss_index": np.asarray(blob, dtype=np.uint8)},
                            format=_FORMAT, version=_VERSION, header=self._config())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str = "auto") -> IVFIndex:
        """Read an index written by :meth:`save`, verifying its checksums."""
        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION)
        try:
            index = cls(doc["kind"], nlist=doc["nlist"], nprobe=doc["nprobe"], m=doc["m"],
                        nbits=doc["nbits"], normalize=doc["normalize"], seed=doc["seed"],
                        device=device)
            cpu = index._faiss.deserialize_index(arrays["faiss_index"])
        except (KeyError, TypeError, InvalidInputError, RuntimeError) as exc:
            raise CorruptFileError(f"{path} is damaged or incomplete: {exc}") from exc
        if cpu.ntotal != doc["ntotal"] or cpu.d != doc["dim"]:
            raise CorruptFileError(f"{path} holds {cpu.ntotal} x {cpu.d} vectors, its header "
                                   f"says {doc['ntotal']} x {doc['dim']}")
        index._cpu, index.nlist_ = cpu, doc["nlist"]
        return index

    def __repr__(self) -> str:
        state = f"{self.ntotal} items, nlist={self.nlist_}" if self._cpu is not None else \
            "not fitted"
        return f"IVFIndex({self.kind!r}, {state}, nprobe={self._nprobe}, device={self.device_!r})"


def recall_at_k(found: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the exact top-``k`` rows that ``found`` also returned in its top ``k``."""
    found, exact = np.asarray(found)[:, :k], np.asarray(exact)[:, :k]
    if found.shape[0] != exact.shape[0]:
        raise DimensionMismatchError("found and exact need one row per query")
    hits = [len(set(f.tolist()) & set(e.tolist())) / e.shape[0] for f, e in zip(found, exact,
                                                                                  strict=True)]
    return float(np.mean(hits))

