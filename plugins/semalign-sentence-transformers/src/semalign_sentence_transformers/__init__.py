"""semalign plugin: sentence-transformers text encoders.

>>> from semalign_core import get_encoder
>>> enc = get_encoder("minilm")   # all-MiniLM-L6-v2; nothing loads yet
>>> enc.is_loaded
False

Torch and sentence-transformers are imported only when an encoder loads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from semalign_core import hookimpl

__all__ = ["PRESETS", "SentenceTransformerEncoder", "register_encoders"]

#: Registered preset names -> (hub id, aliases).
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "all-minilm-l6-v2": ("sentence-transformers/all-MiniLM-L6-v2",
                         ("minilm", "all-MiniLM-L6-v2")),
    "all-mpnet-base-v2": ("sentence-transformers/all-mpnet-base-v2", ("mpnet",)),
}


def __getattr__(name: str) -> Any:
    if name == "SentenceTransformerEncoder":
        from .encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder
    raise AttributeError(name)


def _make(preset: str | None = None, **options: Any) -> Any:
    from .encoder import SentenceTransformerEncoder

    if preset is not None:
        options.setdefault("model", preset)
    return SentenceTransformerEncoder(**options)


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register("sentence-transformers", _make, aliases=("st",),
             description="any sentence-transformers model by hub id or local dir (model=)")
    for name, (repo, aliases) in PRESETS.items():
        register(name, partial(_make, repo), aliases=aliases,
                 description=f"sentence-transformers {repo}")
