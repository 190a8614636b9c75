"""Zero-shot classification for a unimodal vision encoder, through a fitted translator.

The seed paper's method: translate image embeddings into a text encoder's space, embed one prompt
(or an ensemble) per class with that text encoder, and label each image by its nearest class
embedding.

:class:`PromptSet`
    Classes and their prompts (optionally from templates); positive/negative prompt pairs per
    finding for multi-label, CheXzero-style scoring.
:class:`LabelIndex`
    A FAISS exact inner-product index over class embeddings (on the GPU when FAISS sees one),
    which remembers the prompts behind each label and saves/loads without pickle.
:class:`ZeroShotClassifier`
    ``predict`` / ``predict_proba`` / ``decision_scores`` for image embeddings of the
    translator's source encoder, streamed in batches. Opt-in, *transductive* threshold
    calibration for two classes: ``calibration="gmm"``, then
    :meth:`ZeroShotClassifier.fit_calibration` on an unlabeled batch (see :func:`gmm_threshold`
    and docs/zeroshot.md).
:func:`gmm_threshold`
    The decision threshold where a two-component Gaussian mixture fitted to unlabeled scores
    gives equal posteriors.

FAISS is imported lazily (the ``semalign-core[faiss]`` extra), scikit-learn only by the GMM
calibration; nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import Embeddings
from .encoders import Encoder
from .errors import (
    CorruptFileError,
    DimensionMismatchError,
    EncoderMismatchError,
    InvalidInputError,
    NotFittedError,
)
from .fileio import read_arrays, write_arrays
from .fingerprint import Fingerprint
from .translator import Translator, check_fitted_translator
from .validation import check_matrix

__all__ = ["CALIBRATIONS", "DEVICES", "MIN_CALIBRATION_ITEMS", "Calibration", "LabelIndex",
           "PromptSet", "ZeroShotClassifier", "ensemble_embedding", "gmm_threshold"]

DEVICES = ("auto", "cpu", "cuda")
#: Decision calibrations of :class:`ZeroShotClassifier`: ``"none"`` (argmax) or ``"gmm"``
#: (transductive threshold from an unlabeled batch, two classes only).
CALIBRATIONS = ("none", "gmm")
#: The fewest unlabeled scores :func:`gmm_threshold` fits a mixture to: with fewer, the two
#: components' means and spreads are too noisy for the threshold to mean anything.
MIN_CALIBRATION_ITEMS = 20
_INDEX_FORMAT = "semalign.label_index"
_INDEX_VERSION = 1
_EPS = 1e-12
#: FAISS GPU flat indexes answer at most this many neighbours per query.
_GPU_MAX_K = 2048

TextSource = Encoder | Embeddings


# -- helpers ---------------------------------------------------------------------------------------
def _l2_normalize(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, _EPS)


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
    V = check_matrix(vectors, "vectors", dtype=np.float64)
    mean = _l2_normalize(V).mean(axis=0)
    norm = np.linalg.norm(mean)
    if norm < _EPS:
        raise InvalidInputError("the prompt embeddings of a class cancel out (their normalised "
                                "mean is zero); use prompts that do not contradict each other")
    return (mean / norm).astype(np.float32)


def _normalise_prompt_list(name: str, prompts: str | Iterable[str], what: str) -> tuple[str, ...]:
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
            :meth:`Translator.preprocess_target`) to ensemble in another space.
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


# -- the label index ---------------------------------------------------------------------------
def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("LabelIndex needs FAISS: pip install 'semalign-core[faiss]' "
                          "(faiss-cpu), or faiss-gpu for GPU search") from exc
    return faiss


def _faiss_num_gpus(faiss: Any) -> int:
    """GPUs FAISS can use. faiss-gpu imports fine on CPU-only machines and reports 0 there."""
    getter = getattr(faiss, "get_num_gpus", None)
    if getter is None or not hasattr(faiss, "StandardGpuResources"):
        return 0  # a CPU-only FAISS build
    try:
        return int(getter())
    except Exception:  # a broken CUDA runtime: behave like a CPU-only machine
        return 0


def _resolve_device(device: str, faiss: Any) -> str:
    if device not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES}, got {device!r}")
    n_gpus = _faiss_num_gpus(faiss)
    if device == "cuda" and n_gpus == 0:
        raise InvalidInputError(
            "device='cuda' was requested but FAISS sees no GPU (faiss-cpu installed, no CUDA "
            "device, or no driver); install faiss-gpu on a GPU machine, or use device='auto' "
            "or 'cpu'")
    if device == "auto":
        return "cuda" if n_gpus > 0 else "cpu"
    return device


def _make_gpu_index(faiss: Any, dim: int) -> tuple[Any, Any]:
    """A flat inner-product index on GPU 0 and the resources that must outlive it."""
    resources = faiss.StandardGpuResources()
    if hasattr(faiss, "GpuIndexFlatIP"):
        return faiss.GpuIndexFlatIP(resources, dim), resources
    return faiss.index_cpu_to_gpu(resources, 0, faiss.IndexFlatIP(dim)), resources


class LabelIndex:
    """A FAISS exact inner-product index over class embeddings.

    Parameters
    ----------
    labels : sequence of str
        One unique label per row of ``embeddings``.
    embeddings : array-like of shape (n_labels, dim)
        Class embeddings, used as given (L2-normalise them for cosine scores).
    prompts : mapping label -> sequence of str, optional
        The prompts each label was built from (kept for reports and saved with the index).
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` searches on the GPU when ``faiss.get_num_gpus() > 0``, else on the CPU.
        ``"cuda"`` without a GPU raises :class:`InvalidInputError`.
    metadata : mapping, optional
        JSON-serialisable extras saved with the index (e.g. the space the embeddings live in).

    Attributes
    ----------
    device_ : {"cpu", "cuda"}
        Where searches run.

    Examples
    --------
    >>> import numpy as np
    >>> index = LabelIndex(["cat", "dog"], np.eye(2, dtype=np.float32), device="cpu")
    >>> labels, scores = index.search(np.array([[0.2, 0.9]], dtype=np.float32), k=1)
    >>> labels.tolist(), scores.round(2).tolist()
    ([['dog']], [[0.9]])
    """

    def __init__(self, labels: Sequence[str], embeddings: Any, *,
                 prompts: Mapping[str, Sequence[str]] | None = None, device: str = "auto",
                 metadata: Mapping[str, Any] | None = None) -> None:
        labels = tuple(labels)
        pairs = _pairs([(label, None) for label in labels], "labels")
        if not pairs:
            raise InvalidInputError("a LabelIndex needs at least one label")
        E = check_matrix(embeddings, "embeddings", dtype=np.float32)
        if E.shape[0] != len(labels):
            raise DimensionMismatchError(f"got {len(labels)} labels for {E.shape[0]} embeddings; "
                                         f"pass one label per row")
        prompts = dict(prompts or {})
        unknown = [k for k in prompts if k not in labels]
        if unknown:
            raise InvalidInputError(f"prompts given for unknown label(s) {unknown}")
        self.labels: tuple[str, ...] = labels
        self.embeddings = E
        self.prompts: dict[str, tuple[str, ...]] = {
            label: tuple(prompts.get(label, ())) for label in labels}
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.device = device
        faiss = _import_faiss()
        self.device_ = _resolve_device(device, faiss)
        self._resources = None  # GPU resources must live as long as the GPU index
        if self.device_ == "cuda":
            self._index, self._resources = _make_gpu_index(faiss, self.dim)
        else:
            self._index = faiss.IndexFlatIP(self.dim)
        self._index.add(E)

    @classmethod
    def from_prompts(cls, prompt_set: PromptSet, text_source: TextSource, *,
                     device: str = "auto") -> LabelIndex:
        """Index the ensemble embeddings of ``prompt_set``'s positive prompts, in the text
        encoder's raw space (see :class:`ZeroShotClassifier` to compare translated images)."""
        return cls(prompt_set.classes, prompt_set.class_embeddings(text_source),
                   prompts=prompt_set.prompts, device=device)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"LabelIndex({len(self)} labels, dim={self.dim}, device={self.device_!r})"

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def _queries(self, vectors: Any) -> np.ndarray:
        if isinstance(vectors, Embeddings):
            vectors = vectors.vectors
        Q = check_matrix(vectors, "vectors", dtype=np.float32, min_rows=0)
        if Q.shape[1] != self.dim:
            raise DimensionMismatchError(f"the index holds {self.dim}-d label embeddings, got "
                                         f"{Q.shape[1]}-d query vectors")
        return Q

    def search_indices(self, vectors: Any, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best labels per query as row indices, best first.

        Returns
        -------
        indices : numpy.ndarray of shape (n, k), int64
        scores : numpy.ndarray of shape (n, k), float32 (inner products)
        """
        if not isinstance(k, int | np.integer) or not 1 <= k <= len(self):
            raise InvalidInputError(f"k must be an int between 1 and the number of labels "
                                    f"({len(self)}), got {k!r}")
        Q = self._queries(vectors)
        if Q.shape[0] == 0:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        scores, indices = self._index.search(Q, int(k))
        return indices.astype(np.int64, copy=False), scores.astype(np.float32, copy=False)

    def search(self, vectors: Any, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best labels per query, best first.

        Parameters
        ----------
        vectors : Embeddings or array-like of shape (n, dim)
        k : int
            Between 1 and ``len(self)``.

        Returns
        -------
        labels : numpy.ndarray of shape (n, k), str
        scores : numpy.ndarray of shape (n, k), float32 (inner products)
        """
        indices, scores = self.search_indices(vectors, k)
        return np.asarray(self.labels)[indices], scores

    def scores(self, vectors: Any) -> np.ndarray:
        """Inner products with every label, columns in :attr:`labels` order, shape (n, n_labels).
        """
        n_labels = len(self)
        if self.device_ == "cuda" and n_labels > _GPU_MAX_K:
            # GPU flat indexes cap k; a dense product is exact and as fast for this shape
            return self._queries(vectors) @ self.embeddings.T
        indices, values = self.search_indices(vectors, n_labels)
        out = np.empty_like(values)
        np.put_along_axis(out, indices, values, axis=1)
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write labels, embeddings, prompts and metadata to one safetensors file, atomically."""
        header = {"labels": list(self.labels),
                  "prompts": {k: list(v) for k, v in self.prompts.items()},
                  "metadata": self.metadata}
        import json

        try:
            json.dumps(header)
        except TypeError as exc:
            raise InvalidInputError(f"LabelIndex metadata must be JSON-serialisable: {exc}") \
                from exc
        return write_arrays(path, {"embeddings": self.embeddings}, format=_INDEX_FORMAT,
                            version=_INDEX_VERSION, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str = "auto") -> LabelIndex:
        """Read an index written by :meth:`save` (no pickle) onto ``device``."""
        arrays, doc = read_arrays(path, format=_INDEX_FORMAT, max_version=_INDEX_VERSION)
        try:
            return cls(doc["labels"], arrays["embeddings"], prompts=doc.get("prompts"),
                       device=device, metadata=doc.get("metadata"))
        except (KeyError, TypeError, InvalidInputError) as exc:
            raise CorruptFileError(f"{path} is damaged or incomplete: {exc}") from exc


# -- transductive threshold calibration --------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """A decision threshold fitted on unlabeled scores (see :func:`gmm_threshold`).

    Attributes
    ----------
    method : str
        ``"gmm"``.
    threshold : float
        Scores above it go to the higher-scoring component's side (the positive class).
    means, stds, weights : tuple of float
        The two mixture components, (low, high), on the scores' own scale.
    n_items : int
        How many unlabeled scores it was fitted on.
    between_means : bool
        True when the equal-posterior point lies between the two means (the normal case);
        False when one component dominates everywhere between them, and the threshold is the
        point there closest to equal posteriors (a warning is issued then).
    """

    method: str
    threshold: float
    means: tuple[float, float]
    stds: tuple[float, float]
    weights: tuple[float, float]
    n_items: int
    between_means: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"method": self.method, "threshold": self.threshold, "means": list(self.means),
                "stds": list(self.stds), "weights": list(self.weights),
                "n_items": self.n_items, "between_means": self.between_means}


def _log_posterior_ratio(x: np.ndarray, m: np.ndarray, v: np.ndarray, w: np.ndarray
                         ) -> np.ndarray:
    """log(w_hi N(x; hi)) - log(w_lo N(x; lo)) for 1-D Gaussians (index 0 = lo, 1 = hi)."""
    def log_joint(i: int) -> np.ndarray:
        return np.log(w[i]) - 0.5 * np.log(v[i]) - (x - m[i]) ** 2 / (2 * v[i])

    return log_joint(1) - log_joint(0)


def gmm_threshold(scores: Any, *, random_state: int = 0) -> Calibration:
    """Threshold unlabeled 1-D scores where a two-component Gaussian mixture's posteriors tie.

    Transductive: it uses the distribution of the scores of the batch it is given, no labels.
    It moves the cut to the valley between the two score modes, which corrects a decision
    threshold that a domain shift has pushed off (a shifted class drifts toward the other's
    side while the ranking stays good). It assumes the batch holds both classes in a
    not-too-skewed mix: with a strongly skewed batch, the mixture splits the larger class
    instead (see docs/zeroshot.md for measured numbers).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Unlabeled decision scores, larger = more positive (e.g. the cosine to the positive
        class minus the cosine to the negative class). Finite, at least
        :data:`MIN_CALIBRATION_ITEMS` values, not all equal.
    random_state : int
        Seeds scikit-learn's :class:`~sklearn.mixture.GaussianMixture` (k-means
        initialisation), so the threshold is reproducible.

    Returns
    -------
    Calibration

    Raises
    ------
    InvalidInputError
        Too few scores, non-finite or non-1-D scores, all scores (nearly) equal, or a mixture
        whose two components coincide.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = np.concatenate([rng.normal(-1.0, 0.2, 200), rng.normal(3.0, 0.2, 200)])
    >>> round(gmm_threshold(s).threshold, 1)
    1.0
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise InvalidInputError(f"scores must be 1-D (one score per item), got shape {s.shape}")
    if s.shape[0] < MIN_CALIBRATION_ITEMS:
        raise InvalidInputError(f"calibration needs at least {MIN_CALIBRATION_ITEMS} unlabeled "
                                f"items to fit a two-component mixture, got {s.shape[0]}; "
                                f"calibrate on a larger batch")
    if not np.isfinite(s).all():
        raise InvalidInputError("scores contain NaN or infinite values")
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise InvalidInputError(f"random_state must be an int, got {random_state!r}")
    center, scale = float(s.mean()), float(s.std())
    if not scale > 1e-12 * max(1.0, abs(center)):
        raise InvalidInputError("all scores are (nearly) equal: there are no two modes to "
                                "separate; calibrate on a batch with both classes")
    from sklearn.mixture import GaussianMixture

    # Fitted on standardised scores so that the mixture's covariance floor (reg_covar) means
    # the same whatever the score scale; the threshold is mapped back at the end.
    z = (s - center) / scale
    gmm = GaussianMixture(n_components=2, covariance_type="full",
                          random_state=int(random_state)).fit(z[:, None])
    order = np.argsort(gmm.means_.ravel())
    m = gmm.means_.ravel()[order]
    v = gmm.covariances_.reshape(2)[order]
    w = gmm.weights_[order]
    if m[1] - m[0] < 1e-6:
        raise InvalidInputError("the two mixture components coincide; the scores show no two "
                                "modes to separate")
    # log-ratio of the weighted densities is a quadratic a x^2 + b x + c; its root between the
    # means is where the posteriors are equal. Closed form, so no grid resolution enters.
    a = 1 / (2 * v[0]) - 1 / (2 * v[1])
    b = m[1] / v[1] - m[0] / v[0]
    c = float(_log_posterior_ratio(np.zeros(1), m, v, w)[0])
    if abs(a) < 1e-12:
        roots = np.array([-c / b])
    else:
        disc = b * b - 4 * a * c
        roots = (np.array([(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)])
                 if disc >= 0 else np.zeros(0))
    inside = roots[(roots >= m[0]) & (roots <= m[1])]
    between = inside.size > 0
    if between:
        x = float(inside[np.argmin(np.abs(inside - m.mean()))])
    else:
        # one component outweighs the other all the way between the means: take the point
        # there closest to a tie (an end point or the quadratic's vertex)
        candidates = [m[0], m[1]]
        if abs(a) >= 1e-12 and m[0] <= -b / (2 * a) <= m[1]:
            candidates.append(-b / (2 * a))
        cand = np.asarray(candidates)
        x = float(cand[np.argmin(np.abs(_log_posterior_ratio(cand, m, v, w)))])
        warnings.warn("GMM calibration: one mixture component dominates between the two means "
                      "(a strongly skewed or unimodal batch?); the threshold is the point "
                      "closest to equal posteriors and may be unreliable", UserWarning,
                      stacklevel=2)
    return Calibration(method="gmm", threshold=center + scale * x,
                       means=(center + scale * float(m[0]), center + scale * float(m[1])),
                       stds=(scale * math.sqrt(v[0]), scale * math.sqrt(v[1])),
                       weights=(float(w[0]), float(w[1])), n_items=int(s.shape[0]),
                       between_means=between)


# -- the classifier --------------------------------------------------------------------------------
def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    expo = np.exp(shifted)
    return expo / expo.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # the two-class softmax, written so that exp never overflows
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


class ZeroShotClassifier:
    """Classify image embeddings by their nearest class prompt, through a fitted translator.

    Parameters
    ----------
    translator : Translator
        Fitted from the image encoder (source) to the text encoder (target).
    text_encoder : Encoder or Embeddings
        The translator's target text encoder; or precomputed :class:`Embeddings` of the prompts
        (ids = prompt texts); or, with ``prompts=None``, precomputed class embeddings (ids =
        class names, one row each).
    prompts : PromptSet or mapping class -> prompt(s), optional
        Required unless ``text_encoder`` holds class embeddings.
    space : {"target", "raw"}
        Where images and prompts are compared. ``"target"`` (default): the translator's
        target-side *preprocessed* space (images translated with ``normalized=True``, prompts
        mapped with :meth:`Translator.preprocess_target`). Raw sentence embeddings share a large
        common component; centring on the target anchors removes it (on real data raw-space
        cosine gave ~0.5 balanced accuracy, the preprocessed space fixed it). ``"raw"``: the
        text encoder's own space.
    temperature : float
        Softmax temperature of :meth:`predict_proba` (scores are cosines in [-1, 1]); the
        default 0.01 is CLIP's logit scale of 100.
    batch_size : int
        Images translated and scored per chunk; bounds memory for any number of images.
    device : {"auto", "cpu", "cuda"}
        Where the :class:`LabelIndex` searches.
    calibration : {"none", "gmm"}
        How single-label, two-class predictions are cut. ``"none"`` (default): the nearest
        class (argmax), which needs no data beyond the anchors. ``"gmm"``: opt-in and
        *transductive*: :meth:`fit_calibration` must first see a batch of unlabeled images;
        the threshold on ``score(classes_[1]) - score(classes_[0])`` is set where a
        two-component Gaussian mixture of that batch's scores has equal posteriors
        (:func:`gmm_threshold`). It helps when the deployment images are shifted from the
        anchor images (the argmax threshold then sits off the valley between the classes);
        it hurts on batches whose class mix is strongly skewed. It never changes the ranking
        (AUROC). Two classes only.
    random_state : int
        Seeds the mixture of ``calibration="gmm"``.

    Attributes
    ----------
    classes_ : numpy.ndarray of str
        Class (finding) names, the columns of :meth:`predict_proba`.
    prompt_set : PromptSet
    calibration_ : Calibration or None
        What :meth:`fit_calibration` fitted (``None`` before, and with ``calibration="none"``).

    Raises
    ------
    NotFittedError
        The translator is not fitted.
    EncoderMismatchError
        The text encoder is not the translator's target encoder (fingerprints differ).
    DimensionMismatchError
        The prompt embeddings' dimension differs from the translator's output dimension.
    InvalidInputError
        Bad options, or ``calibration="gmm"`` with other than two classes or in multi-label
        mode.

    Examples
    --------
    Calibrating on one unlabeled batch and applying the threshold to later ones::

        clf = ZeroShotClassifier(translator, text_encoder, prompts, calibration="gmm")
        clf.fit_calibration(unlabeled_images)   # transductive: no labels, stores threshold_
        labels = clf.predict(new_images)
    """

    def __init__(self, translator: Translator, text_encoder: TextSource,
                 prompts: PromptSet | Mapping[str, str | Sequence[str]] | None = None, *,
                 space: str = "target", temperature: float = 0.01, batch_size: int = 8192,
                 device: str = "auto", calibration: str = "none",
                 random_state: int = 0) -> None:
        self.translator = translator
        self.text_encoder = text_encoder
        self.prompts = prompts
        self.space = space
        self.temperature = temperature
        self.batch_size = batch_size
        self.device = device
        self.calibration = calibration
        self.random_state = random_state
        self.calibration_: Calibration | None = None
        self._calibrated_for: object = None
        # Everything cheap is checked now, so mistakes surface before any encoder loads.
        check_fitted_translator(translator)
        if space not in ("target", "raw"):
            raise InvalidInputError(f"space must be 'target' or 'raw', got {space!r}")
        if (not isinstance(temperature, int | float) or isinstance(temperature, bool)
                or not math.isfinite(temperature) or temperature <= 0):
            raise InvalidInputError(f"temperature must be a positive finite number, got "
                                    f"{temperature!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        if device not in DEVICES:
            raise InvalidInputError(f"device must be one of {DEVICES}, got {device!r}")
        source = _check_text_source(text_encoder)
        if prompts is None:
            if not isinstance(source, Embeddings):
                raise InvalidInputError("prompts are required with a text encoder; pass a "
                                        "PromptSet or a mapping class -> prompt(s)")
            # precomputed class embeddings: each class is its own (single) "prompt"
            self.prompt_set = PromptSet([(i, i) for i in source.ids])
        elif isinstance(prompts, PromptSet):
            self.prompt_set = prompts
        else:
            self.prompt_set = PromptSet(prompts)
        expected = translator.target_fingerprint_
        actual = _text_fingerprint(source)
        if expected is not None and actual is not None and expected != actual:
            raise EncoderMismatchError(
                f"the prompts are embedded with {actual.describe()}, but the translator's "
                f"target encoder is {expected.describe()}; use that text encoder")
        if _text_dim(source) != translator.target_dim_:
            raise DimensionMismatchError(
                f"the translator outputs {translator.target_dim_}-d target vectors but the "
                f"prompt embeddings are {_text_dim(source)}-d; the text encoder must be the "
                f"translator's target encoder")
        if calibration not in CALIBRATIONS:
            raise InvalidInputError(f"calibration must be one of {CALIBRATIONS}, got "
                                    f"{calibration!r}")
        if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
            raise InvalidInputError(f"random_state must be an int, got {random_state!r}")
        if calibration != "none" and (self.prompt_set.is_multilabel
                                      or len(self.prompt_set) != 2):
            raise InvalidInputError(
                f"calibration={calibration!r} is for single-label classification with exactly "
                f"two classes (it sets one threshold on the score difference); this prompt set "
                f"has {len(self.prompt_set)} classes"
                f"{' in multi-label mode' if self.prompt_set.is_multilabel else ''}; use "
                f"calibration='none'")
        self._text_vectors: np.ndarray | None = None
        self._built_for: object = None

    def __repr__(self) -> str:
        extra = "" if self.calibration == "none" else f", calibration={self.calibration!r}"
        return (f"ZeroShotClassifier({self.prompt_set!r}, space={self.space!r}, "
                f"temperature={self.temperature}{extra})")

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.prompt_set.classes)

    @property
    def is_multilabel(self) -> bool:
        return self.prompt_set.is_multilabel

    # -- class embeddings, built on first use ----------------------------------------------------
    def _build(self) -> None:
        # Rebuild when the translator was refitted: the preprocessed space moved with it.
        key = self.translator.target_preprocessing_
        if self._built_for is key:
            return
        if self._text_vectors is None:  # the encoder's output never changes: embed once
            self._text_vectors = self.prompt_set.embed(self.text_encoder)
        V = self._text_vectors
        if self.space == "target":
            V = self.translator.preprocess_target(V)
        meta = {"space": self.space}
        ps = self.prompt_set
        self._index = LabelIndex(ps.classes, ps.class_embeddings(V), prompts=ps.prompts,
                                 device=self.device, metadata=meta)
        self._negative_index = None
        if ps.is_multilabel:
            self._negative_index = LabelIndex(ps.classes, ps.class_embeddings(V, negative=True),
                                              prompts=ps.negatives, device=self.device,
                                              metadata={**meta, "negative": True})
        self._built_for = key

    @property
    def index(self) -> LabelIndex:
        """The label index over the (positive) class embeddings in the comparison space."""
        self._build()
        return self._index

    @property
    def negative_index(self) -> LabelIndex | None:
        """Multi-label mode: the index over the negative ensembles; else ``None``."""
        self._build()
        return self._negative_index

    def _chunks(self, X: Embeddings | Any) -> Iterator[np.ndarray]:
        """L2-normalised translated images, chunk by chunk."""
        self._build()
        for Z in self.translator.iter_transform(X, batch_size=self.batch_size,
                                                normalized=self.space == "target"):
            yield _l2_normalize(Z).astype(np.float32, copy=False)

    def _collect(self, X: Embeddings | Any, fn: Any, width: int, dtype: Any) -> np.ndarray:
        parts = [fn(Z) for Z in self._chunks(X)]
        if not parts:
            return np.zeros((0, width), dtype)
        return np.concatenate(parts)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        pos = self._index.scores(Z)
        if self._negative_index is None:
            return pos
        return pos - self._negative_index.scores(Z)

    # -- public API ------------------------------------------------------------------------------
    def decision_scores(self, X: Embeddings | Any) -> np.ndarray:
        """Scores per class, shape (n, n_classes).

        Single-label: the cosine similarity of each translated image with each class
        embedding. Multi-label: cosine with the positive minus cosine with the negative
        ensemble (the logit of :meth:`predict_proba`, times the temperature).

        Parameters
        ----------
        X : Embeddings or array-like of shape (n, d_source)
            Image embeddings from the translator's source encoder.
        """
        return self._collect(X, self._scores, len(self.prompt_set), np.float32)

    # -- opt-in transductive calibration ----------------------------------------------------------
    def _difference(self, Z: np.ndarray) -> np.ndarray:
        S = self._scores(Z).astype(np.float64)
        return S[:, 1] - S[:, 0]

    def _binary_difference(self, X: Embeddings | Any) -> np.ndarray:
        if self.is_multilabel or len(self.prompt_set) != 2:
            raise InvalidInputError("a single score difference exists only for single-label "
                                    "classification with two classes")
        return self._collect(X, lambda Z: self._difference(Z)[:, None], 1, np.float64)[:, 0]

    def fit_calibration(self, X_unlabeled: Embeddings | Any) -> ZeroShotClassifier:
        """Fit the decision threshold on a batch of *unlabeled* images (``calibration="gmm"``).

        Transductive: the threshold depends on the distribution of this batch's scores (no
        labels are used). It is stored (:attr:`threshold_`, :attr:`calibration_`) and applied
        by :meth:`predict`, :meth:`predict_proba` and :meth:`decision_function` to any later
        images, so one batch can calibrate for others from the same deployment. Calibrate on a
        batch that contains both classes in a not-too-skewed mix.

        Parameters
        ----------
        X_unlabeled : Embeddings or array-like of shape (n, d_source)
            At least :data:`MIN_CALIBRATION_ITEMS` images from the translator's source encoder.

        Returns
        -------
        ZeroShotClassifier
            ``self``.

        Raises
        ------
        InvalidInputError
            The classifier was built with ``calibration="none"``, or the batch is too small or
            shows no two modes (see :func:`gmm_threshold`).
        """
        if self.calibration == "none":
            raise InvalidInputError("this classifier was built with calibration='none' "
                                    "(argmax, nothing to fit); build it with "
                                    "calibration='gmm' to calibrate on unlabeled images")
        self.calibration_ = gmm_threshold(self._binary_difference(X_unlabeled),
                                          random_state=int(self.random_state))
        self._calibrated_for = self.translator.target_preprocessing_
        return self

    def _threshold(self) -> float:
        if self.calibration == "none":
            return 0.0
        if self.calibration_ is None:
            raise NotFittedError("calibration='gmm' needs a threshold: call "
                                 "fit_calibration(unlabeled images) before predicting")
        if self._calibrated_for is not self.translator.target_preprocessing_:
            raise NotFittedError("the translator was refitted after fit_calibration; the "
                                 "threshold belongs to the old map: call fit_calibration again")
        return self.calibration_.threshold

    @property
    def threshold_(self) -> float:
        """The threshold on ``score(classes_[1]) - score(classes_[0])`` (two classes only).

        ``0.0`` with ``calibration="none"`` (argmax); the fitted value with ``"gmm"``.

        Raises
        ------
        NotFittedError
            ``calibration="gmm"`` before :meth:`fit_calibration`.
        InvalidInputError
            Not a single-label two-class classifier.
        """
        if self.is_multilabel or len(self.prompt_set) != 2:
            raise InvalidInputError("threshold_ exists only for single-label classification "
                                    "with two classes")
        return self._threshold()

    def decision_function(self, X: Embeddings | Any) -> np.ndarray:
        """Two classes: ``score(classes_[1]) - score(classes_[0]) - threshold_``, shape (n,).

        Positive means ``classes_[1]``. The ranking (and so AUROC) does not depend on the
        calibration; only the sign does.
        """
        threshold = self.threshold_
        return self._binary_difference(X) - threshold

    def predict_proba(self, X: Embeddings | Any) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), float64.

        Single-label: softmax of ``decision_scores / temperature`` (rows sum to 1); with
        ``calibration="gmm"``, the score difference is shifted by :attr:`threshold_` first,
        so that ``P(classes_[1]) >= 0.5`` exactly where :meth:`predict` says ``classes_[1]``.
        Multi-label: per finding, the softmax over (positive, negative) — each entry in [0, 1]
        independently.
        """
        # float64: with a small temperature, float32 would round confident probabilities to
        # exactly 0 or 1 and tie their ranking (AUROC from predict_proba would suffer)
        if self.calibration != "none":
            threshold = self._threshold()

            def calibrated(Z: np.ndarray) -> np.ndarray:
                p1 = _sigmoid((self._difference(Z) - threshold) / self.temperature)
                return np.column_stack([1.0 - p1, p1])

            return self._collect(X, calibrated, 2, np.float64)

        def proba(Z: np.ndarray) -> np.ndarray:
            logits = self._scores(Z).astype(np.float64) / self.temperature
            return _sigmoid(logits) if self.is_multilabel else _softmax(logits)

        return self._collect(X, proba, len(self.prompt_set), np.float64)

    def predict(self, X: Embeddings | Any) -> np.ndarray:
        """Predicted labels.

        Single-label: the nearest class name per image (a :class:`LabelIndex` search), shape
        (n,); with ``calibration="gmm"``, ``classes_[1]`` where the score difference exceeds
        :attr:`threshold_`. Multi-label: a 0/1 indicator matrix (n, n_findings), 1 where
        P(finding) >= 0.5.

        Raises
        ------
        NotFittedError
            ``calibration="gmm"`` before :meth:`fit_calibration`.
        """
        if self.is_multilabel:
            return (self.predict_proba(X) >= 0.5).astype(np.int64)
        classes = self.classes_
        if self.calibration != "none":
            threshold = self._threshold()
            return classes[(self._binary_difference(X) > threshold).astype(np.int64)]

        def nearest(Z: np.ndarray) -> np.ndarray:
            indices, _ = self._index.search_indices(Z, 1)
            return classes[indices[:, 0]]

        parts = [nearest(Z) for Z in self._chunks(X)]
        return np.concatenate(parts) if parts else classes[:0]
