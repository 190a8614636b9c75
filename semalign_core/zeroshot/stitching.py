"""Model stitching: reuse a classifier head trained on the target encoder's space.

A head fitted on a specialised encoder's embeddings (the *target*) classifies a general
encoder's embeddings once a fitted :class:`~semalign_core.Translator` has carried them into the
target space. No network is trained; only the translator is fitted, on anchors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._deprecated import warn_renamed
from .._numerics import sigmoid, softmax
from ..align.embeddings import Embeddings
from ..align.translator import Translator, check_fitted_translator, check_space
from ..errors import DimensionMismatchError, InvalidInputError, NotFittedError
from ..validation import check_matrix

__all__ = ["LinearHead", "StitchedClassifier"]


class LinearHead:
    """A linear classifier given by its weights: ``scores = X @ weights.T + bias``.

    Follows scikit-learn's layout for ``coef_`` / ``intercept_``, so the weights of a linear
    model trained anywhere (a torch ``nn.Linear`` has the same layout) can be stitched.

    Parameters
    ----------
    weights : array-like of shape (n_classes, dim), or (1, dim) / (dim,) for a binary head
    bias : array-like of shape (n_classes,) or a scalar for a binary head, optional
        Zero when omitted.
    classes : sequence, optional
        Class labels; default ``0 .. n_classes-1`` (``[0, 1]`` for a binary head).

    Notes
    -----
    A binary head (one row) scores the second class: ``predict_proba`` is
    ``[1 - sigmoid(s), sigmoid(s)]``, as in scikit-learn's ``LogisticRegression``. Several
    rows give a softmax over the classes.
    """

    def __init__(self, weights: Any, bias: Any = None, classes: Sequence[Any] | None = None
                 ) -> None:
        W = np.asarray(weights)
        if W.ndim == 1:
            W = W.reshape(1, -1)
        W = check_matrix(W, "weights", dtype=np.float64)
        n_rows = W.shape[0]
        if bias is None:
            b = np.zeros(n_rows)
        else:
            b = np.atleast_1d(np.asarray(bias))
            if b.dtype.kind not in "fiu" or b.ndim != 1 or b.shape[0] != n_rows:
                raise InvalidInputError(f"bias must be {n_rows} number(s) (one per weight row), "
                                        f"got shape {np.shape(bias)}")
            b = b.astype(np.float64)
            if not np.isfinite(b).all():
                raise InvalidInputError("bias contains NaN or inf")
        n_classes = 2 if n_rows == 1 else n_rows
        labels = np.arange(n_classes) if classes is None else np.asarray(list(classes))
        if labels.shape != (n_classes,):
            raise InvalidInputError(f"a head with {n_rows} weight row(s) has {n_classes} "
                                    f"classes, got {len(labels)} class labels")
        if len(set(labels.tolist())) != n_classes:
            raise InvalidInputError("class labels must be unique")
        self.coef_ = W
        self.intercept_ = b
        self.classes_ = labels
        self.n_features_in_ = int(W.shape[1])

    def __repr__(self) -> str:
        return f"LinearHead({len(self.classes_)} classes, dim={self.n_features_in_})"

    def decision_function(self, X: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_``; shape (n,) for a binary head, else (n, n_classes)."""
        scores = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores[:, 0] if self.coef_.shape[0] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores)

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


