"""The :class:`Translator`: source normaliser -> fitted map -> inverse target normaliser; where
the output lives is one keyword, ``space`` (:data:`~.spaces.SPACES`)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    InvalidInputError,
    NotFittedError,
)
from ..fileio import read_arrays, write_arrays
from ..validation import check_matrix, check_paired
from ._translator_compat import DeprecatedTranslatorNames
from .embeddings import Embeddings
from .fingerprint import Fingerprint
from .folding import Plan, build_plan
from .normalizers import SpaceNormalizer, parse_steps
from .pairing import pair_by_id
from .solvers import Solver
from .spaces import SPACES, centered_origin, check_space

__all__ = ["SPACES", "Translator", "check_fitted_translator"]

_FORMAT = "semalign.translator"
#: 3: source_norm/target_norm + target_mean (2: *_preprocessing, read); 1: read if unverified
_VERSION = 3
#: Rows translated per chunk: bounds the temporaries for any N; 8192 rows keep the matrix products
#: large enough to run at full BLAS speed (used by the step-by-step float64 path).
DEFAULT_BATCH_SIZE = 8192


class Translator(DeprecatedTranslatorNames):
    """Translate embeddings of a source encoder into a target encoder's space.

    Parameters
    ----------
    solver : str or Solver
        A registered solver name (built with ``solver_params``) or an unfitted solver object.
    source_norm, target_norm : str or sequence of str
        :class:`SpaceNormalizer` steps fitted on the anchors of each side (see
        :mod:`semalign_core.align.normalizers`); standard scaling on both sides, the default, is
        the reference formulation of latent-space translation. (Deprecated spellings:
        ``source_preprocessing``, ``target_preprocessing``.)
    solver_params : mapping, optional
        Hyperparameters for a solver given by name.

    Attributes
    ----------
    solver_ : Solver
        The fitted map (between the normalised spaces).
    source_norm_, target_norm_ : SpaceNormalizer
        The fitted per-side normalisers.
    target_mean_ : numpy.ndarray or None
        The target anchors' mean (float64), the origin of ``space="centered"``.
    source_fingerprint_, target_fingerprint_ : Fingerprint or None
        The encoders the anchors came from, when known.
    n_anchors_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from semalign_core import Translator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4)); Y = X @ rng.normal(size=(4, 3)) + 1.0
    >>> t = Translator("identity", source_norm="none", target_norm="none")
    >>> t.fit(X, X).transform(X[:2]).shape
    (2, 4)
    """

    comparison_space = "centered"  #: ZeroShotClassifier's default ``space`` for this translator

    def __init__(self, solver: str | Solver = "affine", *,
                 source_norm: str | Sequence[str] | None = "standard",
                 target_norm: str | Sequence[str] | None = "standard",
                 solver_params: Mapping[str, Any] | None = None, **deprecated: Any) -> None:
        given = {"source_norm": source_norm, "target_norm": target_norm}
        self._take_deprecated_keywords(given, deprecated)
        self.solver = solver
        self.source_norm = given["source_norm"]
        self.target_norm = given["target_norm"]
        self.solver_params = solver_params

    def __repr__(self) -> str:
        state = f"fitted on {self.n_anchors_} anchors" if self.is_fitted else "unfitted"
        return (f"Translator({self._solver_name()!r}, source_norm={self.source_norm!r}, "
                f"target_norm={self.target_norm!r}, {state})")

    def _solver_name(self) -> str:
        return self.solver if isinstance(self.solver, str) else (
            self.solver.name or type(self.solver).__name__)

    def _build_solver(self) -> Solver:
        if isinstance(self.solver, Solver):
            if self.solver_params:
                raise InvalidInputError("pass solver_params only with a solver *name*; set "
                                        "them on the solver object instead")
            from copy import deepcopy

            return deepcopy(self.solver)  # fitting must not mutate the caller's object
        if isinstance(self.solver, str):
            from .solvers import get_solver

            return get_solver(self.solver, **dict(self.solver_params or {}))
        raise InvalidInputError(f"solver must be a solver name or a Solver, got "
                                f"{type(self.solver).__name__}")

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, source: Embeddings | Any, target: Embeddings | Any, *,
            pairing: str = "ids") -> Translator:
        """Fit on anchor pairs, paired by id when both sides are :class:`Embeddings`.

        Parameters
        ----------
        source : Embeddings or array-like of shape (n, d_x)
        target : Embeddings or array-like of shape (n, d_y)
            Arrays are paired row by row.
        pairing : {"ids", "intersection", "rows"}
            ``"ids"`` (default): the same ids on both sides, in any order (a partial overlap is
            refused); ``"intersection"``: the shared ids, in source order; ``"rows"``: ignore
            the ids. See :func:`semalign_core.align.pairing.pair_by_id`.

        Returns
        -------
        Translator
            ``self``, fitted.
        """
        source, target = pair_by_id(source, target, pairing)
        src_fp = source.fingerprint if isinstance(source, Embeddings) else None
        tgt_fp = target.fingerprint if isinstance(target, Embeddings) else None
        X = check_matrix(source, "source", dtype=np.float64)
        Y = check_matrix(target, "target", dtype=np.float64)
        check_paired(X, Y, ("source", "target"))
        source_norm = SpaceNormalizer(parse_steps(self.source_norm))
        target_norm = SpaceNormalizer(parse_steps(self.target_norm))
        solver = self._build_solver()
        # fit_transform: fitting a step already computes its output; transforming the anchors
        # again would repeat every pass over them.
        solver.fit(source_norm.fit_transform(X), target_norm.fit_transform(Y))
        self._plans: dict[str, Plan | None] = {}
        self.solver_ = solver
        self.source_norm_ = source_norm
        self.target_norm_ = target_norm
        self.target_mean_: np.ndarray | None = Y.mean(axis=0)
        self.source_fingerprint_ = src_fp
        self.target_fingerprint_ = tgt_fp
        self.n_anchors_ = int(X.shape[0])
        self.source_dim_ = int(X.shape[1])
        self.target_dim_ = int(Y.shape[1])
        return self

    @classmethod
    def identity(cls, dim: int, *, source_fingerprint: Fingerprint | None = None,
                 target_fingerprint: Fingerprint | None = None) -> Translator:
        """A ready-to-use ``f(x) = x`` translator for encoders that already share one space.

        BioViL's image encoder and CXR-BERT embed into one 128-d space, so zero-shot
        classification between them needs no anchors: ``Translator.identity(128)``. No
        normaliser is applied on either side, nothing is fitted, and with no anchors to centre
        on, ``space="centered"`` is the raw space.

        Parameters
        ----------
        dim : int
            The shared dimension.
        source_fingerprint, target_fingerprint : Fingerprint, optional
            When given, inputs from any other encoder are refused, as for a fitted translator.

        Returns
        -------
        Translator
            Fitted on zero anchors; it saves and loads like any other.
        """
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise InvalidInputError(f"dim must be a positive int, got {dim!r}")
        from .identity import IdentitySolver

        dim = int(dim)
        obj = cls("identity", source_norm="none", target_norm="none")
        # Set the state fit() would leave, without anchors: the identity has nothing to learn.
        obj.solver_ = IdentitySolver().set_fitted_state(
            {}, {"n_features_in_": dim, "n_features_out_": dim, "n_anchors_": 0})
        empty = np.zeros((0, dim))
        obj.source_norm_ = SpaceNormalizer("none").fit(empty)
        obj.target_norm_ = SpaceNormalizer("none").fit(empty)
        obj.target_mean_ = np.zeros(dim)
        obj.source_fingerprint_ = source_fingerprint
        obj.target_fingerprint_ = target_fingerprint
        obj.n_anchors_ = 0
        obj.source_dim_ = obj.target_dim_ = dim
        return obj

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "solver_")

    @property
    def output_dim(self) -> int:
        """Columns of :meth:`transform`'s output: the target dimension (a
        :class:`~semalign_core.align.relative.RelativeTranslator`'s is its anchor count)."""
        self._check_fitted()
        return self.target_dim_

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            hint = (" (for two encoders that already share one space, Translator.identity(dim) "
                    "needs no fitting)" if self._solver_name() in ("identity", "none") else "")
            raise NotFittedError("this Translator is not fitted yet; call fit(source, target) "
                                 f"on anchor pairs first{hint}")

    def _check_header(self, data: Embeddings | Any, side: str) -> Any:
        """Check encoder and shape of ``data`` without copying it; return the raw array."""
        self._check_fitted()
        expected_fp: Fingerprint | None = getattr(self, f"{side}_fingerprint_")
        dim = getattr(self, f"{side}_dim_")
        if isinstance(data, Embeddings):
            if (expected_fp is not None and data.fingerprint is not None
                    and data.fingerprint != expected_fp):
                raise EncoderMismatchError(
                    f"these embeddings come from {data.fingerprint.describe()}, but the "
                    f"translator's {side} encoder is {expected_fp.describe()}; encode them with "
                    f"that encoder")
            data = data.vectors
        if not hasattr(data, "shape"):
            data = np.asarray(data)
        if len(data.shape) != 2:
            raise InvalidInputError(f"{side} must be 2-D (n_items, dim), got shape {data.shape}")
        if data.shape[1] != dim:
            raise DimensionMismatchError(
                f"the translator expects {dim}-d {side} embeddings, got {data.shape[1]}-d")
        return data

    def _check_side(self, data: Embeddings | Any, side: str) -> np.ndarray:
        """Validate input for ``side`` ("source" or "target") against what was fitted."""
        data = self._check_header(data, side)
        dim = getattr(self, f"{side}_dim_")
        X = check_matrix(data, side, dtype=np.float64, min_rows=0)
        if X.shape[1] != dim:
            raise DimensionMismatchError(
                f"the translator expects {dim}-d {side} embeddings, got {X.shape[1]}-d")
        return X

    # -- the folded float32 form ---------------------------------------------------------------
    def folded(self, *, space: str = "raw") -> Plan | None:
        """The fitted translator composed into float32 operations, or ``None``.

        With an affine solver (:meth:`Solver.linear_map`) every step is affine or a per-row
        ``l2`` scaling, so the whole translator folds into a short :class:`~.folding.Plan`: for
        the default ``standard -> affine -> inverse standard``, one ``x W' + b'``. It is built
        once (in float64, from the float64 fit) and used by :meth:`transform`. ``None`` for a
        solver without a linear form, which keeps the step-by-step float64 path.
        """
        self._check_fitted()
        plans = self.__dict__.setdefault("_plans", {})
        if space not in plans:
            origin = centered_origin(self.target_mean_) if space == "centered" else None
            plans[space] = build_plan(self.source_norm_, self.solver_, self.target_norm_,
                                      space=check_space(space), origin=origin)
        return plans[space]

    def _iter_folded(self, array: Any, plan: Plan, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, array.shape[0], batch_size):
            rows = min(batch_size, array.shape[0] - start)
            yield plan.apply_rows(array, start,
                                  np.empty((rows, self.target_dim_), dtype=np.float32))

    # -- translating -------------------------------------------------------------------------
    def iter_transform(self, source: Embeddings | Any, *, batch_size: int = DEFAULT_BATCH_SIZE,
                       space: str = "raw", normalized: bool | None = None) -> Iterator[np.ndarray]:
        """Yield float32 translations of ``source`` into ``space``, ``batch_size`` rows at a time.

        Peak memory is bounded by the chunk, not by ``len(source)``: pass a memory-mapped array to
        translate more vectors than fit in RAM.
        """
        space = check_space(self._space_from_normalized(space, normalized))
        self._check_fitted()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        array = self._check_header(source, "source")
        plan = self.folded(space=space)
        if plan is not None:
            yield from self._iter_folded(array, plan, batch_size)
            return
        yield from self._iter_float64(array, batch_size, space)

    def _iter_float64(self, array: Any, batch_size: int, space: str) -> Iterator[np.ndarray]:
        """The step-by-step path, for solvers without a linear form."""
        norm = self.target_norm_
        for start in range(0, array.shape[0], batch_size):
            chunk = self._check_side(array[start:start + batch_size], "source")
            Z = self.solver_.transform(self.source_norm_.transform(chunk), dtype=np.float64)
            if space != "normalized":
                Z = norm.inverse_transform(Z)
                Z = Z - centered_origin(self.target_mean_) if space == "centered" else Z
            elif "l2" in norm.steps:
                # The map's raw output need not lie on the normalised space's image (unit norm
                # after an l2 step); going out and back in projects it there, so that
                # transform(x, space="normalized") == transform_target(transform(x)) for every
                # chain. Chains without l2 are exactly invertible and need no round trip.
                Z = norm.transform(norm.inverse_transform(Z))
            yield Z.astype(np.float32)

    def transform(self, source: Embeddings | Any, *, space: str = "raw",
                  batch_size: int = DEFAULT_BATCH_SIZE, normalized: bool | None = None) -> Any:
        """Translate source embeddings into the target side's ``space``.

        Parameters
        ----------
        source : Embeddings or array-like of shape (m, d_x)
        space : {"raw", "normalized", "centered"}
            ``"raw"`` (default): the target encoder's own space; ``"normalized"``: the fitted
            target normaliser's space; ``"centered"``: raw minus the target anchors' mean. Each
            equals ``transform_target(transform(source), space=space)`` up to float32 rounding.
            (``normalized=True`` is the deprecated spelling of ``space="normalized"``.)

        Returns
        -------
        Embeddings or numpy.ndarray
            Same kind as the input; an ``Embeddings`` result keeps the source ids and records
            the translation in its metadata (it has no encoder fingerprint: no encoder made it).
        """
        space = check_space(self._space_from_normalized(space, normalized))
        array = self._check_header(source, "source")
        out = np.empty((array.shape[0], self.target_dim_), dtype=np.float32)
        plan = self.folded(space=space)
        if plan is not None:  # straight into the output: no chunk is copied twice
            if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
                raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
            plan.apply_rows(array, 0, out)
        else:
            pos = 0
            for chunk in self.iter_transform(source, batch_size=batch_size, space=space):
                out[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
        if isinstance(source, Embeddings):
            meta = {**source.metadata, "translated": {
                "from": source.fingerprint.to_dict() if source.fingerprint else None,
                "to": self.target_fingerprint_.to_dict() if self.target_fingerprint_ else None,
                "space": space}}
            return Embeddings(out, source.ids, None, meta)
        return out

    def transform_target(self, target: Embeddings | Any, *,
                         space: str = "normalized") -> np.ndarray:
        """Express raw target-encoder vectors in ``space`` (float32), where they compare with
        ``transform(source, space=space)``; see :data:`~.spaces.SPACES`."""
        space = check_space(space)
        Y = self._check_side(target, "target")
        if space == "normalized":
            Y = self.target_norm_.transform(Y)
        elif space == "centered":
            Y = Y - centered_origin(self.target_mean_)
        return Y.astype(np.float32)

    def normalize_source(self, source: Embeddings | Any) -> np.ndarray:
        """Apply the fitted source normaliser: what the solver sees (float32)."""
        X = self._check_side(source, "source")
        return self.source_norm_.transform(X).astype(np.float32)

    # -- persistence (the file layout lives in translator_io) ---------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted translator to one safetensors file, atomically."""
        from .translator_io import translator_state

        self._check_fitted()
        tensors, header = translator_state(self)
        return write_arrays(path, tensors, format=_FORMAT, version=_VERSION, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_unverified: bool = False) -> Translator:
        """Read a translator written by :meth:`save` (no pickle; the solver plugin must be
        installed).

        ``allow_unverified=True`` also reads files written before semalign stored checksums
        (format version 1); save them again to add checksums.
        """
        from .translator_io import restore_translator

        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION,
                                  allow_unverified=allow_unverified)
        return restore_translator(cls, arrays, doc, path)


def check_fitted_translator(translator: Any) -> Translator:
    """Raise unless ``translator`` is a fitted :class:`Translator` (used by the classifiers that
    wrap one, so they fail at construction rather than on first use)."""
    if not isinstance(translator, Translator):
        raise InvalidInputError(f"translator must be a Translator, got "
                                f"{type(translator).__name__}")
    if not translator.is_fitted:
        raise NotFittedError("the translator is not fitted; call translator.fit(source "
                             "anchors, target anchors) first")
    return translator
