"""Click options built from the configuration table, and the option bundles commands share.

Every option that sets a config field takes its name, default, range or choices and help text
from that field's :class:`~syncnet_eval.config.Option` (PySceneDetect's ``_click_range`` over one
table): ``--batch-size`` is ``ScoreConfig.batch_size``. Bundles (:func:`recipe_options`,
:func:`run_options`) add a group of options to a command and hand it one typed object instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
import functools
import os
from pathlib import Path
import tempfile
import typing
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ..checks import Thresholds
from ..config import (
    IDENTITY_MODES,
    RECIPES,
    Option,
    PipelineConfig,
    RayConfig,
    Recipe,
    ScoreConfig,
    check_recipe_options,
    config_from_options,
    option_of,
)
from ..errors import ConfigError

__all__ = [
    "ENGINES",
    "EngineOptions",
    "RecipeSetup",
    "rule_options",
    "writable_dir",
    "writable_file",
    "RunOptions",
    "config_option",
    "engine_options",
    "recipe_options",
    "run_options",
]

if TYPE_CHECKING:  # both load torch: never at import time (--help)
    from ..batch import BatchConfig
    from ..pipeline import SyncPipeline

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


def config_option(config_cls: type, name: str) -> Callable[[F], F]:
    """The click option ``--name-with-dashes`` for field ``name`` of ``config_cls``."""
    spec = option_of(config_cls, name)
    field = next(f for f in fields(config_cls) if f.name == name)
    annotation = typing.get_type_hints(config_cls)[name]
    optional = type(None) in typing.get_args(annotation)
    if optional:  # int | None and the like: the option's type is the other one
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    flag = "--" + name.replace("_", "-")
    if field.default is MISSING:
        raise TypeError(f"{config_cls.__name__}.{name} has no default")
    if annotation is bool:
        off = "--no-" + name.replace("_", "-")
        return click.option(
            f"{flag}/{off}", name, default=field.default, show_default=True, help=spec.help
        )
    return click.option(
        flag,
        *spec.aliases,
        name,
        type=_param_type(annotation, spec),
        default=field.default,
        show_default=True,
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

    recipe: Recipe
    score_config: ScoreConfig
    pipeline_config: PipelineConfig
    syncnet_weights: Path | None
    s3fd_weights: Path | None
    offline: bool
    asd_weights: Path | None = None

    def pipeline(
        self, *, progress: bool = True, pipeline_config: PipelineConfig | None = None
    ) -> SyncPipeline:
        """A ``SyncPipeline`` with these settings (``pipeline_config`` replaces the options').

        Imported here: it loads torch, which ``--help`` must not.
        """
        from ..pipeline import SyncPipeline

        return SyncPipeline(
            self.score_config,
            pipeline_config or self.pipeline_config,
            syncnet_weights=self.syncnet_weights,
            s3fd_weights=self.s3fd_weights,
            asd_weights=self.asd_weights,
            offline=self.offline,
            progress=progress,
        )

    def batch_config(self, **extra: Any) -> BatchConfig:
        """A ``BatchConfig`` with these settings and ``extra`` fields (identity, detections...)."""
        from ..batch import BatchConfig

        return BatchConfig(
            recipe=self.recipe,
            score_config=self.score_config,
            pipeline_config=self.pipeline_config,
            syncnet_weights=self.syncnet_weights,
            s3fd_weights=self.s3fd_weights,
            asd_weights=self.asd_weights,
            offline=self.offline,
            **extra,
        )


_RECIPE_HELP = (
    "syncnet-pipeline: detect, track and crop faces (run_pipeline.py + run_syncnet.py); direct: "
    "frames as they are (demo_syncnet.py, pre-cropped 224x224 faces); wav2lip-lrs: every frame "
    "resized to 224x224 (Wav2Lip's LRS tables)."
)


def recipe_options(func: F) -> F:
    """Add ``--recipe``, every scoring and pipeline option and the weights options; the command
    receives them as ``setup: RecipeSetup``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        score_names = {f.name for f in fields(ScoreConfig)}
        pipeline_names = {f.name for f in fields(PipelineConfig)}
        values = {k: kwargs.pop(k) for k in score_names | pipeline_names}
        recipe = kwargs.pop("recipe")
        pipeline_config = config_from_options(PipelineConfig, values)
        try:
            check_recipe_options(recipe, pipeline_config)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
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
            type=click.Choice(RECIPES),
            default="syncnet-pipeline",
            show_default=True,
            help=_RECIPE_HELP,
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


@dataclass(frozen=True)
class RunOptions:
    """How a batch runs: worker processes, time limit, resume (``--workers`` and friends)."""

    workers: int
    timeout_s: float | None
    resume: bool | None
    retry_failed: bool
    identity: str
    streams: int


def run_options(func: F) -> F:
    """Add ``--workers``, ``--timeout``, ``--resume/--no-resume``, ``--retry-failed`` and
    ``--identity``; the command receives them as ``run: RunOptions``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["run"] = RunOptions(
            workers=kwargs.pop("workers"),
            timeout_s=kwargs.pop("timeout_s"),
            resume=kwargs.pop("resume"),
            retry_failed=kwargs.pop("retry_failed"),
            identity=kwargs.pop("identity"),
            streams=kwargs.pop("streams"),
        )
        return func(*args, **kwargs)

    decorators: list[Callable[[F], F]] = [
        click.option(
            "--workers",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Worker processes, each with its own models (torch threads = cores / "
            "N). Results are identical to a serial run and written in input "
            "order.",
        ),
        click.option(
            "--timeout",
            "timeout_s",
            type=click.FloatRange(0, min_open=True),
            metavar="SECONDS",
            help="Per-file time limit; a file still running is killed and recorded as error "
            "with reason_code timeout (a rerun with a larger limit scores it again; runs in a "
            "worker process even with --workers 1).",
        ),
        click.option(
            "--resume/--no-resume",
            default=None,
            help="Skip inputs whose record is already in the -o FILE.jsonl log (same "
            "file identity and configuration). Default: on when the log exists; "
            "--no-resume starts the log afresh.",
        ),
        click.option(
            "--retry-failed",
            is_flag=True,
            help="With resume: score again the inputs the log records as decode_error "
            "or error (timeouts, crashed workers, unreadable files); their old "
            "records are removed from the log first.",
        ),
        click.option(
            "--identity",
            type=click.Choice(IDENTITY_MODES),
            default="mtime",
            show_default=True,
            help="How resume recognises an unchanged file: path + size + mtime, or "
            "path + size + content sha256 (survives copies that reset mtime).",
        ),
        click.option(
            "--streams",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="GPU throughput mode: videos one scorer (this process, or each Ray actor) "
            "scores at once, their windows sharing SyncNet's forward passes up to "
            "--batch-size (same numbers; with --engine local, needs --workers 1 and no "
            "--timeout).",
        ),
    ]
    return _apply(cast(F, wrapper), decorators)


ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineOptions:
    """Which engine scores the batch (``--engine``) and, for Ray, where (``RayConfig``)."""

    engine: str
    ray: RayConfig


def engine_options(func: F) -> F:
    """Add ``--engine`` and the Ray options (``--ray-address``, ``--actors``,
    ``--cpus-per-actor``, ``--gpus-per-actor``); the command receives ``engine:
    EngineOptions``. Ray options without ``--engine ray`` are bad usage."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {f.name: kwargs.pop(f.name) for f in fields(RayConfig)}
        engine = kwargs.pop("engine")
        if engine != "ray":
            given = [f.name for f in fields(RayConfig) if values[f.name] != f.default]
            if given:
                flags = ", ".join("--" + n.replace("_", "-") for n in given)
                raise click.UsageError(f"{flags}: only with --engine ray")
        kwargs["engine"] = EngineOptions(engine, config_from_options(RayConfig, values))
        return func(*args, **kwargs)

    decorators: list[Callable[[F], F]] = [
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="local",
            show_default=True,
            help="local: this machine (--workers); ray: a Ray cluster, or a Ray runtime "
            'started here (pip install "syncnet-eval[ray]"); same records either way.',
        ),
        *_config_options(RayConfig),
    ]
    return _apply(cast(F, wrapper), decorators)


