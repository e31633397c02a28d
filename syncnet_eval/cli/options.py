"""Click options built from the configuration table, and the option bundles commands share.

Every option that sets a config field takes its name, default, range or choices and help text
from that field's :class:`~syncnet_eval.config.Option` (PySceneDetect's ``_click_range`` over one
table): ``--batch-size`` is ``ScoreConfig.batch_size``. Bundles (:func:`recipe_options`,
:func:`run_options`) add a group of options to a command and hand it one typed object instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields, replace
import functools
import os
from pathlib import Path
import tempfile
import typing
from typing import Any, TypeVar, cast

import click

from ..checks import Thresholds
from ..config import (
    Option,
    PipelineConfig,
    ScoreConfig,
    config_from_options,
    option_of,
)
from ..engines import DEFAULT_EXECUTOR, EXECUTORS
from ..engines.plan import BatchConfig, RunConfig
from ..errors import ConfigError
from ..recipes import (
    DEFAULT_RECIPE,
    RECIPES,
    check_recipe_options,
    ignored_recipe_options,
    recipe_help,
)
from ..rules import Rules

__all__ = [
    "EngineOptions",
    "RecipeSetup",
    "rule_options",
    "table_option",
    "video_rule_options",
    "writable_dir",
    "writable_file",
    "config_option",
    "engine_options",
    "recipe_options",
    "run_options",
    "run_options_keeping",
]

F = TypeVar("F", bound=Callable[..., Any])


class _ChoiceOrIndexed(click.ParamType):  # type: ignore[type-arg]
    """A choice, or one of the ``prefixN`` forms of an option's ``indexed`` prefixes."""

    def __init__(self, spec: Option) -> None:
        self.spec = spec
        self.name = "|".join([*(spec.choices or ()), *(f"{p}N" for p in spec.indexed)])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            self.spec.check("value", value)
        except ConfigError:
            self.fail(f"{value!r} is not one of {self.name.replace('|', ', ')}", param, ctx)
        return value


class _OnlyValue(click.ParamType):  # type: ignore[type-arg]
    """A number option whose range is one value (``--fps``: only 25): said as such, not as
    ``25<=x<=25``."""

    def __init__(self, number: click.ParamType, value: float) -> None:  # type: ignore[type-arg]
        self.number = number
        self.value = value
        self.name = f"{value:g}"  # the metavar: ``--fps 25``

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        converted = self.number.convert(value, param, ctx)
        if converted != self.value:
            self.fail(f"only {self.value:g} is supported, got {converted:g}", param, ctx)
        return converted


def _param_type(annotation: Any, spec: Option) -> click.ParamType[Any] | type[str]:
    if spec.choices is not None and spec.indexed:
        return _ChoiceOrIndexed(spec)
    if spec.choices is not None:
        return click.Choice(spec.choices)
    if annotation in (int, float) and spec.min is not None and spec.min == spec.max:
        number = click.INT if annotation is int else click.FLOAT
        return _OnlyValue(number, spec.min)
    if annotation is int:
        return click.IntRange(
            None if spec.min is None else int(spec.min),
            None if spec.max is None else int(spec.max),
            min_open=spec.min_open,
        )
    if annotation is float:
        return click.FloatRange(spec.min, spec.max, min_open=spec.min_open)
    return str


