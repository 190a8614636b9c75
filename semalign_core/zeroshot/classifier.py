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
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .._deprecated import warn_renamed
from .._numerics import l2_normalize, sigmoid, softmax
from ..align.embeddings import Embeddings
from ..align.translator import Translator, check_fitted_translator, check_space
from ..errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    InvalidInputError,
)
from .calibration import (
    CALIBRATIONS,
    MIN_CALIBRATION_ITEMS,
    Calibration,
    gmm_threshold,
)
from .class_embeddings import ClassEmbeddings
from .folded import fold_scores
from .label_index import DEVICES, LabelIndex
from .prompts import (
    PromptSet,
    TextSource,
    _check_text_source,
    _text_dim,
    _text_fingerprint,
    ensemble_embedding,
)
from .transductive import TransductiveCalibrationMixin

# PromptSet, LabelIndex and the calibration live in their own modules; they are re-exported here
# because this module is the documented home of the zero-shot API.
__all__ = ["CALIBRATIONS", "DEVICES", "MIN_CALIBRATION_ITEMS", "Calibration", "LabelIndex",
           "PromptSet", "ZeroShotClassifier", "ensemble_embedding", "gmm_threshold"]

#: Default softmax temperature of :meth:`ZeroShotClassifier.predict_proba` (see its docstring).
DEFAULT_TEMPERATURE = 1.0


