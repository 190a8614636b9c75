"""scikit-learn style ``get_params`` / ``set_params`` for estimators whose ``__init__`` only stores
keyword hyperparameters unchanged."""

from __future__ import annotations

import inspect
from typing import Any

from .errors import InvalidInputError

__all__ = ["ParamsMixin"]


class ParamsMixin:
    """Derive hyperparameter names from the ``__init__`` signature, as scikit-learn does."""

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        return sorted(p.name for p in params
                      if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ParamsMixin:
        """Set hyperparameters; unknown names raise :class:`InvalidInputError`."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise InvalidInputError(
                    f"{type(self).__name__} has no parameter {name!r}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
