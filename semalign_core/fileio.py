"""Atomic writes and pickle-free reads of safetensors files with a JSON header.

Every file semalign writes is a single safetensors file: arrays as tensors, everything else as a
JSON document under the ``semalign`` metadata key, stamped with a format name and version. One
file (rather than ``.safetensors`` + ``.json``) keeps writes atomic: the reader never sees half
of a pair.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError

__all__ = ["atomic_path", "read_arrays", "write_arrays"]

_META_KEY = "semalign"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success.

    On any exception the temporary file is removed and an existing file at ``path`` is left
    untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], *,
                 format: str, version: int, header: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and a JSON ``header`` atomically as one safetensors file."""
    from safetensors.numpy import save_file

    document = {"format": format, "format_version": version, **header}
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(document, sort_keys=True)})
    return Path(path)


def read_arrays(path: str | os.PathLike[str], *, format: str,
                max_version: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_arrays`, checking its format and version.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CorruptFileError
        If the file is not a readable safetensors file of ``format``, or was written by a newer
        semalign than this one.
    """
    from safetensors import safe_open

    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    try:
        with safe_open(str(source), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises several types for damaged files
        raise CorruptFileError(
            f"{source} is not a readable semalign file ({type(exc).__name__}: {exc}); "
            f"it may be truncated, write it again") from exc
    try:
        document = json.loads(metadata[_META_KEY])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{source} has no semalign header; it was not written by "
                               f"semalign or was modified") from exc
    if document.get("format") != format:
        raise CorruptFileError(f"{source} holds a {document.get('format')!r} file, "
                               f"expected {format!r}")
    version = document.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise CorruptFileError(f"{source} has {format} format version {version!r}; this "
                               f"semalign reads up to version {max_version}, upgrade it")
    return arrays, document
