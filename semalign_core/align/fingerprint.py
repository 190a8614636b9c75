"""Encoder fingerprints: what produced a set of embeddings, precisely enough to refuse mixing.

Caches key on a fingerprint and fitted translators store the fingerprints of their source and
target encoders, so embeddings from another model, other weights or other preprocessing are
rejected instead of silently producing garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._numerics import file_digest
from ..errors import InvalidInputError

__all__ = ["PRECISIONS", "Fingerprint", "file_sha256"]

#: Compute dtypes a fingerprint can record.
PRECISIONS = ("float32", "bfloat16", "float16", "float64")


def _freeze(value: Any) -> Any:
    """Round-trip through JSON so equality and hashing see exactly what is stored on disk."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True)
class Fingerprint:
    """Identity of an encoder configuration.

    Parameters
    ----------
    encoder : str
        Registered encoder name, e.g. ``"torchvision"``.
    architecture : str
        Model architecture, e.g. ``"squeezenet1_1"``.
    weights : str
        Weights identity: ``"sha256:<hex>"`` of a file, a hub revision, or ``"random-init"``.
    dim : int
        Output dimension.
    preprocessing : Mapping
        Preprocessing configuration (resize, crop, mean, std, tokenizer, normalisation, ...).
    options : Mapping
        Any other option that changes the output (pooling, projection, ...).
    precision : str
        The compute dtype the vectors were produced in: ``"float32"`` (default), or the
        autocast dtype (``"bfloat16"``, ``"float16"``). Vectors computed under autocast differ
        from float32 ones (by up to 0.4 in absolute terms), so they never share a cache entry
        or a translator. Files written before precision was recorded read as ``"float32"``.
    """

    encoder: str
    architecture: str
    weights: str
    dim: int
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    precision: str = "float32"

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim <= 0:
            raise InvalidInputError(f"fingerprint dim must be a positive int, got {self.dim!r}")
        if self.precision not in PRECISIONS:
            raise InvalidInputError(f"fingerprint precision must be one of {PRECISIONS}, got "
                                    f"{self.precision!r}")
        object.__setattr__(self, "preprocessing", _freeze(dict(self.preprocessing)))
        object.__setattr__(self, "options", _freeze(dict(self.options)))

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "architecture": self.architecture,
            "weights": self.weights,
            "dim": self.dim,
            "preprocessing": dict(self.preprocessing),
            "options": dict(self.options),
            "precision": self.precision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        try:
            return cls(
                encoder=str(data["encoder"]),
                architecture=str(data["architecture"]),
                weights=str(data["weights"]),
                dim=int(data["dim"]),
                preprocessing=data.get("preprocessing", {}),
                options=data.get("options", {}),
                precision=str(data.get("precision", "float32")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a valid fingerprint: {data!r} ({exc})") from exc

    @property
    def id(self) -> str:
        """A short stable digest of the whole fingerprint (16 hex digits)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """One line for error messages."""
        return (f"{self.encoder}/{self.architecture} ({self.weights}, dim {self.dim}, "
                f"{self.precision}) [{self.id}]")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """``"sha256:<hex>"`` of a file, read in chunks (weights files can be gigabytes)."""
    return f"sha256:{file_digest(path)}"
