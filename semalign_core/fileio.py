"""Atomic, checksummed writes and pickle-free, verified reads of safetensors files.

Every file semalign writes is a single safetensors file: arrays as tensors, everything else as a
JSON document under the ``semalign`` metadata key, stamped with a format name and version. One
file (rather than ``.safetensors`` + ``.json``) keeps writes atomic: the reader never sees half
of a pair.

Integrity: the ``semalign.sha256`` metadata key holds the SHA-256 of the canonical JSON header
and of every tensor (its dtype, shape and bytes). :func:`read_arrays` recomputes them all and
raises :class:`~semalign_core.errors.CorruptFileError` on any difference, so one flipped bit,
an edited header, a dropped or an added tensor is refused rather than loaded. Files written
before checksums existed (format version 1 of every semalign format) carry no record; they are
refused unless the caller passes ``allow_unverified=True`` (the documented upgrade path: load
once that way, save again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError, MissingFileError, OutputError

__all__ = ["atomic_path", "check_writable", "check_writable_dir", "default_file_mode",
           "read_arrays", "read_text", "write_arrays"]

_META_KEY = "semalign"
_SUM_KEY = "semalign.sha256"
#: The last format version of any semalign file written without checksums.
LEGACY_VERSION = 1
_umask_lock = threading.Lock()


def default_file_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` would give a new file."""
    # mkstemp creates 0600 files; tools that write shared caches must honour the umask instead.
    # os.umask can only be read by setting it, so set and restore it under a lock.
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success.

    On any exception the temporary file is removed and an existing file at ``path`` is left
    untouched. The file gets the mode an ordinary ``open()`` would (``0o666`` less the umask).
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
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_writable_dir(folder: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Create ``folder`` if needed and prove a file can be created in it, before any work.

    Raises
    ------
    OutputError
        ``folder`` is a file, lies under a file, or is read-only.
    """
    target = Path(folder).expanduser()
    if target.exists() and not target.is_dir():
        raise OutputError(f"{what} {target} is a file, not a folder; pass a folder path")
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".semalign-probe.", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to {what} {target} ({exc.strerror or exc}); choose "
                          f"another folder or fix its permissions") from None
    return target


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`OutputError` now unless the file ``path`` can be written later."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(f"output {target} is a folder; give a file name, e.g. "
                          f"{target / 'out.safetensors'}")
    check_writable_dir(target.parent)
    return target


def read_text(path: str | os.PathLike[str], what: str = "file",
              error: type[Exception] | None = None) -> str:
    """The UTF-8 text of ``path``, or an ``error`` (default
    :class:`~semalign_core.errors.InvalidInputError`; a missing file is a
    :class:`~semalign_core.errors.MissingFileError`) naming it, never a bare OSError or
    UnicodeDecodeError."""
    from .errors import InvalidInputError

    error = error or InvalidInputError
    source = Path(path)
    if source.is_dir():
        raise error(f"{what} {source} is a folder; pass the path of a file")
    if not source.is_file():
        raise (error if error is not InvalidInputError else MissingFileError)(
            f"{what} {source} does not exist")
    try:
        return source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} {source} is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
    except OSError as exc:
        raise error(f"cannot read {what} {source}: {exc.strerror or exc}") from None


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _tensor_sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}|{list(array.shape)}|".encode())
    # hash the buffer in place: .tobytes() would copy every tensor once more
    digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def _checksums(document: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {"header": hashlib.sha256(_canonical(document)).hexdigest(),
            "tensors": {name: _tensor_sha256(array) for name, array in tensors.items()}}


def write_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], *,
                 format: str, version: int, header: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and a JSON ``header`` atomically as one checksummed safetensors file."""
    from safetensors.numpy import save_file

    document = {"format": format, "format_version": version, **header}
    # Round-trip the header through JSON first: the checksum must cover exactly what a reader
    # will parse back (tuples become lists, keys become strings).
    document = json.loads(json.dumps(document))
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    metadata = {_META_KEY: json.dumps(document, sort_keys=True),
                _SUM_KEY: json.dumps(_checksums(document, tensors), sort_keys=True)}
    from safetensors import SafetensorError

    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
    except (OSError, SafetensorError) as exc:  # read-only or full disk, a file in the way
        reason = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"could not write {path} ({reason}); nothing was written there and "
                          f"an existing file is unchanged") from exc
    return Path(path)