def config_option(
    config_cls: type, name: str, help_values: dict[str, str] | None = None
) -> Callable[[F], F]:
    """The click option ``--name-with-dashes`` for field ``name`` of ``config_cls``
    (``help_values`` fill the ``{placeholders}`` of its help text)."""
    spec = option_of(config_cls, name)
    if help_values:
        spec = replace(spec, help=spec.help.format(**help_values))
    field = next(f for f in fields(config_cls) if f.name == name)
    annotation = typing.get_type_hints(config_cls)[name]
    optional = type(None) in typing.get_args(annotation)
    if optional:  # int | None and the like: the option's type is the other one
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    flag = spec.flag or "--" + name.replace("_", "-")
    if field.default is MISSING:
        raise TypeError(f"{config_cls.__name__}.{name} has no default")
    if annotation is bool and optional:  # on, off, or decided by the command (None)
        off = "--no-" + flag[2:]
        return click.option(f"{flag}/{off}", name, default=None, help=spec.help)
    if annotation is bool and not field.default:  # a switch that is off unless given
        return click.option(flag, name, is_flag=True, help=spec.help)
    if annotation is bool:
        off = "--no-" + flag[2:]
        return click.option(
            f"{flag}/{off}", name, default=field.default, show_default=True, help=spec.help
        )
    return click.option(
        flag,
        *spec.aliases,
        name,
        type=_param_type(annotation, spec),
        default=field.default,
        show_default=field.default is not None,
        metavar=spec.metavar,
        help=spec.help,
    )


def _config_options(config_cls: type) -> list[Callable[[F], F]]:
    return [config_option(config_cls, f.name) for f in fields(config_cls)]


def _apply(func: F, decorators: list[Callable[[F], F]]) -> F:
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


@dataclass(frozen=True)
class RecipeSetup:
    """How to score: the recipe, its configurations and the weights (``--recipe`` and friends)."""

    recipe: str
    score_config: ScoreConfig
    pipeline_config: PipelineConfig
    syncnet_weights: Path | None
    s3fd_weights: Path | None
    offline: bool
    asd_weights: Path | None = None

    def batch_config(self, **extra: Any) -> BatchConfig:
        """A ``BatchConfig`` with these settings and ``extra`` fields (detections, or another
        ``recipe``...)."""
        fields: dict[str, Any] = {
            "recipe": self.recipe,
            "score_config": self.score_config,
            "pipeline_config": self.pipeline_config,
            "syncnet_weights": self.syncnet_weights,
            "s3fd_weights": self.s3fd_weights,
            "asd_weights": self.asd_weights,
            "offline": self.offline,
        }
        return BatchConfig(**(fields | extra))