def _check_options(translator: Translator, space: Any, temperature: Any, batch_size: Any,
                   device: Any, calibration: Any, random_state: Any) -> str:
    """Validate the classifier's plain options; return ``space`` in its current spelling."""
    if space is None:  # the translator knows which of its spaces suits comparing
        space = translator.comparison_space
    if space == "target":
        warn_renamed("ZeroShotClassifier(space='target')", "space='normalized'", stacklevel=4)
        space = "normalized"
    check_space(space)
    if (not isinstance(temperature, int | float) or isinstance(temperature, bool)
            or not math.isfinite(temperature) or temperature <= 0):
        raise InvalidInputError(f"temperature must be a positive finite number, got "
                                f"{temperature!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
    if device not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES}, got {device!r}")
    if calibration not in CALIBRATIONS:
        raise InvalidInputError(f"calibration must be one of {CALIBRATIONS}, got "
                                f"{calibration!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise InvalidInputError(f"random_state must be an int, got {random_state!r}")
    return str(space)


def _prompt_set(source: TextSource, prompts: Any, class_vectors: bool) -> PromptSet:
    """The classes and their prompts; precomputed class vectors are each their own prompt."""
    if class_vectors and prompts is not None:
        raise InvalidInputError("ClassEmbeddings already hold one vector per class; pass no "
                                "prompts with them")
    if prompts is None:
        if not isinstance(source, Embeddings):
            raise InvalidInputError("prompts are required with a text encoder; pass a "
                                    "PromptSet or a mapping class -> prompt(s)")
        return PromptSet([(i, i) for i in source.ids])
    return prompts if isinstance(prompts, PromptSet) else PromptSet(prompts)


def _check_text_space(translator: Translator, source: TextSource) -> None:
    """Refuse prompt embeddings that do not live in the translator's target space."""
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


class ZeroShotClassifier(TransductiveCalibrationMixin):
    """Classify image embeddings by their nearest class prompt, through a fitted translator.

    Parameters
    ----------
    translator : Translator
        Fitted from the image encoder (source) to the text encoder (target).
    text_encoder : Encoder, Embeddings or ClassEmbeddings
        The translator's target text encoder; or precomputed :class:`Embeddings` of the prompts
        (ids = prompt texts); or, with ``prompts=None``, class vectors: a
        :class:`~semalign_core.ClassEmbeddings` (any mix of prompts and labelled texts) or
        :class:`Embeddings` with one row per class (ids = class names).
    prompts : PromptSet or mapping class -> prompt(s), optional
        Required unless ``text_encoder`` holds class embeddings.
    space : {"centered", "normalized", "raw"}, optional
        Where images and class vectors are compared (by cosine), one of the translator's
        :data:`~semalign_core.align.translator.SPACES`: images go through
        ``translator.transform(X, space=space)``, prompts through
        ``translator.transform_target(P, space=space)``. Default: the translator's
        ``comparison_space``, ``"centered"`` for a :class:`Translator` (the text space centred
        on the target anchors' mean, whatever its target normaliser; chosen by train-only
        measurement, ``benchmarks/bench_zeroshot_defaults.py``: per-dimension standardising of
        the text side costs balanced accuracy) and ``"normalized"`` for a
        :class:`~semalign_core.RelativeTranslator` (its only space). ``"normalized"``: the
        translator's fitted target normaliser space. ``"raw"``: the text encoder's own space,
        whose common component puts most images in one class. (``"target"`` is the deprecated
        spelling of ``"normalized"``.)
    temperature : float
        Softmax temperature of :meth:`predict_proba`. The default, 1.0, was chosen by
        measurement (``benchmarks/bench_temperature.py``: lowest log loss on the pneumonia
        recipe, among 0.01-5). It also keeps the ranking of the scores: with score
        differences of a few units at most, no probability rounds to exactly 0 or 1. A small
        temperature such as CLIP's 0.01 saturates (two thirds of the Kermany test
        probabilities were exactly 1.0, AUROC 0.83 from the probabilities against 0.92 from
        :meth:`decision_scores`).
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

    def __init__(self, translator: Translator,
                 text_encoder: TextSource | ClassEmbeddings,
                 prompts: PromptSet | Mapping[str, str | Sequence[str]] | None = None, *,
                 space: str | None = None, temperature: float = DEFAULT_TEMPERATURE,
                 batch_size: int = 8192,
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
        self.space = _check_options(translator, space, temperature, batch_size, device, calibration,
                                    random_state)
        source = (text_encoder.to_embeddings() if isinstance(text_encoder, ClassEmbeddings)
                  else _check_text_source(text_encoder))
        self.prompt_set = _prompt_set(source, prompts,
                                      isinstance(text_encoder, ClassEmbeddings))
        _check_text_space(translator, source)
        if len(self.prompt_set) == 1 and not self.prompt_set.is_multilabel:
            warnings.warn(f"a single-label zero-shot classifier with one class "
                          f"({self.prompt_set.classes[0]!r}) predicts it for every image; give "
                          f"at least two classes", UserWarning, stacklevel=2)
        if calibration != "none" and (self.prompt_set.is_multilabel
                                      or len(self.prompt_set) != 2):
            raise InvalidInputError(
                f"calibration={calibration!r} is for single-label classification with exactly "
                f"two classes (it sets one threshold on the score difference); this prompt set "
                f"has {len(self.prompt_set)} classes"
                f"{' in multi-label mode' if self.prompt_set.is_multilabel else ''}; use "
                f"calibration='none'")
        self._source = source
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
        # Rebuild when the translator was refitted: the comparison space moved with it.
        key = self.translator.target_norm_
        if self._built_for is key:
            return
        if self._text_vectors is None:  # the encoder's output never changes: embed once
            self._text_vectors = self.prompt_set.embed(self._source)
        V = self.translator.transform_target(self._text_vectors, space=self.space)
        meta = {"space": self.space}
        ps = self.prompt_set
        self._index = LabelIndex(ps.classes, ps.class_embeddings(V), prompts=ps.prompts,
                                 device=self.device, metadata=meta)
        self._negative_index = None
        if ps.is_multilabel:
            self._negative_index = LabelIndex(ps.classes, ps.class_embeddings(V, negative=True),
                                              prompts=ps.negatives, device=self.device,
                                              metadata={**meta, "negative": True})
        # predict's folded (d_x x K) form, when the translator folds into one affine map
        plan = self.translator.folded(space=self.space)
        E = self._index.embeddings.astype(np.float64)
        if self._negative_index is not None:
            E = E - self._negative_index.embeddings  # the sign of pos - neg cosine
        self._folded = fold_scores(plan, E, self.translator.source_dim_)
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
        for Z in self.translator.iter_transform(X, batch_size=self.batch_size, space=self.space):
            yield l2_normalize(Z).astype(np.float32, copy=False)

    def _collect(self, X: Embeddings | Any, fn: Any, width: int | None, dtype: Any) -> np.ndarray:
        """``fn`` of each chunk, written into one preallocated (n, width) result (``(n,)`` for
        ``width=None``): no list of parts and no concatenated copy, so the working memory is
        one chunk's whatever n (benchmarks/bench_memory.py)."""
        array = self.translator._check_header(X, "source")  # the shape; nothing is copied
        n = array.shape[0]
        out = np.empty((n,) if width is None else (n, width), dtype)
        pos = 0
        for Z in self._chunks(array):
            out[pos:pos + len(Z)] = fn(Z)
            pos += len(Z)
        return out

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
                p1 = sigmoid((self._difference(Z) - threshold) / self.temperature)
                return np.column_stack([1.0 - p1, p1])

            return self._collect(X, calibrated, 2, np.float64)

        return self._collect(X, self._proba, len(self.prompt_set), np.float64)

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        logits = self._scores(Z).astype(np.float64) / self.temperature
        return sigmoid(logits) if self.is_multilabel else softmax(logits)

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
        self._build()
        folded = self._folded if self.calibration == "none" else None
        if folded is not None:  # no translation: one (d_x x K) product per chunk
            array = self.translator._check_header(X, "source")
            return (folded.nonnegative(array) if self.is_multilabel
                    else folded.argmax(array, self.classes_))
        if self.is_multilabel:  # chunk by chunk: no (n, K) float64 probabilities on the side
            return self._collect(X, lambda Z: self._proba(Z) >= 0.5, len(self.prompt_set),
                                 np.int64)
        classes = self.classes_
        if self.calibration != "none":
            threshold = self._threshold()
            return classes[(self._binary_difference(X) > threshold).astype(np.int64)]

        def nearest(Z: np.ndarray) -> np.ndarray:
            indices, _ = self._index.search_indices(Z, 1)
            return classes[indices[:, 0]]

        return self._collect(X, nearest, None, classes.dtype)
