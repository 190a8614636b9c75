"""Find model weights, in one fixed order, without ever hanging when offline.

Every encoder plugin resolves its weights here, so users learn one rule:

1. an explicit local path (``weights=/path/to/file-or-dir``);
2. ``$SEMALIGN_WEIGHTS_DIR/<name>`` (a file or a directory, with the plugin's usual suffixes);
3. local caches: the Hugging Face hub cache (looked up with ``local_files_only``, no network),
   then any cache the plugin names (torch hub checkpoints, a package that ships the model);
4. a download, only when online.

"Offline" means any of ``SEMALIGN_OFFLINE``, ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is
set to a true value. Even when none is set, the download host is probed with a 2-second budget
first, so a machine without network gets a :class:`~semalign_core.errors.MissingWeightsError`
at once instead of a library's 30-second retry loop. The error names the model, every place
that was searched, and how to provide the weights.

Nothing here imports torch; ``huggingface_hub`` is imported only when a hub lookup is needed.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._numerics import cached_file_digest
from ..errors import InvalidInputError, MissingWeightsError

__all__ = [
    "OFFLINE_ENV_VARS",
    "WEIGHTS_DIR_ENV",
    "HubRef",
    "ResolvedWeights",
    "dir_sha256",
    "host_reachable",
    "is_offline",
    "resolve_weights",
    "weights_identity",
]

WEIGHTS_DIR_ENV = "SEMALIGN_WEIGHTS_DIR"
OFFLINE_ENV_VARS = ("SEMALIGN_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "true", "yes", "on", "y"}
#: Seconds allowed for the reachability probe before a download is attempted.
PROBE_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class HubRef:
    """A location on the Hugging Face hub.

    Parameters
    ----------
    repo_id : str
        ``"org/name"``.
    filename : str, optional
        One file in the repo; ``None`` means the whole repository snapshot (a directory).
    revision : str, optional
        Branch, tag or commit; ``None`` is the default branch.
    alternatives : sequence of str
        Other file names tried first, in order (e.g. a ``.safetensors`` twin of a ``.bin``).
    """

    repo_id: str
    filename: str | None = None
    revision: str | None = None
    alternatives: tuple[str, ...] = ()

    def describe(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        what = f"/{self.filename}" if self.filename else ""
        return f"hf://{self.repo_id}{what}{rev}"


@dataclass(frozen=True)
class ResolvedWeights:
    """Where the weights were found.

    Attributes
    ----------
    path : Path
        A file or a directory.
    source : str
        ``"explicit"``, ``"weights_dir"``, ``"hub_cache"``, ``"local_cache"`` or ``"download"``.
    identity : str
        What the fingerprint records: ``"sha256:<hex>"`` of the file (or of a directory's
        files), or ``"hf:<repo>@<commit>"`` for a hub snapshot.
    """

    path: Path
    source: str
    identity: str


def is_offline() -> bool:
    """True when any of :data:`OFFLINE_ENV_VARS` is set to a true value."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in OFFLINE_ENV_VARS)


def _offline_reason() -> str | None:
    for var in OFFLINE_ENV_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}={os.environ[var]}"
    return None


def host_reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    DNS resolution cannot be given a timeout through :mod:`socket`, so the probe runs in a daemon
    thread and is abandoned after ``timeout``; a stuck resolver can never block the caller.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except Exception:  # any failure to connect means "not reachable"
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True, name=f"semalign-probe-{host}")
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# -- identities ----------------------------------------------------------------------------------
def _cached_file_sha256(path: Path) -> str:
    # Weights files are large; each (path, size, mtime) is hashed once per process.
    return f"sha256:{cached_file_digest(path)}"


