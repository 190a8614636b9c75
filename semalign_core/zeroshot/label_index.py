"""The label index: exact inner-product search over class embeddings, by the fastest exact route
for the size: FAISS on the GPU whenever FAISS sees one (``faiss.get_num_gpus() > 0``); on the
CPU, one BLAS product for small label sets and a FAISS flat index above :data:`BLAS_MAX_LABELS`.

FAISS is imported lazily (the ``semalign-core[faiss]`` extra; ``faiss-gpu`` works the same).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..align.embeddings import Embeddings
from ..errors import (
    CorruptFileError,
    DimensionMismatchError,
    InvalidInputError,
)
from ..fileio import read_arrays, write_arrays
from ..validation import check_matrix, checked_product
from .prompts import PromptSet, TextSource, _pairs

__all__ = ["BLAS_MAX_LABELS", "DEVICES", "LabelIndex"]

DEVICES = ("auto", "cpu", "cuda")
_INDEX_FORMAT = "semalign.label_index"
#: 2: checksummed (see semalign_core.fileio); 1: unchecked, read only with allow_unverified.
_INDEX_VERSION = 2
_EPS = 1e-12
#: FAISS GPU flat indexes answer at most this many neighbours per query.
_GPU_MAX_K = 2048
#: On the CPU, label sets up to this size are searched with one BLAS product and an argmax (or
#: argpartition): for few labels FAISS's flat index does the same product plus per-query heap
#: bookkeeping. benchmarks/bench_folded.py measured the two within noise of each other from
#: 2 to 64 labels, and FAISS about 2x ahead at 256 labels for 1M queries (its blocked search
#: keeps the score tile in cache).
BLAS_MAX_LABELS = 64
#: Queries per BLAS product: at least this many, and a (rows x n_labels) float32 score tile of
#: about 4 MB (fewer, larger products for few labels).
_BLAS_ROWS = 4096


# -- the label index ---------------------------------------------------------------------------
def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("LabelIndex needs FAISS: pip install 'semalign-core[faiss]' "
                          "(faiss-cpu), or faiss-gpu for GPU search") from exc
    return faiss


def _faiss_num_gpus(faiss: Any) -> int:
    """GPUs FAISS can use. faiss-gpu imports fine on CPU-only machines and reports 0 there."""
    getter = getattr(faiss, "get_num_gpus", None)
    if getter is None or not hasattr(faiss, "StandardGpuResources"):
        return 0  # a CPU-only FAISS build
    try:
        return int(getter())
    except Exception:  # a broken CUDA runtime: behave like a CPU-only machine
        return 0


def _resolve_device(device: str, faiss: Any) -> str:
    if device not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES}, got {device!r}")
    n_gpus = _faiss_num_gpus(faiss)
    if device == "cuda" and n_gpus == 0:
        raise InvalidInputError(
            "device='cuda' was requested but FAISS sees no GPU (faiss-cpu installed, no CUDA "
            "device, or no driver); install faiss-gpu on a GPU machine, or use device='auto' "
            "or 'cpu'")
    if device == "auto":
        return "cuda" if n_gpus > 0 else "cpu"
    return device


def _make_gpu_index(faiss: Any, dim: int) -> tuple[Any, Any]:
    """A flat inner-product index on GPU 0 and the resources that must outlive it."""
    resources = faiss.StandardGpuResources()
    if hasattr(faiss, "GpuIndexFlatIP"):
        return faiss.GpuIndexFlatIP(resources, dim), resources
    return faiss.index_cpu_to_gpu(resources, 0, faiss.IndexFlatIP(dim)), resources


class LabelIndex:
    """A FAISS exact inner-product index over class embeddings.

    Parameters
    ----------
    labels : sequence of str
        One unique label per row of ``embeddings``.
    embeddings : array-like of shape (n_labels, dim)
        Class embeddings, used as given (L2-normalise them for cosine scores).
    prompts : mapping label -> sequence of str, optional
        The prompts each label was built from (kept for reports and saved with the index).
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` searches on the GPU when ``faiss.get_num_gpus() > 0``, else on the CPU.
        ``"cuda"`` without a GPU raises :class:`InvalidInputError`.
    metadata : mapping, optional
        JSON-serialisable extras saved with the index (e.g. the space the embeddings live in).

    Attributes
    ----------
    device_ : {"cpu", "cuda"}
        Where searches run.

    Examples
    --------
    >>> import numpy as np
    >>> index = LabelIndex(["cat", "dog"], np.eye(2, dtype=np.float32), device="cpu")
    >>> labels, scores = index.search(np.array([[0.2, 0.9]], dtype=np.float32), k=1)
    >>> labels.tolist(), scores.round(2).tolist()
    ([['dog']], [[0.9]])
    """

    def __init__(self, labels: Sequence[str], embeddings: Any, *,
                 prompts: Mapping[str, Sequence[str]] | None = None, device: str = "auto",
                 metadata: Mapping[str, Any] | None = None) -> None:
        labels = tuple(labels)
        pairs = _pairs([(label, None) for label in labels], "labels")
        if not pairs:
            raise InvalidInputError("a LabelIndex needs at least one label")
        E = check_matrix(embeddings, "embeddings", dtype=np.float32)
        if E.shape[0] != len(labels):
            raise DimensionMismatchError(f"got {len(labels)} labels for {E.shape[0]} embeddings; "
                                         f"pass one label per row")
        prompts = dict(prompts or {})
        unknown = [k for k in prompts if k not in labels]
        if unknown:
            raise InvalidInputError(f"prompts given for unknown label(s) {unknown}")
        self.labels: tuple[str, ...] = labels
        self.embeddings = E
        self.prompts: dict[str, tuple[str, ...]] = {
            label: tuple(prompts.get(label, ())) for label in labels}
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.device = device
        faiss = _import_faiss()
        self.device_ = _resolve_device(device, faiss)
        self._resources = None  # GPU resources must live as long as the GPU index
        self._index = None
        self._ET = np.ascontiguousarray(E.T)
        self._ET_nonzero = bool(np.all(E != 0))
        self._rows = max(_BLAS_ROWS, (1 << 20) // len(labels))
        if self.device_ == "cuda":
            self._index, self._resources = _make_gpu_index(faiss, self.dim)
        elif len(labels) > BLAS_MAX_LABELS:
            self._index = faiss.IndexFlatIP(self.dim)
        if self._index is not None:
            self._index.add(E)

    @property
    def backend_(self) -> str:
        """``"faiss-gpu"``, ``"faiss"`` (CPU flat index) or ``"blas"`` (one dense product)."""
        if self.device_ == "cuda":
            return "faiss-gpu"
        return "faiss" if self._index is not None else "blas"

    @classmethod
    def from_prompts(cls, prompt_set: PromptSet, text_source: TextSource, *,
                     device: str = "auto") -> LabelIndex:
        """Index the ensemble embeddings of ``prompt_set``'s positive prompts, in the text
        encoder's raw space (see :class:`ZeroShotClassifier` to compare translated images)."""
        return cls(prompt_set.classes, prompt_set.class_embeddings(text_source),
                   prompts=prompt_set.prompts, device=device)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"LabelIndex({len(self)} labels, dim={self.dim}, device={self.device_!r})"

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def _queries(self, vectors: Any) -> np.ndarray:
        if isinstance(vectors, Embeddings):
            vectors = vectors.vectors
        Q = check_matrix(vectors, "vectors", dtype=np.float32, min_rows=0)
        if Q.shape[1] != self.dim:
            raise DimensionMismatchError(f"the index holds {self.dim}-d label embeddings, got "
                                         f"{Q.shape[1]}-d query vectors")
        return Q

    def search_indices(self, vectors: Any, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best labels per query as row indices, best first.

        Returns
        -------
        indices : numpy.ndarray of shape (n, k), int64
        scores : numpy.ndarray of shape (n, k), float32 (inner products)
        """
        if not isinstance(k, int | np.integer) or not 1 <= k <= len(self):
            raise InvalidInputError(f"k must be an int between 1 and the number of labels "
                                    f"({len(self)}), got {k!r}")
        if self._index is None:
            return self._blas_search(vectors, int(k))
        Q = self._queries(vectors)
        if Q.shape[0] == 0:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        scores, indices = self._index.search(Q, int(k))
        return indices.astype(np.int64, copy=False), scores.astype(np.float32, copy=False)

    def _blas_search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` from dense score tiles (argmax for k = 1, else argpartition)."""
        Q = self._raw_queries(vectors)
        n = Q.shape[0]
        indices, scores = np.empty((n, k), np.int64), np.empty((n, k), np.float32)
        for lo in range(0, n, self._rows):
            S = checked_product(Q[lo:lo + self._rows], self._ET, "vectors",
                                m_nonzero=self._ET_nonzero)
            if k == 1:
                top = S.argmax(axis=1)[:, None]
                indices[lo:lo + len(S)] = top
                scores[lo:lo + len(S), 0] = S[np.arange(len(S)), top[:, 0]]
                continue
            else:
                top = (np.argpartition(-S, k - 1, axis=1)[:, :k] if k < S.shape[1]
                       else np.broadcast_to(np.arange(k), S.shape))
                order = np.argsort(-np.take_along_axis(S, top, axis=1), axis=1, kind="stable")
                top = np.take_along_axis(top, order, axis=1)
            indices[lo:lo + len(S)] = top
            scores[lo:lo + len(S)] = np.take_along_axis(S, top, axis=1)
        return indices, scores

    def _raw_queries(self, vectors: Any) -> Any:
        """The query array, shape-checked but not copied (the product checks its values)."""
        if isinstance(vectors, Embeddings):
            vectors = vectors.vectors
        Q = vectors if hasattr(vectors, "shape") else np.asarray(vectors)
        if len(Q.shape) != 2:
            return self._queries(Q)  # raises the usual error
        if Q.shape[1] != self.dim:
            raise DimensionMismatchError(f"the index holds {self.dim}-d label embeddings, got "
                                         f"{Q.shape[1]}-d query vectors")
        return Q

    def search(self, vectors: Any, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best labels per query, best first.

        Parameters
        ----------
        vectors : Embeddings or array-like of shape (n, dim)
        k : int
            Between 1 and ``len(self)``.

        Returns
        -------
        labels : numpy.ndarray of shape (n, k), str
        scores : numpy.ndarray of shape (n, k), float32 (inner products)
        """
        indices, scores = self.search_indices(vectors, k)
        return np.asarray(self.labels)[indices], scores

    def scores(self, vectors: Any) -> np.ndarray:
        """Inner products with every label, columns in :attr:`labels` order, shape (n, n_labels).
        """
        n_labels = len(self)
        if self.device_ != "cuda" or n_labels > _GPU_MAX_K:
            # every label's score: one dense product is exact, and faster than a search that
            # sorts all of them (GPU flat indexes also cap k)
            Q = self._raw_queries(vectors)
            if Q.shape[0] <= self._rows:  # one tile (a classifier's chunk): its product as is
                return checked_product(Q, self._ET, "vectors", m_nonzero=self._ET_nonzero)
            out = np.empty((Q.shape[0], n_labels), np.float32)  # filled tile by tile: no parts
            for lo in range(0, Q.shape[0], self._rows):
                out[lo:lo + self._rows] = checked_product(Q[lo:lo + self._rows], self._ET,
                                                          "vectors", m_nonzero=self._ET_nonzero)
            return out
        indices, values = self.search_indices(vectors, n_labels)
        out = np.empty_like(values)
        np.put_along_axis(out, indices, values, axis=1)
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write labels, embeddings, prompts and metadata to one safetensors file, atomically."""
        header = {"labels": list(self.labels),
                  "prompts": {k: list(v) for k, v in self.prompts.items()},
                  "metadata": self.metadata}
        import json

        try:
            json.dumps(header)
        except TypeError as exc:
            raise InvalidInputError(f"LabelIndex metadata must be JSON-serialisable: {exc}") \
                from exc
        return write_arrays(path, {"embeddings": self.embeddings}, format=_INDEX_FORMAT,
                            version=_INDEX_VERSION, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str = "auto",
             allow_unverified: bool = False) -> LabelIndex:
        """Read an index written by :meth:`save` (no pickle) onto ``device``.

        ``allow_unverified=True`` also reads files written before semalign stored checksums
        (format version 1); save them again to add checksums.
        """
        arrays, doc = read_arrays(path, format=_INDEX_FORMAT, max_version=_INDEX_VERSION,
                                  allow_unverified=allow_unverified)
        try:
            return cls(doc["labels"], arrays["embeddings"], prompts=doc.get("prompts"),
                       device=device, metadata=doc.get("metadata"))
        except (KeyError, TypeError, InvalidInputError) as exc:
            raise CorruptFileError(f"{path} is damaged or incomplete: {exc}") from exc
