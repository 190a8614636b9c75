"""Conformance checks: the contract every encoder, anchor selector and solver must honour."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..align.anchors import AnchorSelector
from ..align.embeddings import Embeddings
from ..align.fingerprint import Fingerprint
from ..align.solvers import Solver
from ..encoding.encoder import MODALITIES, Encoder
from ..errors import (
    DimensionMismatchError,
    InvalidInputError,
    NotFittedError,
    SemalignError,
    TooFewAnchorsError,
)

__all__ = ["check_anchor_selector", "check_encoder", "check_solver"]


def _expect_error(error: type[BaseException], action: Callable[[], Any], rule: str) -> None:
    try:
        action()
    except error:
        return
    except Exception as exc:  # the wrong type is as bad as no error
        raise AssertionError(f"{rule}: expected {error.__name__}, got "
                             f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"{rule}: expected {error.__name__}, nothing was raised")


def _check_params(obj: Any) -> None:
    params = obj.get_params()
    clone = type(obj)(**params)
    assert clone.get_params().keys() == params.keys(), \
        f"{type(obj).__name__}: get_params() must return exactly the __init__ parameters"
    for key, value in params.items():
        assert clone.get_params()[key] is value or clone.get_params()[key] == value, \
            f"{type(obj).__name__}.__init__ must store {key!r} unchanged"
    _expect_error(InvalidInputError, lambda: copy.deepcopy(obj).set_params(no_such_param_=1),
                  f"{type(obj).__name__}.set_params with an unknown name")


# -- encoders ------------------------------------------------------------------------------------
def check_encoder(encoder: Encoder, items: Sequence[Any], *, atol: float = 1e-5,
                  expect_unloaded: bool = True) -> None:
    """Check an encoder against the :class:`~semalign_core.Encoder` contract.

    Parameters
    ----------
    encoder : Encoder
        A freshly built encoder (weights not loaded yet, unless ``expect_unloaded=False``).
    items : sequence
        At least 3 valid items of the encoder's modality (image paths or strings).
    atol : float
        Tolerance for batch-size invariance and determinism.
    """
    name = type(encoder).__name__
    assert isinstance(encoder, Encoder), f"{name} must subclass semalign_core.Encoder"
    assert len(items) >= 3, "check_encoder needs at least 3 sample items"
    assert encoder.modality in MODALITIES, \
        f"{name}.modality must be one of {MODALITIES}, got {encoder.modality!r}"
    assert isinstance(encoder.default_batch_size, int) and encoder.default_batch_size > 0, \
        f"{name}.default_batch_size must be a positive int"
    if expect_unloaded:
        assert not encoder.is_loaded, f"{name} must not load weights before first use"
    fp = encoder.fingerprint
    assert isinstance(fp, Fingerprint), f"{name}.fingerprint must be a Fingerprint"
    assert fp == encoder.fingerprint, f"{name}.fingerprint must be stable"
    assert isinstance(encoder.dim, int) and encoder.dim == fp.dim > 0, \
        f"{name}.dim ({encoder.dim}) must equal fingerprint.dim ({fp.dim})"

    items = list(items)
    emb = encoder.encode(items, progress=False)
    assert isinstance(emb, Embeddings), f"{name}.encode must return Embeddings"
    assert emb.vectors.shape == (len(items), encoder.dim), \
        f"{name}.encode returned shape {emb.vectors.shape}, expected {(len(items), encoder.dim)}"
    assert emb.vectors.dtype == np.float32, f"{name} must produce float32"
    assert emb.fingerprint == fp, f"{name}.encode must stamp its fingerprint"
    assert encoder.is_loaded, f"{name}.encode must load the weights"

    again = encoder.encode(items, progress=False).vectors
    np.testing.assert_allclose(again, emb.vectors, atol=atol,
                               err_msg=f"{name} must be deterministic")
    one_by_one = encoder.encode(items, batch_size=1, progress=False).vectors
    np.testing.assert_allclose(one_by_one, emb.vectors, atol=atol,
                               err_msg=f"{name} output must not depend on the batch size")
    reversed_out = encoder.encode(items[::-1], batch_size=2, progress=False).vectors
    np.testing.assert_allclose(reversed_out[::-1], emb.vectors, atol=atol,
                               err_msg=f"{name} must keep the input order")
    empty = encoder.encode([], progress=False)
    assert empty.vectors.shape == (0, encoder.dim), f"{name} must encode an empty list"


# -- anchor selectors ----------------------------------------------------------------------------
def check_anchor_selector(selector: AnchorSelector, *, seed: int = 0) -> None:
    """Check an anchor selector against the :class:`~semalign_core.AnchorSelector` contract."""
    name = type(selector).__name__
    assert isinstance(selector, AnchorSelector), f"{name} must subclass AnchorSelector"
    _check_params(selector)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    labels = np.repeat(np.array(["a", "b", "c"]), [30, 20, 10])

    for n in (2, 7, 30, 60):
        idx = selector.select(X, n)
        assert idx.shape == (n,) and len(np.unique(idx)) == n, \
            f"{name}.select must return {n} distinct indices"
        assert idx.min() >= 0 and idx.max() < len(X), f"{name} returned out-of-range indices"
        np.testing.assert_array_equal(selector.select(X, n), idx,
                                      err_msg=f"{name} must be deterministic for a fixed seed")
    labelled = selector.select(X, 12, labels=labels)
    assert len(np.unique(labelled)) == 12, f"{name} with labels must return distinct indices"

    _expect_error(TooFewAnchorsError, lambda: selector.select(X, 61), f"{name}: n > pool")
    _expect_error(TooFewAnchorsError, lambda: selector.select(X, 1), f"{name}: n < 2")
    _expect_error(InvalidInputError, lambda: selector.select(X, 5, labels=labels[:-1]),
                  f"{name}: labels of the wrong length")
    bad = X.copy()
    bad[3, 2] = np.nan
    _expect_error(InvalidInputError, lambda: selector.select(bad, 5), f"{name}: NaN input")


# -- solvers -------------------------------------------------------------------------------------
def check_solver(solver: Solver, *, dims: tuple[int, int] = (6, 4), n: int = 40,
                 seed: int = 0) -> None:
    """Check a solver against the :class:`~semalign_core.Solver` contract.

    The check fits copies of ``solver``; the object passed in is left unfitted.
    """
    name = type(solver).__name__
    assert isinstance(solver, Solver), f"{name} must subclass semalign_core.Solver"
    _check_params(solver)
    rng = np.random.default_rng(seed)
    dx, dy = dims
    X = rng.normal(size=(n, dx)).astype(np.float32)
    Y = (X @ rng.normal(size=(dx, dy))).astype(np.float32)
    X_before, Y_before = X.copy(), Y.copy()

    fresh = copy.deepcopy(solver)
    _expect_error(NotFittedError, lambda: fresh.transform(X), f"{name}.transform before fit")
    assert fresh.fit(X, Y) is fresh, f"{name}.fit must return self"
    np.testing.assert_array_equal(X, X_before, err_msg=f"{name}.fit must not modify X")
    np.testing.assert_array_equal(Y, Y_before, err_msg=f"{name}.fit must not modify Y")
    assert fresh.n_features_in_ == dx and fresh.n_features_out_ == dy and fresh.n_anchors_ == n
    new_public = {k for k in vars(fresh) if not k.startswith("_")} - set(fresh.get_params())
    assert all(k.endswith("_") for k in new_public), \
        f"{name}: fitted attributes must end in '_', got {sorted(new_public)}"
    out = fresh.transform(X)
    assert out.shape == (n, dy) and out.dtype == np.float32, \
        f"{name}.transform must return float32 of shape {(n, dy)}, got {out.dtype} {out.shape}"
    assert np.isfinite(out).all(), f"{name}.transform produced NaN or inf"

    refit = copy.deepcopy(solver).fit(X, Y)
    np.testing.assert_allclose(refit.transform(X), out, rtol=1e-6, atol=1e-6,
                               err_msg=f"{name}.fit must be deterministic")
    arrays, scalars = fresh.get_fitted_state()
    restored = copy.deepcopy(solver).set_fitted_state(copy.deepcopy(arrays), dict(scalars))
    np.testing.assert_array_equal(restored.transform(X), out,
                                  err_msg=f"{name}: fitted state must round-trip")

    _expect_error(DimensionMismatchError, lambda: fresh.transform(X[:, :-1]),
                  f"{name}.transform with the wrong input dimension")
    _expect_error(DimensionMismatchError, lambda: copy.deepcopy(solver).fit(X, Y[:-1]),
                  f"{name}.fit with unpaired X and Y")
    bad = X.copy()
    bad[0, 0] = np.inf
    _expect_error(InvalidInputError, lambda: copy.deepcopy(solver).fit(bad, Y),
                  f"{name}.fit with inf")
    _expect_error(InvalidInputError, lambda: fresh.transform(np.where(X > 0, np.nan, X)),
                  f"{name}.transform with NaN")
    _expect_error(TooFewAnchorsError, lambda: copy.deepcopy(solver).fit(X[:1], Y[:1]),
                  f"{name}.fit with one anchor")
    _expect_error(SemalignError, lambda: copy.deepcopy(solver).fit(X.astype(int), Y),
                  f"{name}.fit with integer input")