def dir_sha256(path: str | os.PathLike[str]) -> str:
    """``"sha256:<hex>"`` over every file of a directory (relative names and contents).

    Hidden files and directories (``.git``, ``.cache``) are ignored: they do not change what a
    model computes.
    """
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(_cached_file_sha256(file).encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


def _hub_identity(path: Path) -> str | None:
    # The hub cache stores files under .../models--org--name/snapshots/<commit>/...
    # (not resolved: snapshot entries are symlinks into blobs/, which carry no commit)
    parts = path.absolute().parts
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 2 < len(parts) and parts[i + 1] == "snapshots":
            repo = part[len("models--"):].replace("--", "/")
            return f"hf:{repo}@{parts[i + 2]}"
    return None


def weights_identity(path: str | os.PathLike[str]) -> str:
    """The identity a fingerprint records for the weights at ``path`` (file or directory)."""
    p = Path(path)
    hub = _hub_identity(p)
    if hub is not None:
        return hub
    return dir_sha256(p) if p.is_dir() else _cached_file_sha256(p)


# -- the lookup ----------------------------------------------------------------------------------
def _hub_cache_lookup(hub: HubRef) -> tuple[Path | None, str]:
    """Look ``hub`` up in the local hub cache only. Returns (path or None, what was checked)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None, "hub cache: huggingface_hub is not installed"
    cache = constants.HF_HUB_CACHE
    if not (Path(cache) / f"models--{hub.repo_id.replace('/', '--')}").is_dir():
        # the hub's cache layout: no folder, nothing cached. Checked first because importing
        # snapshot_download costs seconds, which a missing-weights error should not.
        return None, f"hub cache {cache}: {hub.describe()} not cached"
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    if hub.filename is None:
        try:
            found = snapshot_download(hub.repo_id, revision=hub.revision, local_files_only=True)
        except Exception:  # LocalEntryNotFoundError and friends: simply not cached
            return None, f"hub cache {cache}: {hub.describe()} not cached"
        return Path(found), ""
    for name in (*hub.alternatives, hub.filename):
        try:
            found = try_to_load_from_cache(hub.repo_id, name, revision=hub.revision)
        except Exception:
            found = None
        if isinstance(found, str):
            return Path(found), ""
    names = ", ".join((*hub.alternatives, hub.filename))
    return None, f"hub cache {cache}: {hub.repo_id} ({names}) not cached"


def _hub_download(hub: HubRef) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download

    if hub.filename is None:
        return Path(snapshot_download(hub.repo_id, revision=hub.revision))
    last: Exception | None = None
    for name in (*hub.alternatives, hub.filename):
        try:
            return Path(hf_hub_download(hub.repo_id, name, revision=hub.revision))
        except Exception as exc:  # try the next alternative
            last = exc
    raise MissingWeightsError(f"could not download {hub.describe()}: {last}") from last


def resolve_weights(
    model: str,
    *,
    path: str | os.PathLike[str] | None = None,
    names: Sequence[str] = (),
    hub: HubRef | None = None,
    local_caches: Sequence[str | os.PathLike[str]] = (),
    download: Callable[[], str | os.PathLike[str]] | None = None,
    download_host: str | None = "huggingface.co",
    expect: str = "any",
    hint: str | None = None,
) -> ResolvedWeights:
    """Find the weights of ``model`` (see the module docstring for the order).

    Parameters
    ----------
    model : str
        Human-readable model name used in messages, e.g. ``"torchvision/squeezenet1_1"``.
    path : path-like, optional
        An explicit local file or directory. When given, it must exist: nothing else is tried.
    names : sequence of str
        Names to look for under ``$SEMALIGN_WEIGHTS_DIR`` (files or directories), e.g.
        ``("squeezenet1_1.safetensors", "squeezenet1_1.pth", "squeezenet1_1")``.
    hub : HubRef, optional
        Where the weights live on the Hugging Face hub (cache lookup, then download).
    local_caches : sequence of path-like
        Further local candidates checked after the hub cache (e.g. a torch hub checkpoint or a
        model directory shipped inside a package).
    download : callable, optional
        Downloads the weights and returns their path; defaults to a hub download of ``hub``.
    download_host : str, optional
        Host probed before downloading; ``None`` skips the probe.
    expect : {"any", "file", "dir"}
        What kind of path is acceptable.
    hint : str, optional
        An extra sentence for the error message (e.g. how the plugin's weights are usually had).

    Returns
    -------
    ResolvedWeights

    Raises
    ------
    MissingWeightsError
        Offline (or the host is unreachable) and the weights are nowhere local; raised within
        about two seconds.
    """
    if expect not in ("any", "file", "dir"):
        raise InvalidInputError(f"expect must be 'any', 'file' or 'dir', got {expect!r}")
    acceptable = _acceptor(expect)
    if path is not None:  # the user said exactly where; looking elsewhere would hide a typo
        return _explicit(model, Path(path).expanduser(), expect, acceptable)
    looked: list[str] = []
    found = (_from_weights_dir(names, acceptable, looked)
             or _from_caches(hub, local_caches, acceptable, looked))
    if found is not None:
        return found
    fetched = _download(model, hub, download, download_host, expect, acceptable)
    if isinstance(fetched, ResolvedWeights):
        return fetched
    looked.append(fetched)
    raise MissingWeightsError(_missing_message(model, names, hub, looked, hint))


def _acceptor(expect: str) -> Callable[[Path], bool]:
    if expect == "file":
        return Path.is_file
    return Path.is_dir if expect == "dir" else Path.exists


def _explicit(model: str, p: Path, expect: str,
              acceptable: Callable[[Path], bool]) -> ResolvedWeights:
    """1. An explicit path: it must be usable, nothing else is tried."""
    if acceptable(p):
        return ResolvedWeights(p, "explicit", weights_identity(p))
    kind = {"file": "file", "dir": "directory"}.get(expect, "file or directory")
    state = "does not exist" if not p.exists() else f"is not a {kind}"
    raise MissingWeightsError(
        f"weights for {model}: {p} {state}. Pass weights= the path of an existing {kind}.")


def _from_weights_dir(names: Sequence[str], acceptable: Callable[[Path], bool],
                      looked: list[str]) -> ResolvedWeights | None:
    """2. ``$SEMALIGN_WEIGHTS_DIR/<name>`` for each name; records what was tried in ``looked``."""
    root = os.environ.get(WEIGHTS_DIR_ENV, "").strip()
    if not root:
        looked.append(f"${WEIGHTS_DIR_ENV}: not set")
        return None
    tried = []
    for name in names:
        candidate = Path(root).expanduser() / name
        tried.append(str(candidate))
        if acceptable(candidate):
            return ResolvedWeights(candidate, "weights_dir", weights_identity(candidate))
    looked.append(f"${WEIGHTS_DIR_ENV}: {', '.join(tried) or '(no names to look for)'}")
    return None


def _from_caches(hub: HubRef | None, local_caches: Sequence[str | os.PathLike[str]],
                 acceptable: Callable[[Path], bool], looked: list[str]) -> ResolvedWeights | None:
    """3. The hub cache, then the plugin's local caches (no network)."""
    if hub is not None:
        found, checked = _hub_cache_lookup(hub)
        if found is not None and acceptable(found):
            return ResolvedWeights(found, "hub_cache", weights_identity(found))
        looked.append(checked or f"hub cache: {hub.describe()} not usable")
    for cache in local_caches:
        candidate = Path(cache).expanduser()
        if acceptable(candidate):
            return ResolvedWeights(candidate, "local_cache", weights_identity(candidate))
        looked.append(f"local cache: {candidate}")
    return None


def _download(model: str, hub: HubRef | None, download: Callable[[], str | os.PathLike[str]]
              | None, download_host: str | None, expect: str,
              acceptable: Callable[[Path], bool]) -> ResolvedWeights | str:
    """4. A download when one is possible: the weights, or why none was attempted."""
    if download is None and hub is None:
        return "no download source is known for this model"
    offline = _offline_reason()
    if offline:
        return f"download skipped: offline ({offline})"
    if download_host and not host_reachable(download_host):
        return f"download skipped: {download_host} is unreachable"
    fetched = Path(download()) if download is not None else _hub_download(hub)  # type: ignore[arg-type]
    if not acceptable(fetched):
        raise MissingWeightsError(f"weights for {model}: the download gave {fetched}, "
                                  f"which is not a usable {expect}")
    return ResolvedWeights(fetched, "download", weights_identity(fetched))


def _missing_message(model: str, names: Sequence[str], hub: HubRef | None, looked: list[str],
                     hint: str | None) -> str:
    first = names[0] if names else model
    how = [
        "pass weights='/path/to/weights' (a local file or directory)",
        f"or put them at ${WEIGHTS_DIR_ENV}/{first}",
    ]
    if hub is not None:
        how.append(f"or download {hub.repo_id} into the hub cache once while online "
                   f"(e.g. `hf download {hub.repo_id}`)")
    message = (f"no weights for {model}. Looked in:\n  - " + "\n  - ".join(looked)
               + "\nTo provide them: " + "; ".join(how) + ".")
    return f"{message}\n{hint}" if hint else message