def rule_options(func: F) -> F:
    """Add the gates of ``check`` (``--min-lse-c`` ... ``--include-flagged``); the command
    receives them as ``thresholds: Thresholds`` (``report`` draws and judges the same rules)."""

    names = [f.name for f in fields(Thresholds)]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["thresholds"] = Thresholds(**{name: kwargs.pop(name) for name in names})
        return func(*args, **kwargs)

    decorators: list[Callable[[F], F]] = [
        click.option("--min-lse-c", type=float, metavar="X", help="Fail if mean LSE-C < X."),
        click.option("--max-lse-d", type=float, metavar="X", help="Fail if mean LSE-D > X."),
        click.option(
            "--max-abs-offset",
            type=click.FloatRange(0),
            metavar="F",
            help="Fail if mean |AV offset| > F frames.",
        ),
        click.option(
            "--min-ok-fraction",
            type=click.FloatRange(0, 1),
            metavar="P",
            help="Fail if less than this fraction of inputs were scored (ok).",
        ),
        click.option(
            "--max-lse-c-drop",
            type=click.FloatRange(0),
            metavar="D",
            help="Fail if LSE-C dropped by more than D vs --baseline (paired mean difference; "
            "only when its whole 95% bootstrap CI lies beyond D).",
        ),
        click.option(
            "--max-lse-d-rise",
            type=click.FloatRange(0),
            metavar="D",
            help="Fail if LSE-D rose by more than D vs --baseline (same rule).",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Judge the baseline rules by the plain mean difference, not the CI; fail when "
            "the two runs were made with different recipes, weights or options.",
        ),
        click.option(
            "--per-video",
            is_flag=True,
            help="Apply --min-lse-c/--max-lse-d/--max-abs-offset to every scored video "
            "instead of the mean.",
        ),
        click.option(
            "--include-flagged",
            is_flag=True,
            help="Let videos with reliability flags into the means and per-video checks (by "
            "default they are counted and left out).",
        ),
    ]
    return _apply(cast(F, wrapper), decorators)


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
