"""Experiment configs: one YAML or JSON file describes a whole run of ``semalign run``.

The schema is a set of pydantic (v2) models; unknown keys are refused, so a typo is an error,
not a silently ignored option. :func:`load_config` turns every validation problem into one
:class:`ConfigError` whose message names the field path (``task.prompts``,
``anchors.count.1``...). See docs/experiments.md for the reference and a full example.

Paths in a config are relative to the config file's folder; ``~`` and environment variables are
expanded, and ``${SEMALIGN_SHARED_DIR}`` falls back to the discovered shared-data folder
(:func:`semalign_core.data.sources.find_shared_dir`) when the variable is unset.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from ..errors import InvalidInputError, UnknownPluginError
from .datasets import DatasetSpec
from .paths import resolve_path
from .tasks.base import TaskConfig, task_class

if TYPE_CHECKING:
    from .tasks.base import Task

__all__ = [
    "AnchorsConfig",
    "ConfigError",
    "DatasetSpec",
    "EncoderSpec",
    "EvaluationConfig",
    "ExperimentConfig",
    "TaskConfig",
    "load_config",
    "parse_config",
]

#: The metric a report plots when ``report.primary_metric`` is unset: the first of these the task
#: evaluates, else its first metric.
PRIMARY_PREFERENCE = ("auroc", "balanced_accuracy", "top1", "mean_cosine")


class ConfigError(InvalidInputError):
    """An experiment config is invalid; the message names the field(s)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentSpec(_Model):
    """A registered component: its name and keyword options."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class EncoderSpec(_Model):
    """An encoder: a registered name (``semalign plugins``) and its options."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class EncodersConfig(_Model):
    """The source encoder (translated from) and the target encoder (translated into)."""

    source: EncoderSpec
    target: EncoderSpec


class PairingSpec(_Model):
    """Pair every anchor-pool item with texts of its own label drawn from ``dataset``.

    For data without per-item reports (class-level pairing, as in the pneumonia demo). For each
    run seed, the texts of each class are shuffled; a ``holdout`` fraction is kept out of the
    pairing (available to ``task.class_texts`` with ``holdout: true``) and each pool item gets
    the L2-normalised mean embedding of ``k`` random texts of its class from the rest.
    """

    dataset: DatasetSpec
    by: Literal["label"] = "label"
    k: int = Field(1, ge=1)
    holdout: float = Field(0.0, ge=0, lt=1)
    seed: int = 0


class AnchorsConfig(_Model):
    """The anchor pool, how many anchors to draw from it, and how."""

    dataset: DatasetSpec
    count: int | list[int]
    selector: ComponentSpec = ComponentSpec(name="random")
    use_labels: bool = Field(True, description="pass the pool's labels to the selector")
    texts: PairingSpec | None = None

    @field_validator("count")
    @classmethod
    def _counts(cls, value: int | list[int]) -> int | list[int]:
        counts = [value] if isinstance(value, int) else value
        if not counts:
            raise ValueError("give at least one anchor count")
        for n in counts:
            if n < 2:
                raise ValueError(f"anchor counts must be >= 2, got {n}")
        if len(set(counts)) != len(counts):
            raise ValueError("anchor counts must be distinct")
        return value

    @property
    def counts(self) -> list[int]:
        return [self.count] if isinstance(self.count, int) else list(self.count)


def _renamed_keys(data: Any, renames: Mapping[str, str], where: str) -> Any:
    """Accept deprecated config keys under their new names (with a DeprecationWarning)."""
    if not isinstance(data, Mapping) or not any(old in data for old in renames):
        return data
    from .._deprecated import pop_renamed

    values = dict(data)
    try:
        pop_renamed(values, renames, where=where, stacklevel=2)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    return values


