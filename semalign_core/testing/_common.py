"""What the conformance checks share: the options they take, error expectations, params checks."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError

__all__ = ["Check", "CheckOptions", "expect_error", "fresh_copy", "run_checks"]


@dataclass(frozen=True)
class CheckOptions:
    """Everything a check may need besides the object under test.

    ``items`` are the sample inputs for encoders: a sequence for every encoder, or a mapping from
    modality (``"image"``, ``"text"``) to a sequence; ``None`` means the built-in samples.
    """

    items: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None
    atol: float = 1e-5
    expect_unloaded: bool = True
    seed: int = 0
    dims: tuple[int, int] = (6, 4)
    n: int = 40


@dataclass(frozen=True)
class Check:
    """One named rule of a base class's contract: ``function(obj, options)`` raises if broken."""

    name: str
    function: Callable[[Any, CheckOptions], None]

    def __call__(self, obj: Any, options: CheckOptions) -> None:
        self.function(obj, options)


def expect_error(error: type[BaseException], action: Callable[[], Any], rule: str) -> None:
    """Assert that ``action()`` raises ``error`` (a different exception is as bad as none)."""
    try:
        action()
    except error:
        return
    except Exception as exc:
        raise AssertionError(f"{rule}: expected {error.__name__}, got "
                             f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"{rule}: expected {error.__name__}, nothing was raised")


def check_params(obj: Any, options: CheckOptions) -> None:
    """scikit-learn conventions: ``__init__`` stores its parameters unchanged; ``set_params``
    refuses unknown names."""
    name = type(obj).__name__
    params = obj.get_params()
    clone = type(obj)(**params)
    assert clone.get_params().keys() == params.keys(), \
        f"{name}: get_params() must return exactly the __init__ parameters"
    for key, value in params.items():
        assert clone.get_params()[key] is value or clone.get_params()[key] == value, \
            f"{name}.__init__ must store {key!r} unchanged"
    expect_error(InvalidInputError, lambda: copy.deepcopy(obj).set_params(no_such_param_=1),
                 f"{name}.set_params with an unknown name")


def fresh_copy(obj: Any) -> Any:
    """A deep copy, so one check cannot leave state behind for the next; the object itself when
    it cannot be copied (e.g. an encoder whose loaded model holds a lock)."""
    try:
        return copy.deepcopy(obj)
    except Exception:
        return obj


def run_checks(obj: Any, checks: Sequence[Check], options: CheckOptions) -> None:
    """Run every check on ``obj`` in order and report all failures at once."""
    failures = []
    for check in checks:
        try:
            check(obj, options)
        except Exception as exc:  # every broken rule is reported, not just the first
            failures.append(f"- {check.name}: {type(exc).__name__}: {exc}")
    if failures:
        raise AssertionError(f"{type(obj).__name__} failed {len(failures)} of {len(checks)} "
                             f"conformance checks:\n" + "\n".join(failures))
