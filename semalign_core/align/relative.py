"""Relative representations (Moschella et al., ICLR 2023): compare spaces through their anchors.

Instead of fitting a map from one space into the other, each space is projected onto its own
anchors: an item becomes the vector of its cosine similarities to the ``k`` anchors of its side,

.. math::  r(x) = [\\cos(x, a_1), \\dots, \\cos(x, a_k)] \\in \\mathbb{R}^k .

Anchor ``i`` of the source side and anchor ``i`` of the target side mean the same thing, so the
two relative spaces share their coordinates: a translated image and a text can be compared (zero
shot), and a head trained on relative target vectors reads relative source vectors (stitching).
Nothing is fitted but the per-side space normalisers (default: centring on the anchor mean, which
removes the offset every embedding of one encoder shares and which dominates raw cosines).

:class:`RelativeTranslator` is a :class:`~semalign_core.Translator` whose comparison space (its
``space="normalized"`` output and :meth:`~RelativeTranslator.transform_target`) is the relative
space. It plugs into :class:`~semalign_core.ZeroShotClassifier` and
:class:`~semalign_core.StitchedClassifier` with ``space="normalized"``. There is no raw or
centred target-space output: asking for one raises.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(30, 5)); Y = X @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
>>> t = RelativeTranslator().fit(X[:20], Y[:20])
>>> Z = t.transform(X[20:], space="normalized")
>>> bool(np.allclose(Z, t.transform_target(Y[20:]), atol=1e-5))
True
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._numerics import l2_normalize
from ..errors import CorruptFileError, InvalidInputError, NotFittedError, TooFewAnchorsError
from ..fileio import read_arrays, write_arrays
from ..validation import check_matrix, check_paired
from .embeddings import Embeddings
from .fingerprint import Fingerprint
from .normalizers import SpaceNormalizer, parse_steps
from .spaces import check_space
from .translator import DEFAULT_BATCH_SIZE, Translator

__all__ = ["RelativeTranslator"]

_FORMAT = "semalign.relative-translator"
#: 2: normalisers stored as source_norm/target_norm (1: *_preprocessing, still read)
_VERSION = 2


class RelativeTranslator(Translator):
    """Project both spaces onto their paired anchors (cosine to each anchor).

    Parameters
    ----------
    source_norm, target_norm : str or sequence of str
        Per-side :class:`SpaceNormalizer` steps fitted on the anchors before the cosines (see
        :mod:`semalign_core.align.normalizers`); ``"none"`` is Moschella et al.'s plain cosine.
        (Deprecated spellings: ``source_preprocessing``, ``target_preprocessing``.)

    Attributes
    ----------
    source_anchors_, target_anchors_ : ndarray of shape (k, d_x) / (k, d_y)
        The normalised, unit-norm anchors.
    output_dim : int
        ``k``, the dimension of the relative space.
    """

    comparison_space = "normalized"  # the relative space is its only one

    def __init__(self, *, source_norm: str | Sequence[str] | None = "center",
                 target_norm: str | Sequence[str] | None = "center", **deprecated: Any) -> None:
        given = {"source_norm": source_norm, "target_norm": target_norm}
        self._take_deprecated_keywords(given, deprecated, default="center")
        super().__init__("identity", **given)

    def __repr__(self) -> str:
        state = f"{self.n_anchors_} anchors" if self.is_fitted else "unfitted"
        return (f"RelativeTranslator(source_norm={self.source_norm!r}, "
                f"target_norm={self.target_norm!r}, {state})")

    def fit(self, source: Embeddings | Any, target: Embeddings | Any) -> RelativeTranslator:
        """Keep the normalised anchor pairs: row ``i`` of ``source`` pairs with row ``i`` of
        ``target``. Returns ``self``."""
        src_fp = source.fingerprint if isinstance(source, Embeddings) else None
        tgt_fp = target.fingerprint if isinstance(target, Embeddings) else None
        X = check_matrix(source, "source", dtype=np.float64)
        Y = check_matrix(target, "target", dtype=np.float64)
        check_paired(X, Y, ("source", "target"))
        if X.shape[0] < 2:
            raise TooFewAnchorsError(f"relative representations need at least 2 anchors, got "
                                     f"{X.shape[0]}")
        source_pre = SpaceNormalizer(parse_steps(self.source_norm)).fit(X)
        target_pre = SpaceNormalizer(parse_steps(self.target_norm)).fit(Y)
        self._set_state(l2_normalize(source_pre.transform(X)),
                        l2_normalize(target_pre.transform(Y)), source_pre, target_pre, src_fp,
                        tgt_fp)
        return self

    def _set_state(self, A: np.ndarray, B: np.ndarray, source_pre: SpaceNormalizer,
                   target_pre: SpaceNormalizer, src_fp: Fingerprint | None,
                   tgt_fp: Fingerprint | None) -> None:
        self.source_anchors_, self.target_anchors_ = A, B
        self.source_norm_, self.target_norm_ = source_pre, target_pre
        self.target_mean_ = None  # no raw target output, so no centred one either
        self.source_fingerprint_, self.target_fingerprint_ = src_fp, tgt_fp
        self.n_anchors_ = int(A.shape[0])
        self.source_dim_, self.target_dim_ = int(A.shape[1]), int(B.shape[1])

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "source_anchors_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this RelativeTranslator is not fitted yet; call fit(source, "
                                 "target) on anchor pairs first")

    @property
    def output_dim(self) -> int:
        """The number of anchors: the dimension of the relative space."""
        self._check_fitted()
        return self.n_anchors_

    def folded(self, *, space: str = "raw") -> None:
        """``None``: cosines to the anchors are not an affine map of the input; nothing folds."""
        return None

    def _relative(self, data: Any, side: str) -> np.ndarray:
        Z = getattr(self, f"{side}_norm_").transform(self._check_side(data, side))
        return (l2_normalize(Z) @ getattr(self, f"{side}_anchors_").T).astype(np.float32)

    # -- translating -------------------------------------------------------------------------
    def iter_transform(self, source: Embeddings | Any, *, batch_size: int = DEFAULT_BATCH_SIZE,
                       space: str = "raw", normalized: bool | None = None
                       ) -> Iterator[np.ndarray]:
        """Yield the relative representations of ``source`` (float32, ``k`` columns) in chunks.

        Raises
        ------
        InvalidInputError
            ``space`` other than ``"normalized"``: relative representations have no raw or
            centred target-space output.
        """
        self._check_fitted()
        if check_space(self._space_from_normalized(space, normalized)) != "normalized":
            raise InvalidInputError(
                f"a RelativeTranslator maps into the relative space only (cosines to the "
                f"anchors), not into the target encoder's {space!r} space; use "
                f"space='normalized' (also in ZeroShotClassifier and StitchedClassifier)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        array = self._check_header(source, "source")
        for start in range(0, array.shape[0], batch_size):
            yield self._relative(array[start:start + batch_size], "source")

    def transform(self, source: Embeddings | Any, *, space: str = "raw",
                  batch_size: int = DEFAULT_BATCH_SIZE, normalized: bool | None = None) -> Any:
        """The relative representations of source embeddings (``space="normalized"`` only).

        Returns
        -------
        Embeddings or numpy.ndarray
            Same kind as the input, shape (m, k).
        """
        n = self._check_header(source, "source").shape[0]
        space = self._space_from_normalized(space, normalized)
        out = np.empty((n, self.n_anchors_), np.float32)  # filled chunk by chunk: no parts
        pos = 0
        for chunk in self.iter_transform(source, batch_size=batch_size, space=space):
            out[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if isinstance(source, Embeddings):
            meta = {**source.metadata, "relative": {"anchors": self.n_anchors_}}
            return Embeddings(out, source.ids, None, meta)
        return out

    def transform_target(self, target: Embeddings | Any, *,
                         space: str = "normalized") -> np.ndarray:
        """The relative representations of target-space vectors (float32, ``k`` columns);
        ``space="normalized"`` only."""
        if check_space(space) != "normalized":
            raise InvalidInputError(f"a RelativeTranslator has the relative space only "
                                    f"(space='normalized'), not {space!r}")
        return self._relative(target, "target")

    def normalize_source(self, source: Embeddings | Any) -> np.ndarray:
        """The relative representations of source-space vectors (same as ``transform``)."""
        return self._relative(source, "source")

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the anchors and normalisers to one checksummed safetensors file."""
        self._check_fitted()
        tensors = {"source_anchors": self.source_anchors_,
                   "target_anchors": self.target_anchors_,
                   **self.source_norm_.state("source"),
                   **self.target_norm_.state("target")}
        header = {"source_norm": list(self.source_norm_.steps),
                  "target_norm": list(self.target_norm_.steps),
                  "source_fingerprint": (self.source_fingerprint_.to_dict()
                                         if self.source_fingerprint_ else None),
                  "target_fingerprint": (self.target_fingerprint_.to_dict()
                                         if self.target_fingerprint_ else None)}
        return write_arrays(path, tensors, format=_FORMAT, version=_VERSION, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_unverified: bool = False
             ) -> RelativeTranslator:
        """Read a file written by :meth:`save` (no pickle)."""
        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION,
                                  allow_unverified=allow_unverified)
        try:
            steps = {side: doc.get(f"{side}_norm", doc.get(f"{side}_preprocessing"))
                     for side in ("source", "target")}  # version 1: *_preprocessing
            if None in steps.values():
                raise KeyError("source_norm/target_norm")
            obj = cls(source_norm=steps["source"], target_norm=steps["target"])
            A = np.asarray(arrays["source_anchors"], np.float64)
            B = np.asarray(arrays["target_anchors"], np.float64)
            if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
                raise ValueError(f"anchor arrays of shapes {A.shape} and {B.shape}")
            fps = [Fingerprint.from_dict(doc[k]) if doc.get(k) else None
                   for k in ("source_fingerprint", "target_fingerprint")]
            obj._set_state(A, B, SpaceNormalizer.from_state(steps["source"], arrays, "source"),
                           SpaceNormalizer.from_state(steps["target"], arrays, "target"), *fps)
            obj.transform(np.zeros((1, obj.source_dim_)), space="normalized")  # fail now
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CorruptFileError(f"{path} is damaged or incomplete: {exc!r}") from exc
        return obj
