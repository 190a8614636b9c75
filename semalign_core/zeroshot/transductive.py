"""The opt-in, transductive threshold calibration of :class:`ZeroShotClassifier` (a mixin: the
classifier module holds scoring and prediction; this one the two-class threshold)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..align.embeddings import Embeddings
from ..errors import InvalidInputError, NotFittedError
from .calibration import gmm_threshold

if TYPE_CHECKING:
    from .classifier import ZeroShotClassifier

__all__ = ["ONE_CLASS_SHARE", "TransductiveCalibrationMixin", "warn_if_one_class"]


#: Below this share of the minority class a batch counts as nearly one-class.
ONE_CLASS_SHARE = 0.05


def warn_if_one_class(positive: np.ndarray, classes: tuple[str, ...], what: str) -> None:
    """Warn when (nearly) every item of a two-class batch falls in one class."""
    n = int(positive.size)
    k = int(np.count_nonzero(positive))
    minority = min(k, n - k)
    if n >= 2 and minority <= ONE_CLASS_SHARE * n:
        major = classes[1] if k > n - k else classes[0]
        warnings.warn(f"{what} is nearly one-class: {n - minority} of {n} items are "
                      f"{major!r}; a threshold or an evaluation on it is unreliable, use a "
                      f"batch that holds both classes", UserWarning, stacklevel=3)


class TransductiveCalibrationMixin:
    """``fit_calibration``, ``threshold_`` and ``decision_function`` of the classifier."""

    # provided by ZeroShotClassifier
    calibration: str
    calibration_: Any
    _calibrated_for: object
    random_state: int
    translator: Any
    prompt_set: Any
    is_multilabel: bool
    _scores: Any
    _collect: Any

    # -- opt-in transductive calibration ----------------------------------------------------------
    def _difference(self, Z: np.ndarray) -> np.ndarray:
        S = self._scores(Z).astype(np.float64)
        return S[:, 1] - S[:, 0]

    def _binary_difference(self, X: Embeddings | Any) -> np.ndarray:
        if self.is_multilabel or len(self.prompt_set) != 2:
            raise InvalidInputError("a single score difference exists only for single-label "
                                    "classification with two classes")
        return self._collect(X, lambda Z: self._difference(Z)[:, None], 1, np.float64)[:, 0]

    def fit_calibration(self, X_unlabeled: Embeddings | Any) -> ZeroShotClassifier:  # type: ignore[misc]
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
        scores = self._binary_difference(X_unlabeled)
        self.calibration_ = gmm_threshold(scores, random_state=int(self.random_state))
        self._calibrated_for = self.translator.target_norm_
        warn_if_one_class(scores > self.calibration_.threshold, self.prompt_set.classes,
                          "the calibration batch, cut at the fitted threshold,")
        return self

    def _threshold(self) -> float:
        if self.calibration == "none":
            return 0.0
        if self.calibration_ is None:
            raise NotFittedError("calibration='gmm' needs a threshold: call "
                                 "fit_calibration(unlabeled images) before predicting")
        if self._calibrated_for is not self.translator.target_norm_:
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

