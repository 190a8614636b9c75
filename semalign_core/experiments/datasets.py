"""Where an experiment's items come from: the ``dataset:`` config sections and their loader.

A dataset is either a manifest file / image folder (``manifest: ...``) or a registered dataset
(``name: kermany, root: ..., options: {...}``; see ``semalign_core.list_datasets()``). The old
spelling ``builtin: kermany, path: ...`` is accepted as an alias of ``name`` and ``root``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..data.manifest import Manifest
from ..data.readers import read_manifest
from ..data.splits import split_by_group
from ..errors import InvalidInputError, UnknownPluginError

__all__ = ["DatasetSpec", "GroupSplitSpec", "load_dataset"]

#: Old key -> new key (configs written before datasets became plugins).
_ALIASES = {"builtin": "name", "path": "root"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupSplitSpec(_Model):
    """Re-split a dataset by group before filtering (:func:`semalign_core.data.split_by_group`)."""

    test_size: float = Field(0.5, gt=0, lt=1)
    seed: int = 0
    names: tuple[str, str] = ("a", "b")


class DatasetSpec(_Model):
    """A manifest file / image folder, or a registered dataset read from ``root``.

    Exactly one of ``manifest`` or ``name`` is given.
    """

    manifest: str | None = None
    name: str | None = None
    root: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)
    split_by_group: GroupSplitSpec | None = None
    split: str | list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not set(_ALIASES) & set(data):
            return data
        data = dict(data)
        for old, new in _ALIASES.items():
            if old in data:
                if new in data:
                    raise ValueError(f"give {new!r} or its old alias {old!r}, not both")
                data[new] = data.pop(old)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.manifest is None) == (self.name is None):
            raise ValueError("give exactly one of 'manifest' (a CSV/Parquet file or image "
                             "folder) or 'name' (a registered dataset such as kermany, openi)")
        if self.manifest is not None and (self.root is not None or self.options):
            raise ValueError("'root' and 'options' belong to named datasets; a manifest "
                             "takes 'columns'")
        if self.name is not None:
            if self.root is None:
                raise ValueError(f"dataset {self.name!r} needs 'root' (the folder or file to "
                                 f"read it from)")
            from ..plugins.registry import get_entry

            try:
                get_entry("dataset", self.name)
            except UnknownPluginError as exc:  # a KeyError: pydantic wants a ValueError
                raise ValueError(exc.args[0]) from None
        return self


def load_dataset(spec: DatasetSpec, resolve: Callable[[str], Path] | None = None) -> Manifest:
    """The manifest ``spec`` describes, re-split and filtered as it says.

    Parameters
    ----------
    spec : DatasetSpec
    resolve : callable, optional
        Turns a config path into an absolute one (``ExperimentConfig.resolve_path``); default:
        relative to the working directory.
    """
    from ..data.manifest import get_dataset

    resolve = resolve or (lambda value: Path(value).expanduser().resolve())
    if spec.manifest is not None:
        manifest = read_manifest(resolve(spec.manifest), columns=spec.columns or None)
    else:
        assert spec.name is not None and spec.root is not None  # checked by the model
        manifest = get_dataset(spec.name, resolve(spec.root), **spec.options)
    if spec.split_by_group is not None:
        s = spec.split_by_group
        manifest = split_by_group(manifest, test_size=s.test_size, seed=s.seed,
                                  names=tuple(s.names))  # type: ignore[arg-type]
    if spec.split is not None:
        manifest = manifest.filter(split=spec.split)
    if not len(manifest):
        raise InvalidInputError(f"dataset {manifest.source} has no items (split "
                                f"{spec.split!r})")
    return manifest