class TranslatorConfig(_Model):
    """The solver and the per-side space normalisers of the :class:`~semalign_core.Translator`.

    ``source_preprocessing``/``target_preprocessing`` are deprecated spellings of
    ``source_norm``/``target_norm``.
    """

    solver: str = "affine"
    params: dict[str, Any] = Field(default_factory=dict)
    source_norm: str | list[str] = "standard"
    target_norm: str | list[str] = "standard"

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        return _renamed_keys(data, {"source_preprocessing": "source_norm",
                                    "target_preprocessing": "target_norm"}, "config key")

    @field_validator("source_norm", "target_norm")
    @classmethod
    def _steps(cls, value: str | list[str]) -> str | list[str]:
        from ..align.normalizers import parse_steps

        parse_steps(value)  # raises InvalidInputError (a ValueError) naming the bad step
        return value


class EvaluationConfig(_Model):
    """The evaluation data, metrics, confidence intervals and baselines."""

    dataset: DatasetSpec
    metrics: list[str] | None = None
    bootstrap: int = Field(1000, ge=1, description="bootstrap resamples per CI")
    confidence: float = Field(0.95, gt=0, lt=1)
    baselines: list[Literal["probe", "chance", "k-shot-probe"]] = Field(
        default_factory=lambda: ["probe", "chance"],
        description="'k-shot-probe': the probe on k labelled pool items per class for each k "
                    "in probe_shots (classification tasks), drawn in anchors_curve.png")
    probe_shots: set[PositiveInt] = Field(default_factory=lambda: {1, 2, 4, 8, 16}, min_length=1)


class ReportConfig(_Model):
    plots: bool = True
    primary_metric: str | None = None


class EngineConfig(_Model):
    """Where encoding runs: this process, or a Ray actor pool (see docs/scale.md)."""

    name: Literal["local", "ray"] = "local"
    workers: int | None = Field(None, ge=1, description="Ray actors (default: one per GPU, "
                                                        "else one per `threads` CPUs)")
    address: str | None = Field(None, description="Ray cluster to join; default: the running "
                                                  "Ray, else a new local one")
    threads: int = Field(1, ge=1, description="torch threads per CPU actor")
    shard_size: int | None = Field(None, ge=1, description="items per cache shard, and per Ray "
                                                           "task (default 256): a dataset "
                                                           "smaller than one shard keeps one "
                                                           "actor busy")
    hash_on: Literal["driver", "workers"] = Field(
        "driver", description="where content keys are computed: the driver (a fully cached "
                              "run never starts Ray) or the Ray actors (no image read here)")

    @model_validator(mode="after")
    def _local_has_no_cluster(self) -> EngineConfig:
        if self.name == "local" and (self.workers not in (None, 1) or self.address
                                     or self.hash_on != "driver"):
            raise ValueError("workers, address and hash_on apply to engine 'ray'")
        return self