def recipe_options(func: F | None = None, *, recipes: tuple[str, ...] = RECIPES) -> Any:
    """Add ``--recipe``, every scoring and pipeline option and the weights options; the command
    receives them as ``setup: RecipeSetup``. ``recipes``: the ones the command takes (its
    ``--recipe`` choices and help)."""
    if func is None:
        return functools.partial(recipe_options, recipes=recipes)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        score_names = {f.name for f in fields(ScoreConfig)}
        pipeline_names = {f.name for f in fields(PipelineConfig)}
        # A command may drop an option that does nothing there (speakers: --track-select); its
        # field keeps the config's default.
        values = {k: kwargs.pop(k) for k in score_names | pipeline_names if k in kwargs}
        recipe = kwargs.pop("recipe")
        pipeline_config = config_from_options(PipelineConfig, values)
        try:
            check_recipe_options(recipe, pipeline_config)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        for warning in ignored_recipe_options(recipe, pipeline_config):
            click.echo(f"Warning: {warning}", err=True)
        kwargs["setup"] = RecipeSetup(
            recipe=recipe,
            score_config=config_from_options(ScoreConfig, values),
            pipeline_config=pipeline_config,
            syncnet_weights=kwargs.pop("syncnet_weights"),
            s3fd_weights=kwargs.pop("s3fd_weights"),
            asd_weights=kwargs.pop("asd_weights"),
            offline=kwargs.pop("offline"),
        )
        return func(*args, **kwargs)

    decorators: list[Callable[[F], F]] = [
        click.option(
            "--recipe",
            type=click.Choice(recipes),
            default=DEFAULT_RECIPE if DEFAULT_RECIPE in recipes else recipes[0],
            show_default=True,
            help=recipe_help(recipes),
        ),
        click.option(
            "--syncnet-weights",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="SyncNet state-dict file (default: the official syncnet_v2.model, "
            "found in SYNCNET_EVAL_WEIGHTS or the cache, downloaded on first "
            "use).",
        ),
        click.option(
            "--s3fd-weights",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="S3FD state-dict file (default: the official sfd_face.pth).",
        ),
        click.option(
            "--asd-weights",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Light-ASD checkpoint file for --asd (default: the published one of "
            "--asd-model, downloaded on first use).",
        ),
        click.option(
            "--offline", is_flag=True, help="Never download weights; fail if they are missing."
        ),
        *_config_options(ScoreConfig),
        *_config_options(PipelineConfig),
    ]
    return _apply(cast(F, wrapper), decorators)


_SCORE_RECORDS = "the -o FILE.jsonl log or -o FILE.parquet"


def run_options(func: F) -> F:
    """Add every ``RunConfig`` option (``--workers``, ``--timeout``, ``--resume/--no-resume``,
    ``--retry-failed``, ``--identity``, ``--streams``); the command receives ``run:
    RunConfig``. Contradictions are bad usage (exit 2)."""
    return run_options_keeping(_SCORE_RECORDS)(func)


def run_options_keeping(records: str) -> Callable[[F], F]:
    """:func:`run_options` for a command that keeps the records it resumes from in
    ``records`` (said in the help of ``--resume`` and ``--retry-failed``)."""
    return functools.partial(_run_options, records=records)


def _run_options(func: F, records: str) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {f.name: kwargs.pop(f.name) for f in fields(RunConfig)}
        try:
            kwargs["run"] = RunConfig(**values)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        return func(*args, **kwargs)

    decorators: list[Callable[[F], F]] = [
        config_option(RunConfig, f.name, help_values={"records": records})
        for f in fields(RunConfig)
    ]
    return _apply(cast(F, wrapper), decorators)


@dataclass(frozen=True)
class EngineOptions:
    """Which executor scores the run (``--engine``) and its own options (``None`` for one
    without any)."""

    engine: str
    options: Any = None

    def executor(self) -> Any:
        """The executor (its module is imported now: only when a run starts)."""
        from ..engines import create_executor

        return create_executor(self.engine, self.options)


def _engine_help() -> str:
    return "; ".join(f"{e.name}: {e.help}" for e in EXECUTORS.values()) + "; same records."


def engine_options(func: F) -> F:
    """Add ``--engine`` and every registered executor's own options (each valid only with its
    engine); the command receives ``engine: EngineOptions``."""
    owners = {
        f.name: (entry.name, cls)
        for entry in EXECUTORS.values()
        if (cls := entry.options_class()) is not None
        for f in fields(cls)
    }

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in owners}
        engine = kwargs.pop("engine")
        defaults = {f.name: f.default for _, cls in owners.values() for f in fields(cls)}
        given = [n for n, v in values.items() if v != defaults[n] and owners[n][0] != engine]
        if given:
            flags = ", ".join(
                option_of(owners[n][1], n).flag or "--" + n.replace("_", "-") for n in given
            )
            raise click.UsageError(f"{flags}: only with --engine {owners[given[0]][0]}")
        cls = EXECUTORS[engine].options_class()
        options = None if cls is None else config_from_options(cls, values)
        kwargs["engine"] = EngineOptions(engine, options)
        return func(*args, **kwargs)

    classes = list(dict.fromkeys(cls for _, cls in owners.values()))
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--engine",
            type=click.Choice(tuple(EXECUTORS)),
            default=DEFAULT_EXECUTOR,
            show_default=True,
            help=_engine_help(),
        ),
        *(option for cls in classes for option in _config_options(cls)),
    ]
    return _apply(cast(F, wrapper), decorators)


