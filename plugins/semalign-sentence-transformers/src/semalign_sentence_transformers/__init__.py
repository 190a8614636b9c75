"""semalign plugin: sentence-transformers text encoders.

>>> from semalign_core import get_encoder
>>> enc = get_encoder("st-all-minilm-l6-v2-text")   # nothing loads yet
>>> enc.is_loaded
False

Torch and sentence-transformers are imported only when an encoder loads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from semalign_core import hookimpl

__all__ = ["PRESETS", "SentenceTransformerEncoder", "register_encoders"]

#: Registered preset names (``st-<model>-text``: family ``st``, the hub model name lower-cased,
#: and ``-text`` as every text encoder) -> (hub id, aliases). The aliases are the names used
#: before the naming rule (docs/writing-plugins.md) and keep working.
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "st-all-minilm-l6-v2-text": ("sentence-transformers/all-MiniLM-L6-v2",
                                 ("all-minilm-l6-v2", "minilm", "all-MiniLM-L6-v2")),
    "st-all-mpnet-base-v2-text": ("sentence-transformers/all-mpnet-base-v2",
                                  ("all-mpnet-base-v2", "mpnet")),
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
    register("st-text", _make, aliases=("sentence-transformers", "st"), modality="text",
             summary="any sentence-transformers model by hub id or local dir (model=)")
    for name, (repo, aliases) in PRESETS.items():
        register(name, partial(_make, repo), aliases=aliases, modality="text", summary=repo)