class StitchedClassifier:
    """Apply a target-space classifier head to translated source embeddings.

    Parameters
    ----------
    translator : Translator
        Fitted from the encoder you have (source) to the encoder the head was trained on
        (target).
    head : fitted scikit-learn classifier, LinearHead, or (weights, bias) tuple
        Anything with ``predict`` (and optionally ``predict_proba`` / ``decision_function``)
        that accepts target-space vectors. A ``(weights, bias)`` tuple becomes a
        :class:`LinearHead`.
    space : {"raw", "normalized", "centered"}
        Where the head is fed translations (``translator.transform(X, space=space)``).
        ``"raw"`` (default): the target encoder's own space, where a head trained on that
        encoder's embeddings lives. ``"normalized"``: the translator's target normaliser space
        (for heads trained on :meth:`Translator.transform_target` output). ``normalized=True``
        is the deprecated spelling of ``space="normalized"``.
    batch_size : int
        Rows translated per chunk; bounds memory for any number of inputs.

    Raises
    ------
    NotFittedError
        The translator or a scikit-learn head is not fitted.
    DimensionMismatchError
        The head expects another dimension than the translator outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from semalign_core import Translator
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> t = Translator("identity", source_norm="none", target_norm="none").fit(X, X)
    >>> clf = StitchedClassifier(t, (np.array([[1.0, 0.0, 0.0]]), 0.0))
    >>> clf.predict(np.array([[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])).tolist()
    [1, 0]
    """

    def __init__(self, translator: Translator, head: Any, *, space: str = "raw",
                 batch_size: int = 8192, normalized: bool | None = None) -> None:
        if normalized is not None:
            warn_renamed("StitchedClassifier(normalized=...)", "space='normalized' or 'raw'")
            space = "normalized" if normalized else "raw"
        self.translator = translator
        self.space = check_space(space)
        self.batch_size = batch_size
        check_fitted_translator(translator)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(head, tuple):
            if len(head) != 2:
                raise InvalidInputError("a head given as a tuple must be (weights, bias)")
            head = LinearHead(*head)
        if not callable(getattr(head, "predict", None)):
            raise InvalidInputError(f"head must be a fitted classifier with predict(), a "
                                    f"LinearHead or a (weights, bias) tuple; got "
                                    f"{type(head).__name__}")
        self.head = head
        self._check_head()

    def _check_head(self) -> None:
        head = self.head
        if hasattr(head, "get_params") and hasattr(head, "fit"):  # a scikit-learn estimator
            from sklearn.exceptions import NotFittedError as SkNotFitted
            from sklearn.utils.validation import check_is_fitted

            try:
                check_is_fitted(head)
            except SkNotFitted as exc:
                raise NotFittedError(f"the head {type(head).__name__} is not fitted; fit it on "
                                     f"target-encoder embeddings first") from exc
        expected = getattr(head, "n_features_in_", None)
        dim = self.translator.output_dim
        if expected is not None and int(expected) != dim:
            hint = ""
            if isinstance(head, LinearHead) and head.coef_.shape[0] == dim:
                hint = "; weights look transposed: pass them as (n_classes, dim)"
            raise DimensionMismatchError(
                f"the head expects {int(expected)}-d inputs but the translator outputs {dim}-d "
                f"target vectors{hint}")

    def __repr__(self) -> str:
        return f"StitchedClassifier({self.translator!r}, head={self.head!r})"

    @property
    def classes_(self) -> np.ndarray:
        classes = getattr(self.head, "classes_", None)
        if classes is None:
            raise AttributeError(f"the head {type(self.head).__name__} has no classes_")
        return np.asarray(classes)

    def _chunks(self, X: Embeddings | Any) -> Iterator[np.ndarray]:
        yield from self.translator.iter_transform(X, batch_size=self.batch_size,
                                                  space=self.space)

    def _apply(self, method: str, X: Embeddings | Any) -> np.ndarray:
        fn = getattr(self.head, method, None)
        if not callable(fn):
            raise AttributeError(f"the head {type(self.head).__name__} has no {method}()")
        parts = [np.asarray(fn(Z)) for Z in self._chunks(X)]
        if parts:
            return np.concatenate(parts)
        # no rows: ask the head for the shape of its output on one dummy row
        dummy = np.asarray(fn(np.zeros((1, self.translator.output_dim), np.float32)))
        return dummy[:0]

    def transform(self, X: Embeddings | Any) -> np.ndarray:
        """The translated vectors the head sees (float32, shape (n, target dim))."""
        out = self.translator.transform(X, space=self.space,
                                        batch_size=self.batch_size)
        return out.vectors if isinstance(out, Embeddings) else out

    def predict(self, X: Embeddings | Any) -> np.ndarray:
        """The head's ``predict`` on translated ``X`` (source-encoder embeddings)."""
        return self._apply("predict", X)

    def predict_proba(self, X: Embeddings | Any) -> np.ndarray:
        """The head's ``predict_proba`` on translated ``X``."""
        return self._apply("predict_proba", X)

    def decision_function(self, X: Embeddings | Any) -> np.ndarray:
        """The head's ``decision_function`` on translated ``X``."""
        return self._apply("decision_function", X)
