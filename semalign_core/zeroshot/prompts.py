"""Prompt sets for zero-shot classification: classes (or findings) and the texts that describe them.

:class:`PromptSet` holds one or more prompts per class, optionally filled in from templates, or a
positive and a negative prompt set per finding for multi-label (CheXzero-style) scoring. A class's
ensemble embedding is the mean of its L2-normalised prompt embeddings, renormalised
(:func:`ensemble_embedding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._numerics import unit_mean
from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..encoding.encoder import Encoder
from ..errors import (
    DimensionMismatchError,
    InvalidInputError,
)
from ..validation import check_matrix

__all__ = ["PromptSet", "TextSource", "ensemble_embedding"]

TextSource = Encoder | Embeddings


# -- helpers ---------------------------------------------------------------------------------------
def ensemble_embedding(vectors: Any) -> np.ndarray:
    """The ensemble embedding of one class: mean of L2-normalised rows, renormalised.

    Normalising each prompt first gives every prompt the same weight, whatever its norm.

    Parameters
    ----------
    vectors : array-like of shape (n_prompts, dim)

    Returns
    -------
    numpy.ndarray of shape (dim,), float32, unit norm
    """
    return unit_mean(check_matrix(vectors, "vectors", dtype=np.float64)).astype(np.float32)


def _normalise_prompt_list(name: str, prompts: str | Iterable[str], what: str) -> tuple[str, ...]:
    if not isinstance(prompts, str) and not isinstance(prompts, Iterable):
        raise InvalidInputError(f"{what} of class {name!r} must be a string or a list of "
                                f"strings, got {type(prompts).__name__} {prompts!r}")
    items = (prompts,) if isinstance(prompts, str) else tuple(prompts)
    if not items:
        raise InvalidInputError(f"class {name!r} has no {what}; give at least one")
    for text in items:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{what} of class {name!r} must be non-empty strings, "
                                    f"got {text!r}")
    if len(set(items)) != len(items):
        dup = next(t for i, t in enumerate(items) if t in items[:i])
        raise InvalidInputError(f"class {name!r} lists the {what[:-1]} {dup!r} twice; a "
                                f"duplicate would silently double its weight in the ensemble")
    return items


def _pairs(spec: Mapping[str, Any] | Iterable[tuple[str, Any]], what: str) -> list[tuple[str, Any]]:
    """Mapping or sequence of (name, value) pairs -> list of pairs, duplicates refused."""
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, str | bytes):
        raise InvalidInputError(f"{what} must map class names to prompts, got a string")
    else:
        try:
            pairs = [(name, value) for name, value in spec]
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{what} must be a mapping {{class: prompts}} or a sequence of "
                f"(class, prompts) pairs") from None
    seen: set[str] = set()
    for name, _ in pairs:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"class names must be non-empty strings, got {name!r}")
        if name in seen:
            raise InvalidInputError(f"duplicate class name {name!r} in {what}; each class must "
                                    f"appear once (list all its prompts under one name)")
        seen.add(name)
    return pairs


def _format_template(template: str, term: str) -> str:
    if not isinstance(template, str):
        raise InvalidInputError(f"templates must be strings, got {template!r}")
    try:
        text = template.format(term, finding=term)
        # a template without a placeholder would give every class the same prompt
        probe = template.format("\x00", finding="\x00")
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInputError(f"template {template!r} is not usable ({exc!r}); use '{{}}' or "
                                f"'{{finding}}' as the placeholder for the class term") from None
    if "\x00" not in probe:
        raise InvalidInputError(f"template {template!r} has no placeholder; use '{{}}' or "
                                f"'{{finding}}' where the class term goes")
    return text


# -- prompts -------------------------------------------------------------------------------------
class PromptSet:
    """Class names and the prompts that describe them.

    Parameters
    ----------
    prompts : mapping or sequence of (name, prompts) pairs
        Each class name maps to one prompt (a string) or several (an ensemble).
    negatives : mapping or sequence of pairs, optional
        Multi-label (CheXzero-style) mode: for every class (finding) in ``prompts``, the prompts
        saying it is *absent*. The probability of a finding is then the softmax over the pair
        (positive ensemble, negative ensemble).

    Raises
    ------
    InvalidInputError
        An empty prompt set, a class without prompts, a duplicate class name, a prompt listed
        twice for one class, or negatives whose classes differ from the positives'.

    Examples
    --------
    >>> ps = PromptSet.from_templates({"pneumonia": ["pneumonia", "consolidation"],
    ...                                "normal": "no acute findings"},
    ...                               ["a chest x-ray showing {finding}."])
    >>> ps.classes
    ('pneumonia', 'normal')
    >>> ps.prompts["pneumonia"]
    ('a chest x-ray showing pneumonia.', 'a chest x-ray showing consolidation.')
    """

    def __init__(self, prompts: Mapping[str, str | Sequence[str]]
                 | Iterable[tuple[str, str | Sequence[str]]],
                 negatives: Mapping[str, str | Sequence[str]]
                 | Iterable[tuple[str, str | Sequence[str]]] | None = None) -> None:
        pairs = _pairs(prompts, "prompts")
        if not pairs:
            raise InvalidInputError("the prompt set is empty; give at least one class with at "
                                    "least one prompt")
        self._prompts = {name: _normalise_prompt_list(name, value, "prompts")
                         for name, value in pairs}
        self._negatives: dict[str, tuple[str, ...]] | None = None
        if negatives is not None:
            neg_pairs = dict(_pairs(negatives, "negatives"))
            missing = [c for c in self._prompts if c not in neg_pairs]
            extra = [c for c in neg_pairs if c not in self._prompts]
            if missing or extra:
                raise InvalidInputError(
                    f"multi-label prompts need a negative prompt set for exactly the positive "
                    f"classes; missing negatives for {missing}, negatives without a class: "
                    f"{extra}")
            self._negatives = {name: _normalise_prompt_list(name, neg_pairs[name],
                                                            "negative prompts")
                               for name in self._prompts}

    @classmethod
    def from_templates(cls, classes: Sequence[str] | Mapping[str, str | Sequence[str]],
                       templates: str | Sequence[str], *,
                       negative_templates: str | Sequence[str] | None = None) -> PromptSet:
        """Build prompts by filling templates with each class's term(s).

        Parameters
        ----------
        classes : sequence of str, or mapping name -> term or terms
            A sequence uses each class name as its term; a mapping gives the words to insert
            (several terms = synonyms, all in the class's ensemble).
        templates : str or sequence of str
            With ``{}`` or ``{finding}`` where the term goes, e.g. ``"{finding} is present."``.
        negative_templates : str or sequence of str, optional
            Multi-label mode: templates for the negative prompts, e.g. ``"no {finding}."``.
        """
        if isinstance(classes, Mapping):
            terms = list(_pairs(classes, "classes"))
        elif isinstance(classes, str):
            raise InvalidInputError("classes must be a sequence of names or a mapping, got a "
                                    "single string; wrap it in a list")
        else:
            terms = [(name, name) for name in classes]
            _pairs(terms, "classes")
        temps = _normalise_prompt_list("<templates>", templates, "templates")

        def build(templates_: tuple[str, ...]) -> list[tuple[str, list[str]]]:
            out = []
            for name, value in terms:
                words = _normalise_prompt_list(name, value, "terms")
                out.append((name, [_format_template(t, w) for t in templates_ for w in words]))
            return out

        negatives = None
        if negative_templates is not None:
            negatives = build(_normalise_prompt_list("<negative templates>", negative_templates,
                                                     "templates"))
        return cls(build(temps), negatives)

    # -- views ---------------------------------------------------------------------------------
    @property
    def classes(self) -> tuple[str, ...]:
        """Class (finding) names, in order."""
        return tuple(self._prompts)

    @property
    def prompts(self) -> dict[str, tuple[str, ...]]:
        """Positive prompts per class."""
        return dict(self._prompts)

    @property
    def negatives(self) -> dict[str, tuple[str, ...]] | None:
        """Negative prompts per class in multi-label mode, else ``None``."""
        return None if self._negatives is None else dict(self._negatives)

    @property
    def is_multilabel(self) -> bool:
        return self._negatives is not None

    def __len__(self) -> int:
        return len(self._prompts)

    def __repr__(self) -> str:
        n = sum(map(len, self._prompts.values()))
        mode = ", multi-label" if self.is_multilabel else ""
        return f"PromptSet({len(self)} classes, {n} prompts{mode})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PromptSet) and self._prompts == other._prompts
                and self._negatives == other._negatives)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: not hashable

    def texts(self) -> tuple[str, ...]:
        """Every distinct prompt text (positives, then negatives), in first-seen order."""
        groups = list(self._prompts.values()) + list((self._negatives or {}).values())
        return tuple(dict.fromkeys(t for group in groups for t in group))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (see :meth:`from_dict`)."""
        return {"prompts": {k: list(v) for k, v in self._prompts.items()},
                "negatives": None if self._negatives is None
                else {k: list(v) for k, v in self._negatives.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptSet:
        return cls(data["prompts"], data.get("negatives"))

    # -- embedding -----------------------------------------------------------------------------
    def embed(self, text_source: TextSource) -> np.ndarray:
        """Embed :meth:`texts` with a text encoder, or look them up in precomputed embeddings.

        Parameters
        ----------
        text_source : Encoder or Embeddings
            A text :class:`~semalign_core.Encoder`, or :class:`~semalign_core.Embeddings` whose
            ids are the prompt texts.

        Returns
        -------
        numpy.ndarray of shape (len(texts()), dim), float32, rows in :meth:`texts` order
        """
        return _embed_texts(text_source, self.texts())

    def class_embeddings(self, text_vectors: Any, *, negative: bool = False) -> np.ndarray:
        """Ensemble embeddings, one row per class (see :func:`ensemble_embedding`).

        Parameters
        ----------
        text_vectors : Encoder, Embeddings or array of shape (len(texts()), dim)
            Prompt embeddings, or a text source to compute them with (:meth:`embed`). An array
            must follow :meth:`texts` order; transform it first (e.g. with
            :meth:`Translator.transform_target`) to ensemble in another space.
        negative : bool
            Ensemble the negative prompts instead (multi-label mode only).

        Returns
        -------
        numpy.ndarray of shape (n_classes, dim), float32
        """
        if isinstance(text_vectors, Encoder | Embeddings):
            text_vectors = self.embed(text_vectors)
        texts = self.texts()
        V = check_matrix(text_vectors, "text_vectors", dtype=np.float64)
        if V.shape[0] != len(texts):
            raise DimensionMismatchError(f"text_vectors has {V.shape[0]} rows but the prompt set "
                                         f"has {len(texts)} distinct texts; pass embed() output")
        if negative and self._negatives is None:
            raise InvalidInputError("negative=True needs a multi-label PromptSet (negatives=...)")
        groups = self._negatives if negative else self._prompts
        assert groups is not None
        row = {t: i for i, t in enumerate(texts)}
        return np.stack([ensemble_embedding(V[[row[t] for t in group]])
                         for group in groups.values()])


def _text_fingerprint(source: TextSource) -> Fingerprint | None:
    return source.fingerprint


def _text_dim(source: TextSource) -> int:
    return source.fingerprint.dim if isinstance(source, Encoder) else source.dim


def _check_text_source(source: Any) -> TextSource:
    if isinstance(source, Encoder):
        if source.modality != "text":
            raise InvalidInputError(f"{type(source).__name__} is a {source.modality!r} encoder; "
                                    f"prompts need a text encoder")
        return source
    if isinstance(source, Embeddings):
        return source
    raise InvalidInputError(
        f"text_encoder must be a text Encoder or Embeddings of the prompts (ids = prompt texts, "
        f"or class names for precomputed class embeddings), got {type(source).__name__}")


def _embed_texts(source: TextSource, texts: Sequence[str]) -> np.ndarray:
    source = _check_text_source(source)
    if isinstance(source, Encoder):
        return source.encode(list(texts), progress=False).vectors
    known = set(source.ids)
    missing = [t for t in texts if t not in known]
    if missing:
        raise InvalidInputError(
            f"{len(missing)} prompt(s) have no precomputed embedding, e.g. {missing[0]!r}; "
            f"encode every prompt text (ids must be the texts) or pass the text encoder")
    return source.vectors[source.positions(texts)]