class ExperimentConfig(_Model):
    """A whole experiment (the file ``semalign run`` reads)."""

    name: str = "experiment"
    description: str = ""
    encoders: EncodersConfig
    anchors: AnchorsConfig
    translator: TranslatorConfig = TranslatorConfig()
    task: TaskConfig  # parse_config substitutes the registered task's own config model
    evaluation: EvaluationConfig
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    output_dir: str | None = None
    cache_dir: str | None = None
    batch_size: int | None = Field(None, ge=1)
    engine: EngineConfig = EngineConfig()
    report: ReportConfig = ReportConfig()
    _base: str | None = PrivateAttr(None)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("seeds must be distinct")
        return value

    @model_validator(mode="after")
    def _fits_the_task(self) -> ExperimentConfig:
        task = self.task_class
        task.check_experiment(self)
        allowed = list(task.metrics)
        metrics = self.evaluation.metrics
        if metrics is not None:
            bad = [m for m in metrics if m not in allowed]
            if bad or not metrics:
                raise ValueError(f"evaluation.metrics: {bad or 'empty'} not available for task "
                                 f"{self.task.kind!r}; choose from {allowed}")
        primary = self.report.primary_metric
        if primary is not None and primary not in (metrics or allowed):
            raise ValueError(f"report.primary_metric {primary!r} is not one of the evaluated "
                             f"metrics {list(metrics or allowed)}")
        return self

    # -- derived -------------------------------------------------------------------------------
    @property
    def task_class(self) -> type[Task]:
        """The registered :class:`~.tasks.base.Task` subclass of ``task.kind``."""
        return task_class(self.task.kind)

    @property
    def metric_names(self) -> list[str]:
        if self.evaluation.metrics is not None:
            return list(self.evaluation.metrics)
        return list(self.task_class.metrics)

    @property
    def primary_metric(self) -> str:
        if self.report.primary_metric:
            return self.report.primary_metric
        names = self.metric_names
        return next((m for m in PRIMARY_PREFERENCE if m in names), names[0])

    def resolve_path(self, value: str) -> Path:
        """A config path made absolute against the config file's folder."""
        return resolve_path(value, self._base_dir())

    def resolved_output_dir(self) -> Path:
        """``output_dir``, or a folder named after the experiment under the per-user runs folder
        (:func:`semalign_core.locations.default_run_dir`), never inside a checkout."""
        from ..locations import default_run_dir

        return self.resolve_path(self.output_dir) if self.output_dir else default_run_dir(
            self.name)

    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, or the per-user embedding cache shared by every run
        (:func:`semalign_core.locations.default_cache_dir`)."""
        from ..locations import default_cache_dir

        return self.resolve_path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def _base_dir(self) -> Path:
        return Path(self._base) if self._base else Path.cwd()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _location(loc: tuple[Any, ...], kind: str | None) -> str:
    # name the task schema that was applied in the path (task.zero-shot.prompts): the same
    # field means different things in different tasks
    if kind is not None and loc and loc[0] == "task":
        loc = ("task", kind, *loc[1:])
    return ".".join(str(part) for part in loc) or "<root>"


def _format_errors(exc: ValidationError, source: str, kind: str | None) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        parts.append(f"{_location(err['loc'], kind)}: {message}")
    return f"invalid config {source}: " + "; ".join(parts)


@functools.cache
def _with_task(config_model: type[TaskConfig]) -> type[ExperimentConfig]:
    """``ExperimentConfig`` whose ``task`` section is validated by ``config_model``."""
    return create_model(ExperimentConfig.__name__, __base__=ExperimentConfig,
                        __module__=__name__, task=(config_model, ...))


def _model_for(data: Mapping[str, Any], source: str) -> tuple[type[ExperimentConfig], str | None]:
    task = data.get("task")
    kind = task.get("kind") if isinstance(task, Mapping) else None
    if not isinstance(kind, str):
        return ExperimentConfig, None  # pydantic names the missing task or kind
    try:
        return _with_task(task_class(kind).config_model), kind
    except UnknownPluginError as exc:
        raise ConfigError(f"invalid config {source}: task.kind: {exc.args[0]}") from None


def parse_config(data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None,
                 source: str = "<dict>") -> ExperimentConfig:
    """Validate a config given as a mapping.

    Parameters
    ----------
    data : mapping
    base_dir : path, optional
        Folder relative paths are resolved against (default: the cwd).
    source : str
        Named in error messages.

    Raises
    ------
    ConfigError
        Naming each invalid field by its path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"invalid config {source}: the top level must be a mapping, got "
                          f"{type(data).__name__}")
    model, kind = _model_for(data, source)
    try:
        config = model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source, kind)) from None
    config._base = str(Path(base_dir).resolve()) if base_dir is not None else None
    return config


def load_config(path: str | os.PathLike[str]) -> ExperimentConfig:
    """Read and validate a YAML (``.yaml``/``.yml``) or JSON config file.

    Raises
    ------
    ConfigError
        A missing or unparsable file, or an invalid field (named by its path).
    """
    from ..fileio import read_text

    source = Path(path)
    text = read_text(source, "config file", ConfigError)
    suffix = source.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"config {source} must be .yaml, .yml or .json")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("reading YAML configs needs pyyaml; install "
                          "'semalign-core[experiments]'") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            problem = " ".join(str(exc).split())
            raise ConfigError(f"{source} is not valid YAML: {problem}") from None
        raise
    return parse_config(data, base_dir=source.parent, source=str(source))
