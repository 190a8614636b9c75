"""Per-side space normalisation of a translator (:class:`SpaceNormalizer`), fitted on the anchors.

Not to be confused with an encoder's *input* preprocessing (resize, crop, tokenise), which belongs
to the encoder: a space normaliser acts on embeddings, after the encoder.

Latent-space translation (Maiorca et al., 2023) standardises both spaces before fitting the map
and undoes the target-side standardisation afterwards, so the output lives in the target
encoder's raw space. Each step here is exactly invertible on the data it was fitted for:

``center``    x - mean
``standard``  (x - mean) / std, a zero std becomes 1 (a constant dimension stays constant)
``l2``        x / ||x||; the inverse rescales to unit norm and multiplies by the mean anchor norm

Steps compose left to right, e.g. ``("center", "l2")``; ``"none"`` or ``()`` is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._numerics import l2_normalize
from ..errors import InvalidInputError, NotFittedError
from .folding import Affine, Op, RowScale

__all__ = ["STEPS", "SpaceNormalizer", "parse_steps"]

STEPS = ("center", "standard", "l2")
_PARAM_KEYS = {"center": ("mean",), "standard": ("mean", "scale"), "l2": ("norm",)}
_EPS = 1e-12


def parse_steps(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise a normaliser spec (``"center+l2"``, a sequence, ``"none"``) to step names."""
    if spec is None or spec == "none":
        return ()
    if isinstance(spec, str):
        spec = tuple(part.strip() for part in spec.split("+"))
    steps = tuple(spec)
    for step in steps:
        if step not in STEPS:
            raise InvalidInputError(
                f"unknown normalisation step {step!r}; use any of {STEPS} (combine with '+', "
                f"e.g. 'center+l2') or 'none'")
    return steps


class SpaceNormalizer:
    """A fitted chain of :data:`STEPS`.

    Parameters
    ----------
    steps : str or sequence of str
        ``"standard"``, ``"center+l2"``, ``("center", "l2")``, ``"none"``...
    """

    def __init__(self, steps: str | Sequence[str] | None = "standard") -> None:
        self.steps = parse_steps(steps)

    def __repr__(self) -> str:
        return f"SpaceNormalizer({'+'.join(self.steps) or 'none'!r})"

    def fit(self, X: np.ndarray) -> SpaceNormalizer:
        """Fit every step on float64 anchors ``X``, each on the previous step's output."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """Fit on float64 anchors ``X`` and return them transformed (float64), in one pass per
        step: fitting already computes every step's output, so this never transforms twice."""
        self.params_: list[dict[str, np.ndarray]] = []
        Z = np.asarray(X, dtype=np.float64)
        for step in self.steps:
            if step in ("center", "standard"):
                mean = Z.mean(axis=0)
                Z = Z - mean  # the one copy of this step; the rest is in place
                params = {"mean": mean}
                if step == "standard":
                    # the variance from the centred copy, without the temporaries of Z.std()
                    std = np.sqrt(np.einsum("ij,ij->j", Z, Z) / Z.shape[0])
                    params["scale"] = np.where(std > _EPS, std, 1.0)
                    Z /= params["scale"]
            else:
                norms = np.linalg.norm(Z, axis=1)
                params = {"norm": np.asarray(norms.mean())}
                if params["norm"] <= _EPS:
                    # The inverse would map every vector to 0: refuse rather than collapse.
                    raise InvalidInputError(
                        f"cannot fit the '{'+'.join(self.steps)}' normaliser: the anchors are all "
                        f"zero at the l2 step (e.g. identical anchors after centring); use "
                        f"distinct anchors or drop 'l2'")
                Z = Z / np.maximum(norms, _EPS)[:, None]
            self.params_.append(params)
        return Z

    def _check(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("this SpaceNormalizer is not fitted yet")

    @staticmethod
    def _forward(step: str, params: dict[str, np.ndarray], Z: np.ndarray) -> np.ndarray:
        if step == "center":
            return Z - params["mean"]
        if step == "standard":
            return (Z - params["mean"]) / params["scale"]
        return l2_normalize(Z)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitted steps (float64 in and out)."""
        self._check()
        Z = np.asarray(X, dtype=np.float64)
        for step, params in zip(self.steps, self.params_, strict=True):
            Z = self._forward(step, params, Z)
        return Z

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Undo the fitted steps in reverse order (float64 in and out)."""
        self._check()
        X = np.asarray(Z, dtype=np.float64)
        for step, params in zip(reversed(self.steps), reversed(self.params_), strict=True):
            if step == "center":
                X = X + params["mean"]
            elif step == "standard":
                X = X * params["scale"] + params["mean"]
            else:
                X = l2_normalize(X) * params["norm"]
        return X

    def ops(self, *, inverse: bool = False) -> list[Op]:
        """The fitted steps as :mod:`~semalign_core.align.folding` operations, in the order they
        apply (``inverse=True``: :meth:`inverse_transform`'s)."""
        self._check()
        out: list[Op] = []
        pairs = list(zip(self.steps, self.params_, strict=True))
        for step, params in (reversed(pairs) if inverse else pairs):
            if step == "l2":
                out.append(RowScale(np.asarray(params["norm"]).item() if inverse else 1.0))
                continue
            mean = np.asarray(params["mean"], dtype=np.float64)
            scale = (np.asarray(params["scale"], dtype=np.float64) if step == "standard"
                     else np.ones_like(mean))
            out.append(Affine(scale, mean) if inverse else Affine(1.0 / scale, -mean / scale))
        return out

    # -- persistence -------------------------------------------------------------------------
    def state(self, prefix: str) -> dict[str, np.ndarray]:
        self._check()
        return {f"{prefix}.{i}.{key}": np.asarray(value)
                for i, params in enumerate(self.params_) for key, value in params.items()}

    @classmethod
    def from_state(cls, steps: Sequence[str], arrays: dict[str, Any],
                   prefix: str) -> SpaceNormalizer:
        obj = cls(tuple(steps))
        obj.params_ = []
        for i, step in enumerate(obj.steps):
            head = f"{prefix}.{i}."
            params = {k[len(head):]: np.asarray(v, dtype=np.float64)
                      for k, v in arrays.items() if k.startswith(head)}
            for key in _PARAM_KEYS[step]:  # a damaged file fails here, not on first use
                if key not in params:
                    raise KeyError(f"missing array {head}{key} for normalisation step {step!r}")
            obj.params_.append(params)
        return obj



def __getattr__(name: str) -> object:
    # ``Preprocessing`` was SpaceNormalizer's name until it was confused with an encoder's input
    # preprocessing; the old name keeps working, with a warning, for a while.
    if name == "Preprocessing":
        from .._deprecated import warn_renamed

        warn_renamed("Preprocessing", "SpaceNormalizer")
        return SpaceNormalizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