def read_arrays(path: str | os.PathLike[str], *, format: str, max_version: int,
                allow_unverified: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_arrays`, checking format, version and checksums.

    Parameters
    ----------
    path : path
    format : str
        The expected format name.
    max_version : int
        The newest format version this reader understands.
    allow_unverified : bool
        Accept files of format version 1, written before semalign stored checksums, without
        verifying them. Off by default: such a file cannot be told apart from a damaged one.

    Raises
    ------
    MissingFileError
        If ``path`` does not exist (a ``FileNotFoundError``).
    CorruptFileError
        If the file is not a readable safetensors file of ``format``, was written by a newer
        semalign than this one, fails a checksum, or is an unverifiable version-1 file.
    """
    source = Path(path)
    if not source.is_file():
        if source.is_dir():
            raise CorruptFileError(f"{source} is a directory, not a semalign file; pass the "
                                   f"path of the .safetensors file")
        raise MissingFileError(f"no such file: {source}; check the path")
    metadata, arrays = _read_raw(source)
    try:
        document = json.loads(metadata[_META_KEY])
        if not isinstance(document, dict):
            raise TypeError("header is not a JSON object")
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{source} has no semalign header; it was not written by "
                               f"semalign or was modified") from exc
    if document.get("format") != format:
        raise CorruptFileError(f"{source} holds a {document.get('format')!r} file, "
                               f"expected {format!r}")
    version = document.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise CorruptFileError(f"{source} has {format} format version {version!r}; this "
                               f"semalign reads up to version {max_version}, upgrade it")
    _verify(source, metadata.get(_SUM_KEY), document, arrays, version, allow_unverified)
    return arrays, document


def _read_raw(source: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    from safetensors import safe_open

    try:
        with safe_open(str(source), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises several types for damaged files
        raise CorruptFileError(
            f"{source} is not a readable semalign file ({type(exc).__name__}: {exc}); "
            f"it may be truncated, write it again") from exc
    return metadata, arrays


def _verify(source: Path, record: str | None, document: dict[str, Any],
            arrays: Mapping[str, np.ndarray], version: int, allow_unverified: bool) -> None:
    """Raise :class:`CorruptFileError` unless ``record`` matches the header and tensors."""
    if record is None:
        if version <= LEGACY_VERSION and allow_unverified:
            return
        if version <= LEGACY_VERSION:
            raise CorruptFileError(
                f"{source} is a format-version-{version} file written before semalign stored "
                f"checksums, so it cannot be verified; if you trust it, load it with "
                f"allow_unverified=True and save it again to add them")
        raise CorruptFileError(f"{source} lacks its checksum record; it was modified after "
                               f"it was written")
    try:
        expected = json.loads(record)
        header_sum, tensor_sums = expected["header"], dict(expected["tensors"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{source} has a damaged checksum record") from exc
    if hashlib.sha256(_canonical(document)).hexdigest() != header_sum:
        raise CorruptFileError(f"{source} fails its header checksum: the header was edited "
                               f"or damaged after it was written; write the file again")
    if set(tensor_sums) != set(arrays):
        raise CorruptFileError(f"{source} holds tensors {sorted(arrays)} but was written with "
                               f"{sorted(tensor_sums)}")
    for name, array in arrays.items():
        if _tensor_sha256(array) != tensor_sums[name]:
            raise CorruptFileError(f"{source} fails the checksum of tensor {name!r}: its "
                                   f"contents changed after it was written; write it again")