def table_option(config_cls: type, name: str) -> Callable[[F], F]:
    """:func:`config_option`, with a flag's ``aliases`` accepted too (``--keep-flagged`` for
    ``include_flagged``)."""
    spec = option_of(config_cls, name)
    field = next(f for f in fields(config_cls) if f.name == name)
    if typing.get_type_hints(config_cls)[name] is not bool or not spec.aliases:
        return config_option(config_cls, name)
    flag = name.replace("_", "-")
    return click.option(
        f"--{flag}/--no-{flag}",
        *spec.aliases,
        name,
        default=field.default,
        show_default=True,
        help=spec.help,
    )


def _rules_bundle(config_cls: type, keyword: str, func: F) -> F:
    names = [f.name for f in fields(config_cls)]
    defaults = {f.name: f.default for f in fields(config_cls)}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names}
        try:
            kwargs[keyword] = config_cls(**values)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        return func(*args, **kwargs)

    made: list[Callable[[Any], Any]] = [
        _repeatable_option(config_cls, name)
        if isinstance(defaults[name], tuple)
        else table_option(config_cls, name)
        for name in names
    ]
    return _apply(cast(F, wrapper), made)


def _repeatable_option(config_cls: type, name: str) -> Callable[[Any], Any]:
    """A repeatable option for a tuple field: ``--limit FIELD<=X`` (a limit on any numeric
    field of the measures registry, ``Rules.limit``), ``--tolerance FIELD=TOL``,
    ``--leakage-limit NAME<=X`` (a leakage statistic, ``Thresholds.leakage_limit``)."""
    spec = option_of(config_cls, name)
    flag = "--" + name.replace("_", "-")
    return click.option(flag, name, multiple=True, metavar=spec.metavar, help=spec.help)


def rule_options(func: F) -> F:
    """Add the gates of ``check``, one option per :class:`~syncnet_eval.checks.Thresholds`
    field (the per-video :class:`~syncnet_eval.rules.Rules`, then the run-level gates); the
    command receives them as ``thresholds: Thresholds`` (``report`` draws and judges the same
    rules)."""
    return _rules_bundle(Thresholds, "thresholds", func)


def video_rule_options(func: F) -> F:
    """Add ``filter``'s rules, one option per :class:`~syncnet_eval.rules.Rules` field (the
    same options as ``check``'s); the command receives them as ``rules: Rules``."""
    return _rules_bundle(Rules, "rules", func)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _check_can_create_in(target: Path, directory: Path, hint: str) -> None:
    """Bad usage unless a file can be created in ``directory`` (tried for real: permission
    bits say nothing to root, and /proc refuses everyone)."""
    if not directory.is_dir():
        raise click.BadParameter(f"{target}: {directory} is not a directory", param_hint=hint)
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".syncnet-eval-write-check-")
    except OSError as exc:
        raise click.BadParameter(
            f"{target}: cannot write in {directory} ({exc.strerror or exc})", param_hint=hint
        ) from exc
    os.close(fd)
    os.unlink(probe)


def writable_file(value: str | Path, hint: str) -> Path:
    """An output file the run can write, checked before any work starts (bad usage: exit 2).

    Refuses a name ending in ``/``, an existing directory, a path under a file, an existing
    file that cannot be written, and a folder nothing can be created in; folders that do not
    exist yet are fine (they are made when the file is written).
    """
    text = os.fspath(value)
    if text.endswith(("/", os.sep)):
        raise click.BadParameter(f"{text!r} ends with '/': give a file name", param_hint=hint)
    path = Path(text)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a directory, not a file", param_hint=hint)
    if path.exists() and not os.access(path, os.W_OK):
        raise click.BadParameter(f"{path}: the file is not writable", param_hint=hint)
    _check_can_create_in(path, _nearest_existing(path.parent), hint)
    return path


def writable_dir(value: str | Path, hint: str) -> Path:
    """An output directory the run can create files in (see :func:`writable_file`)."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} exists and is not a directory", param_hint=hint)
    _check_can_create_in(path, _nearest_existing(path), hint)
    return path
