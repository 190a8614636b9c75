"""What the chest X-ray readers share: finding the official CSVs, checking them, their conventions.

The public datasets ship their metadata as CSV files (some gzipped) whose header is the contract.
These helpers read them with the standard library, check the header against the columns a reader
needs, and turn every kind of bad input into an :class:`~semalign_core.errors.InvalidInputError`
that names the file and what was expected, so a wrong folder never becomes an empty manifest.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import InvalidInputError

__all__ = ["CHEXPERT_OBSERVATIONS", "NO_FINDING", "UNCERTAIN_POLICIES", "check_choice",
           "check_root", "find_table", "observation_labels", "read_table", "view_filter"]

#: The 14 observation columns of the CheXpert labeller, in CheXpert's own order (MIMIC-CXR-JPG's
#: ``-chexpert.csv`` and ``-negbio.csv`` carry the same 14, sorted).
CHEXPERT_OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices")
#: The column that states the absence of every other finding: never a label of its own.
NO_FINDING = "No Finding"
#: ``uncertain=`` choices: what a labeller's -1 (uncertain) becomes.
UNCERTAIN_POLICIES = ("zeros", "ones")

# A file that identifies each dataset's folder, to tell a user which reader a folder belongs to.
_SIGNATURES = {
    "mimic-cxr": ("mimic-cxr-2.0.0-metadata.csv.gz", "mimic-cxr-2.0.0-metadata.csv"),
    "chexpert": ("CheXpert-v1.0-small/train.csv", "CheXpert-v1.0/train.csv"),
    "nih-chestxray14": ("Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv"),
    "rsna-pneumonia": ("stage_2_train_labels.csv",),
    "kermany": ("labels.csv", "train/NORMAL", "test/NORMAL"),
    "openi": ("NLMCXR_reports.tgz",),
}


def check_choice(option: str, value: object, choices: Sequence[object]) -> None:
    """Raise when ``value`` is not one of ``choices`` (options never fall back silently)."""
    if value not in choices:
        raise InvalidInputError(f"{option} must be one of {list(choices)}, got {value!r}")


def _looks_like(root: Path, expected: str) -> str | None:
    for name, files in _SIGNATURES.items():
        if name != expected and any((root / f).exists() for f in files):
            return name
    return None


def check_root(root: str | os.PathLike[str], dataset: str, layout: str) -> Path:
    """``root`` as a folder, or an error describing the layout ``dataset`` expects."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise InvalidInputError(f"{dataset}: {base} is not a folder; point it at the folder "
                                f"that holds {layout}")
    if not any(base.iterdir()):
        raise InvalidInputError(f"{dataset}: {base} is empty; expected {layout}")
    return base


def find_table(root: Path, names: Sequence[str], dataset: str, layout: str) -> Path:
    """The first of ``names`` (each also as ``.gz``) present in ``root``, or a clear error."""
    for name in names:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    other = _looks_like(root, dataset)
    hint = (f"; {root} looks like a {other} folder, read it with get_dataset({other!r}, ...)"
            if other else "")
    wanted = " or ".join(f"{n}[.gz]" for n in names)
    raise InvalidInputError(f"{dataset}: {root / names[0]} not found (expected {wanted} in "
                            f"{root}: {layout}){hint}")


def read_table(path: Path, required: Iterable[str], dataset: str) -> list[dict[str, str]]:
    """The rows of a CSV (or ``.csv.gz``) as dicts, after checking its header.

    Trailing empty header cells (the Kaggle copy of NIH ChestX-ray14 ends every line with a
    comma) are dropped with the empty cells under them.

    Raises
    ------
    InvalidInputError
        Unreadable file, no header, missing columns (named with the columns found), no rows.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{dataset}: cannot read {path}: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidInputError(f"{dataset}: {path} is empty; expected a CSV with a header")
    while header and not header[-1].strip():
        header = header[:-1]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInputError(f"{dataset}: {path} lacks column(s) {missing}; its columns are "
                                f"{header}. Is this the file as the dataset ships it?")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        extra = cells[len(header):]
        if len(cells) < len(header) or any(c.strip() for c in extra):
            raise InvalidInputError(f"{dataset}: {path} line {line} has {len(cells)} cells, the "
                                    f"header {len(header)}")
        rows.append(dict(zip(header, cells[:len(header)], strict=True)))
    if not rows:
        raise InvalidInputError(f"{dataset}: {path} has a header but no rows")
    return rows


def observation_labels(row: Mapping[str, str], columns: Sequence[str], uncertain: str,
                       where: str) -> tuple[str, ...]:
    """The positive observations of a labeller row (CheXpert conventions).

    ``1`` is positive, ``0`` or a blank cell negative, ``-1`` uncertain (positive when
    ``uncertain="ones"``). ``No Finding`` is never returned.

    Raises
    ------
    InvalidInputError
        A cell with another value, naming ``where`` (file and line) and the column.
    """
    labels = []
    for column in columns:
        if column == NO_FINDING:
            continue
        cell = row[column].strip()
        try:
            value = float(cell) if cell else 0.0
        except ValueError:
            value = float("nan")
        if value not in (1.0, 0.0, -1.0):
            raise InvalidInputError(f"{where}: column {column!r} holds {cell!r}; expected 1, 0, "
                                    f"-1 (uncertain) or blank")
        if value == 1.0 or (value == -1.0 and uncertain == "ones"):
            labels.append(column)
    return tuple(labels)


def view_filter(views: str | Sequence[str] | None, choices: Sequence[str]
                ) -> frozenset[str] | None:
    """The lower-cased views to keep (``None``: every view), checked against ``choices``.

    ``"frontal"`` and ``"lateral"`` are accepted by every reader besides the dataset's own view
    codes (``"pa"``, ``"ap"``...).
    """
    if views is None:
        return None
    wanted = [views] if isinstance(views, str) else list(views)
    if not wanted:
        raise InvalidInputError("views must name at least one view, or be None for every view")
    normal = frozenset(str(v).strip().lower() for v in wanted)
    unknown = sorted(normal - set(choices))
    if unknown:
        raise InvalidInputError(f"unknown view(s) {unknown}; choose from {sorted(choices)}")
    return normal
