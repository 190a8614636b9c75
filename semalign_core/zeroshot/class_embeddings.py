"""One vector per class, from any mix of prompts and labelled texts: :class:`ClassEmbeddings`.

A *source* is one way of describing the classes: a prompt set (optionally filled from templates),
real texts of each class (e.g. held-out reports), or precomputed vectors. Within a source, a
class's vector is the **unit mean** of its L2-normalised text embeddings (every text weighs the
same, whatever its norm). Across sources, two rules:

``"mean"``
    The plain mean of the sources' unit means, **not** renormalised: the shipped zero-shot
    recipe's rule (:mod:`semalign_core.experiments.recipes`). The norm of the mean shrinks where
    the sources disagree, which matters once the class vectors are centred on the target anchors.
``"ensemble"``
    The same mean renormalised to unit norm (the prompt-ensemble convention of
    :func:`~semalign_core.zeroshot.prompts.ensemble_embedding`).

With one source the two rules give the same direction. Everything lives in the text encoder's own
(raw) space; :class:`~semalign_core.ZeroShotClassifier` maps the vectors into its comparison space.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._numerics import l2_normalize, unit_mean
from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..errors import (
    CorruptFileError,
    DimensionMismatchError,
    EncoderMismatchError,
    InvalidInputError,
)
from ..fileio import read_arrays, write_arrays
from .prompts import PromptSet, TextSource, _embed_texts, _text_fingerprint

__all__ = ["RULES", "ClassEmbeddings", "unit_mean"]

#: How :class:`ClassEmbeddings` combines its sources (see the module docstring).
RULES = ("mean", "ensemble")
_FORMAT = "semalign.class-embeddings"
_VERSION = 1


def _check_rule(rule: Any) -> str:
    if rule not in RULES:
        raise InvalidInputError(f"rule must be one of {RULES}, got {rule!r}")
    return str(rule)


def _texts_by_class(texts: Any, labels: Sequence[str] | None) -> dict[str, list[str]]:
    """``{class: texts}``, or parallel ``texts``/``labels`` sequences, as ``{class: texts}``."""
    if labels is not None:
        texts, labels = list(texts), [str(label) for label in labels]
        if len(texts) != len(labels):
            raise DimensionMismatchError(f"{len(texts)} texts but {len(labels)} labels")
        grouped: dict[str, list[str]] = {}
        for text, label in zip(texts, labels, strict=True):
            grouped.setdefault(label, []).append(text)
        return {c: list(dict.fromkeys(v)) for c, v in grouped.items()}
    if not isinstance(texts, Mapping):
        raise InvalidInputError("texts must map each class to its texts, or come with labels= "
                                "(one label per text)")
    return {str(c): [t] if isinstance(t, str) else list(dict.fromkeys(t))
            for c, t in texts.items()}


class ClassEmbeddings:
    """Class vectors in a text encoder's space, built from one or more sources of texts.

    Build them with :meth:`from_prompts`, :meth:`from_texts` or :meth:`from_vectors`, and join
    sources with :meth:`combine` (or ``+``). Pass the result to
    ``ZeroShotClassifier(translator, class_embeddings)``.

    Parameters
    ----------
    means : array-like of shape (n_sources, n_classes, dim)
        Each source's unit-mean vector per class.
    classes : sequence of str
    sources : sequence of str
        A name per source (``"prompts"``, ``"reports"``...), distinct.
    rule : {"mean", "ensemble"}
        How :attr:`vectors` combines the sources (module docstring).
    fingerprint : Fingerprint, optional
        The text encoder the vectors come from; checked against the translator's target.
    texts : mapping, optional
        ``{source: {class: [text or id, ...]}}``: what built each vector (saved with it).

    Examples
    --------
    >>> import numpy as np
    >>> a = ClassEmbeddings.from_vectors({"x": [[1.0, 0.0]], "y": [[0.0, 1.0]]}, name="a")
    >>> b = ClassEmbeddings.from_vectors({"x": [[0.0, 1.0]], "y": [[0.0, 1.0]]}, name="b")
    >>> np.round((a + b).vectors, 3).astype(float).tolist()   # the recipe: not renormalised
    [[0.5, 0.5], [0.0, 1.0]]
    >>> np.round((a + b).with_rule("ensemble").vectors.astype(float), 3).tolist()
    [[0.707, 0.707], [0.0, 1.0]]
    """

    def __init__(self, means: Any, classes: Sequence[str], sources: Sequence[str], *,
                 rule: str = "mean", fingerprint: Fingerprint | None = None,
                 texts: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> None:
        M = np.asarray(means, dtype=np.float64)
        self.classes = tuple(str(c) for c in classes)
        self.sources = tuple(str(s) for s in sources)
        if M.ndim != 3 or M.shape[:2] != (len(self.sources), len(self.classes)):
            raise DimensionMismatchError(
                f"means must have shape (n_sources={len(self.sources)}, n_classes="
                f"{len(self.classes)}, dim), got {M.shape}")
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise InvalidInputError(f"classes must be distinct and non-empty, got {self.classes}")
        if len(set(self.sources)) != len(self.sources):
            raise InvalidInputError(f"source names must be distinct, got {self.sources}; name "
                                    f"them with name=")
        if not np.isfinite(M).all():
            raise InvalidInputError("class vectors hold NaN or inf")
        self.means = M
        self.rule = _check_rule(rule)
        self.fingerprint = fingerprint
        self.texts = {s: {c: list(v) for c, v in d.items()} for s, d in (texts or {}).items()}

    def __repr__(self) -> str:
        return (f"ClassEmbeddings({len(self.classes)} classes, sources={list(self.sources)}, "
                f"rule={self.rule!r}, dim={self.dim})")

    @property
    def dim(self) -> int:
        return int(self.means.shape[2])

    @property
    def vectors(self) -> np.ndarray:
        """One float32 row per class (in :attr:`classes` order), combined by :attr:`rule`."""
        return self.mean_of_sources() if self.rule == "mean" else self.ensemble()

    def mean_of_sources(self) -> np.ndarray:
        """The recipe's rule: the mean over sources of the unit means, not renormalised."""
        return self.means.mean(axis=0).astype(np.float32)

    def ensemble(self) -> np.ndarray:
        """The mean over sources renormalised to unit norm (float32)."""
        return l2_normalize(self.means.mean(axis=0)).astype(np.float32)

    def with_rule(self, rule: str) -> ClassEmbeddings:
        """The same sources combined by another rule."""
        return ClassEmbeddings(self.means, self.classes, self.sources, rule=rule,
                               fingerprint=self.fingerprint, texts=self.texts)

    def to_embeddings(self) -> Embeddings:
        """:attr:`vectors` as :class:`Embeddings` whose ids are the class names."""
        return Embeddings(self.vectors, list(self.classes), self.fingerprint,
                          {"class_embeddings": {"sources": list(self.sources),
                                                "rule": self.rule}})

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_vectors(cls, vectors: Mapping[str, Any], *, name: str = "vectors",
                     fingerprint: Fingerprint | None = None, rule: str = "mean",
                     texts: Mapping[str, Sequence[str]] | None = None) -> ClassEmbeddings:
        """One source from ``{class: (n_texts, dim) embeddings}`` (each class's unit mean)."""
        if not isinstance(vectors, Mapping) or not vectors:
            raise InvalidInputError("vectors must map each class to its text embeddings")
        means = []
        for label, V in vectors.items():
            try:
                means.append(unit_mean(np.atleast_2d(np.asarray(V, dtype=np.float64))))
            except InvalidInputError as exc:
                raise InvalidInputError(f"class {label!r} of source {name!r}: {exc}") from None
        dims = {len(m) for m in means}
        if len(dims) != 1:
            raise DimensionMismatchError(f"source {name!r} mixes dimensions {sorted(dims)}")
        return cls(np.stack(means)[None], list(vectors), [name], rule=rule,
                   fingerprint=fingerprint, texts={name: dict(texts)} if texts else None)

    @classmethod
    def from_texts(cls, texts: Any, text_source: TextSource, *, labels: Sequence[str] | None = None,
                   name: str = "texts", rule: str = "mean") -> ClassEmbeddings:
        """One source from labelled texts: ``{class: texts}``, or ``texts`` with ``labels=``.

        A text listed twice for one class counts once.

        ``text_source`` is a text :class:`~semalign_core.Encoder`, or :class:`Embeddings` in
        which each text is looked up by id (ids = the texts, or any ids you pass as "texts",
        e.g. report ids of cached report embeddings).
        """
        grouped = _texts_by_class(texts, labels)
        unique = list(dict.fromkeys(t for group in grouped.values() for t in group))
        if not unique:
            raise InvalidInputError(f"source {name!r} has no texts")
        V = _embed_texts(text_source, unique)
        row = {t: i for i, t in enumerate(unique)}
        return cls.from_vectors({c: V[[row[t] for t in group]] for c, group in grouped.items()},
                                name=name, fingerprint=_text_fingerprint(text_source), rule=rule,
                                texts=grouped)

    @classmethod
    def from_prompts(cls, prompts: PromptSet | Mapping[str, Any], text_source: TextSource, *,
                     templates: str | Sequence[str] | None = None, name: str = "prompts",
                     rule: str = "mean") -> ClassEmbeddings:
        """One source from a :class:`PromptSet`, a ``{class: prompt(s)}`` mapping, or class
        terms filled into ``templates`` (:meth:`PromptSet.from_templates`)."""
        if not isinstance(prompts, PromptSet):
            prompts = (PromptSet.from_templates(prompts, templates) if templates is not None
                       else PromptSet(prompts))
        elif templates is not None:
            raise InvalidInputError("templates= fills class terms; a PromptSet is already filled")
        if prompts.is_multilabel:
            raise InvalidInputError("ClassEmbeddings are single-label; pass the multi-label "
                                    "PromptSet to ZeroShotClassifier directly")
        return cls.from_texts(prompts.prompts, text_source, name=name, rule=rule)

    def combine(self, *others: ClassEmbeddings, rule: str | None = None) -> ClassEmbeddings:
        """All sources of ``self`` and ``others`` in one object (classes in ``self``'s order)."""
        parts = (self, *others)
        for other in others:
            if not isinstance(other, ClassEmbeddings):
                raise InvalidInputError(f"can only combine ClassEmbeddings, got "
                                        f"{type(other).__name__}")
            if set(other.classes) != set(self.classes):
                raise InvalidInputError(f"sources describe different classes: {self.classes} "
                                        f"vs. {other.classes}; every source needs every class")
            if other.dim != self.dim:
                raise DimensionMismatchError(f"sources of {self.dim} and {other.dim} dimensions")
            if (other.fingerprint is not None and self.fingerprint is not None
                    and other.fingerprint != self.fingerprint):
                raise EncoderMismatchError(f"sources from two text encoders: "
                                           f"{self.fingerprint.describe()} and "
                                           f"{other.fingerprint.describe()}")
        means = np.concatenate([p.means[:, [p.classes.index(c) for c in self.classes]]
                                for p in parts])
        fp = next((p.fingerprint for p in parts if p.fingerprint is not None), None)
        texts = {s: t for p in parts for s, t in p.texts.items()}
        return ClassEmbeddings(means, self.classes, [s for p in parts for s in p.sources],
                               rule=rule or self.rule, fingerprint=fp, texts=texts)

    def __add__(self, other: ClassEmbeddings) -> ClassEmbeddings:
        return self.combine(other)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one checksummed safetensors file (JSON header), atomically."""
        header = {"classes": list(self.classes), "sources": list(self.sources),
                  "rule": self.rule, "texts": self.texts,
                  "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None}
        return write_arrays(path, {"means": self.means}, format=_FORMAT, version=_VERSION,
                            header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClassEmbeddings:
        """Read a file written by :meth:`save` (no pickle)."""
        arrays, doc = read_arrays(path, format=_FORMAT, max_version=_VERSION)
        try:
            fp = Fingerprint.from_dict(doc["fingerprint"]) if doc.get("fingerprint") else None
            return cls(arrays["means"], doc["classes"], doc["sources"], rule=doc["rule"],
                       fingerprint=fp, texts=doc.get("texts"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{path} is damaged or incomplete: {exc!r}") from exc

