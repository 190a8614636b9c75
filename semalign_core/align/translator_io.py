"""The file layout of a saved :class:`~semalign_core.align.translator.Translator` (kept apart so
that the translator module holds only fitting and translating)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CorruptFileError, InvalidInputError
from .fingerprint import Fingerprint
from .normalizers import SpaceNormalizer

if TYPE_CHECKING:
    from .translator import Translator

__all__ = ["restore_translator", "translator_state"]


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"numpy": np.__version__}
    for dist in ("semalign-core", "safetensors"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def translator_state(t: Translator) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors and JSON header :meth:`Translator.save` writes."""
    arrays, scalars = t.solver_.get_fitted_state()
    tensors = {f"solver.{k}": v for k, v in arrays.items()}
    tensors.update(t.source_norm_.state("source"))
    tensors.update(t.target_norm_.state("target"))
    if t.target_mean_ is not None:
        tensors["target_mean"] = t.target_mean_
    params = t.solver_.get_params()
    header = {
        "solver": {"name": t.solver_.name, "params": params, "scalars": scalars},
        "source_norm": list(t.source_norm_.steps),
        "target_norm": list(t.target_norm_.steps),
        "source_dim": t.source_dim_,
        "target_dim": t.target_dim_,
        "n_anchors": t.n_anchors_,
        "source_fingerprint": (t.source_fingerprint_.to_dict()
                               if t.source_fingerprint_ else None),
        "target_fingerprint": (t.target_fingerprint_.to_dict()
                               if t.target_fingerprint_ else None),
        "versions": _library_versions(),
    }
    try:
        json.dumps(header)
    except TypeError as exc:
        raise InvalidInputError(f"solver parameters must be JSON-serialisable to save a "
                                f"translator: {exc}") from exc
    if not t.solver_.name:
        raise InvalidInputError(f"{type(t.solver_).__name__} has no registered name; "
                                f"only registered solvers can be saved and loaded")
    return tensors, header


def _steps(doc: dict[str, Any], side: str) -> Any:
    # format versions 1 and 2 called the normalisers "preprocessing"
    key = f"{side}_norm" if f"{side}_norm" in doc else f"{side}_preprocessing"
    return doc[key]


def _target_mean(arrays: dict[str, np.ndarray], norm: SpaceNormalizer) -> np.ndarray | None:
    if "target_mean" in arrays:
        return np.asarray(arrays["target_mean"], dtype=np.float64)
    if norm.steps and norm.steps[0] in ("center", "standard"):  # older files: the first mean
        return np.asarray(norm.params_[0]["mean"], dtype=np.float64)
    return None


def restore_translator(cls: type[Translator], arrays: dict[str, np.ndarray],
                       doc: dict[str, Any], path: str | os.PathLike[str]) -> Translator:
    """Rebuild what :func:`translator_state` described (the body of :meth:`Translator.load`)."""
    from .solvers import get_solver

    bad = [k for k, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise CorruptFileError(f"{path} holds NaN or inf in {bad}; fit and save it again")
    try:
        solver_doc = doc["solver"]
        solver = get_solver(solver_doc["name"], **solver_doc["params"])
        prefix = "solver."
        solver.set_fitted_state(
            {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
            solver_doc["scalars"])
        steps = {side: _steps(doc, side) for side in ("source", "target")}
        obj = cls(solver_doc["name"], source_norm=steps["source"], target_norm=steps["target"],
                  solver_params=solver_doc["params"])
        obj.solver_ = solver
        obj._plans = {}
        obj.source_norm_ = SpaceNormalizer.from_state(steps["source"], arrays, "source")
        obj.target_norm_ = SpaceNormalizer.from_state(steps["target"], arrays, "target")
        obj.target_mean_ = _target_mean(arrays, obj.target_norm_)
        obj.source_dim_ = int(doc["source_dim"])
        obj.target_dim_ = int(doc["target_dim"])
        obj.n_anchors_ = int(doc["n_anchors"])
        obj.source_fingerprint_ = (Fingerprint.from_dict(doc["source_fingerprint"])
                                   if doc.get("source_fingerprint") else None)
        obj.target_fingerprint_ = (Fingerprint.from_dict(doc["target_fingerprint"])
                                   if doc.get("target_fingerprint") else None)
        # Translate one row: catches arrays of the wrong shape or missing fitted state now,
        # with the file named, rather than on first use.
        probe = obj.transform(np.zeros((1, obj.source_dim_)))
        if probe.shape != (1, obj.target_dim_):
            raise ValueError(f"translates to {probe.shape[1]}-d, header says "
                             f"{obj.target_dim_}-d")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CorruptFileError(f"{path} is damaged or incomplete: {exc!r}") from exc
    return obj
