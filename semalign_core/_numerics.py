"""Small numerics shared by the whole core, each written once (foundation layer: NumPy only).

:func:`l2_normalize`
    Rows (or the last axis) scaled to unit norm; zero vectors stay zero.
:func:`softmax`, :func:`sigmoid`
    Overflow-free probabilities from scores. Hand-written: the core depends on NumPy only
    (scipy.special is not a core dependency), and both are three lines.
:func:`retrieval_ranks`
    0-based rank of each item's own target among all targets by cosine, in chunks.
:func:`file_digest`, :func:`cached_file_digest`
    Hex digest of a file, read in chunks; the cached form hashes each (path, size, mtime) once
    per process (weights files are large and are fingerprinted on every encoder build).
:func:`read_state_dict`
    A torch state dict from ``.safetensors`` or ``torch.load(weights_only=True)``, never
    pickle; public to encoder plugins through :mod:`semalign_core.encoding`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError, InvalidInputError

__all__ = ["EPS", "cached_file_digest", "file_digest", "l2_normalize", "read_state_dict",
           "retrieval_ranks", "sigmoid", "softmax", "unit_mean"]

#: Norms below this count as zero (a zero vector is left at zero, never divided by ~0).
EPS = 1e-12


def l2_normalize(X: Any, *, axis: int = -1) -> np.ndarray:
    """``X / max(||X||, EPS)`` along ``axis`` (the rows of a matrix by default)."""
    X = np.asarray(X)
    return X / np.maximum(np.linalg.norm(X, axis=axis, keepdims=True), EPS)


def unit_mean(vectors: Any) -> np.ndarray:
    """The unit mean of L2-normalised rows (float64): every row weighs the same, whatever its
    norm (a class's vector from its texts, an ensemble of prompts, an anchor's reports).

    Raises
    ------
    InvalidInputError
        No rows, or rows whose normalised mean is zero (texts that cancel out).
    """
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] == 0:
        raise InvalidInputError(f"need a non-empty (n_texts, dim) matrix, got shape {V.shape}")
    mean = l2_normalize(V).mean(axis=0)
    if np.linalg.norm(mean) < EPS:
        raise InvalidInputError("the text embeddings of a class cancel out (their normalised mean "
                                "is zero); use texts that do not contradict each other")
    return l2_normalize(mean)


def softmax(logits: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Softmax along ``axis``; the maximum is subtracted first, so ``exp`` never overflows."""
    expo = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return expo / expo.sum(axis=axis, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` (the two-class softmax), evaluated so that ``exp`` never overflows."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def retrieval_ranks(queries: np.ndarray, targets: np.ndarray, *,
                    batch_size: int = 1024) -> np.ndarray:
    """0-based rank of ``targets[i]`` among all targets for ``queries[i]``, by cosine.

    Ties count against the item (a target scoring equal to the true one ranks before it), so a
    constant score gives the worst rank, never a lucky one. Rows are scored ``batch_size`` at a
    time: memory is O(batch_size x n). Hand-written: scikit-learn's ranking metrics need the
    whole n x n score matrix and return only averages, and the bootstrap needs one rank per item.
    """
    A, B = l2_normalize(queries), l2_normalize(targets)
    ranks = np.empty(len(A), np.int64)
    for start in range(0, len(A), batch_size):
        sims = A[start:start + batch_size] @ B.T
        own = sims[np.arange(len(sims)), np.arange(start, start + len(sims))]
        ranks[start:start + len(sims)] = (sims >= own[:, None]).sum(axis=1) - 1
    return ranks


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in chunks (``hashlib.file_digest``)."""
    with open(path, "rb") as fh:
        # usedforsecurity=False: digests identify files; MD5 only checks published checksums
        return hashlib.file_digest(fh, lambda: hashlib.new(algorithm, usedforsecurity=False)
                                   ).hexdigest()


_DIGESTS: dict[tuple[str, int, int, str], str] = {}
_DIGESTS_LOCK = threading.Lock()


def cached_file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """:func:`file_digest`, computed once per (resolved path, size, mtime, algorithm) per process.

    A file rewritten in place changes its size or mtime and is hashed again.
    """
    p = Path(path)
    stat = p.stat()
    key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns, algorithm)
    with _DIGESTS_LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
    digest = file_digest(p, algorithm)  # outside the lock: other files may hash meanwhile
    with _DIGESTS_LOCK:
        _DIGESTS[key] = digest
    return digest


def read_state_dict(path: str | os.PathLike[str], *, unwrap: bool = True) -> dict[str, Any]:
    """Read a torch state dict without pickle: ``.safetensors``, else
    ``torch.load(weights_only=True)`` (which refuses pickled modules).

    Parameters
    ----------
    path : path
    unwrap : bool
        Accept the common training-checkpoint wrappers: a ``{"state_dict": ...}`` or
        ``{"model": ...}`` mapping, and keys prefixed ``module.`` (saved from DataParallel).

    Returns
    -------
    dict
        Parameter name -> tensor.

    Raises
    ------
    CorruptFileError
        Naming the file, when it cannot be read or is not a flat mapping of names to tensors.
    """
    import torch

    p = Path(path)
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(os.fspath(p), device="cpu")
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle refused by weights_only, bad header...
        raise CorruptFileError(f"cannot read the weights file {p}: {type(exc).__name__}: {exc}. "
                               f"Expected a .safetensors file or a state dict saved with "
                               f"torch.save (read with weights_only=True, so pickled modules "
                               f"are refused)") from exc
    if unwrap:
        for key in ("state_dict", "model"):
            if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
                state = state[key]
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CorruptFileError(f"{p} does not hold a flat state dict (a mapping of parameter "
                               f"names to tensors), got {type(state).__name__}")
    if unwrap and state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)
