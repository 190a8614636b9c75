"""Conformance checks: the contract every encoder, anchor selector and solver must honour.

Each rule of a base class's contract is one named check (``encoder_checks.py``,
``selector_checks.py``, ``solver_checks.py``). Two ways to run them, modelled on scikit-learn's
``check_estimator`` / ``parametrize_with_checks``:

* :func:`parametrize_with_checks` makes one pytest case per (object, check), so a plugin author
  sees every broken rule at once, each under its own name;
* :func:`check_encoder`, :func:`check_anchor_selector` and :func:`check_solver` run every check
  of one object and raise one ``AssertionError`` listing all that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from ..align.anchors import AnchorSelector
from ..align.solvers import Solver
from ..encoding.encoder import Encoder
from ..errors import InvalidInputError
from ._common import Check, CheckOptions, fresh_copy, run_checks
from .encoder_checks import ENCODER_CHECKS
from .selector_checks import SELECTOR_CHECKS
from .solver_checks import SOLVER_CHECKS

__all__ = ["check_anchor_selector", "check_encoder", "check_solver", "checks_for",
           "parametrize_with_checks"]

_CHECKS: tuple[tuple[type, tuple[Check, ...]], ...] = (
    (Encoder, ENCODER_CHECKS), (AnchorSelector, SELECTOR_CHECKS), (Solver, SOLVER_CHECKS))


def check_encoder(encoder: Encoder, items: Sequence[Any] | None = None, *, atol: float = 1e-5,
                  expect_unloaded: bool = True) -> None:
    """Check an encoder against the :class:`~semalign_core.Encoder` contract.

    Parameters
    ----------
    encoder : Encoder
        A freshly built encoder (weights not loaded yet, unless ``expect_unloaded=False``).
    items : sequence, optional
        At least 3 valid items of the encoder's modality (image paths or strings); by default
        four built-in sentences, or four small generated PNGs (needs Pillow).
    atol : float
        Tolerance for batch-size invariance and determinism.
    """
    run_checks(encoder, ENCODER_CHECKS,
               CheckOptions(items=items, atol=atol, expect_unloaded=expect_unloaded))


def check_anchor_selector(selector: AnchorSelector, *, seed: int = 0) -> None:
    """Check an anchor selector against the :class:`~semalign_core.AnchorSelector` contract."""
    run_checks(selector, SELECTOR_CHECKS, CheckOptions(seed=seed))


def check_solver(solver: Solver, *, dims: tuple[int, int] = (6, 4), n: int = 40,
                 seed: int = 0) -> None:
    """Check a solver against the :class:`~semalign_core.Solver` contract.

    The checks fit copies of ``solver``; the object passed in is left unfitted.
    """
    run_checks(solver, SOLVER_CHECKS, CheckOptions(dims=dims, n=n, seed=seed))


def _run_one(check: Check, options: CheckOptions, obj: Any) -> None:
    check(fresh_copy(obj), options)


def checks_for(obj: Any, **options: Any) -> list[tuple[str, Callable[[Any], None]]]:
    """``(name, check)`` for every check that applies to ``obj``; ``check(obj)`` runs it on a copy.

    ``options`` are those of :func:`parametrize_with_checks`.

    Raises
    ------
    InvalidInputError
        For an object that is not an Encoder, AnchorSelector or Solver.
    """
    for base, checks in _CHECKS:
        if isinstance(obj, base):
            bound = CheckOptions(**options)
            return [(check.name, partial(_run_one, check, bound)) for check in checks]
    raise InvalidInputError(f"no conformance checks for {type(obj).__name__}: pass Encoder, "
                            f"AnchorSelector or Solver instances")


def parametrize_with_checks(objects: Iterable[Any], *,
                            items: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
                            atol: float = 1e-5, expect_unloaded: bool = True, seed: int = 0,
                            dims: tuple[int, int] = (6, 4), n: int = 40) -> Any:
    """A ``pytest.mark.parametrize`` over every (object, check) pair, one named case each.

    >>> from semalign_core.align.identity import IdentitySolver
    >>> @parametrize_with_checks([IdentitySolver()], dims=(4, 4))
    ... def test_conformance(obj, check):
    ...     check(obj)

    Case ids are ``<class>-<check>`` (``IdentitySolver-shape``), so ``pytest -k shape`` runs one
    rule. Each case runs on a deep copy of the object, so cases are independent.

    Parameters
    ----------
    objects : iterable
        Encoders (unloaded), anchor selectors and solvers, in any mix.
    items : sequence or mapping, optional
        Encoder sample items: one sequence for every encoder, or ``{"image": [...], "text":
        [...]}``; by default built-in sentences and generated PNGs.
    atol, expect_unloaded
        As in :func:`check_encoder`.
    seed, dims, n
        As in :func:`check_solver` (``seed`` also seeds the selector checks).
    """
    import pytest

    options = {"items": items, "atol": atol, "expect_unloaded": expect_unloaded, "seed": seed,
               "dims": tuple(dims), "n": n}
    cases = [pytest.param(obj, check, id=f"{type(obj).__name__}-{name}")
             for obj in objects for name, check in checks_for(obj, **options)]
    return pytest.mark.parametrize(("obj", "check"), cases)
