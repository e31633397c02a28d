"""What a run is asked to do: how each input is scored (``BatchConfig``), how the run goes
(``RunConfig``: resume, identity, streams; the local executor's workers and time limit are
its own ``LocalOptions``), where its records go
(``RunOutputs``), what it tells its caller as it goes (``RunHooks``), and the weights resolved
once for all of it (``ResolvedRun``).

Light (no numpy or torch): the command line builds its options from these tables. Each
``RunConfig`` field's :class:`~syncnet_eval.config.Option` is its ``--option``; the rules that
tie two fields together are checked once, in ``__post_init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import (
    IDENTITY_MODES,
    LmdConfig,
    PipelineConfig,
    RowConfig,
    ScoreConfig,
    option_field,
    validate_options,
)
from ..embedders import DEFAULT_EMBEDDER, EmbedderSpec, get_embedder
from ..errors import ConfigError
from ..recipes import DEFAULT_RECIPE, RecipeSpec, check_recipe_options, get_recipe

if TYPE_CHECKING:  # annotations only
    from ..timing import StageHook
    from .records import BatchEvent

__all__ = ["BatchConfig", "LocalOptions", "ResolvedRun", "RunConfig", "RunHooks", "RunOutputs"]


@dataclass(frozen=True)
class BatchConfig:
    """Everything that decides how each input is scored (and so its records' numbers).

    Attributes:
        recipe: a recipe of the registry (``syncnet_eval.recipes``).
        score_config: scoring settings.
        pipeline_config: face-track recipe settings.
        syncnet_weights: explicit SyncNet weights (else found or downloaded once, up front).
        s3fd_weights: explicit S3FD weights (face-track recipes with the s3fd detector).
        asd_weights: explicit active-speaker checkpoint (with ``pipeline_config.asd``).
        offline: never download weights.
        detections: precomputed boxes JSON (single-video runs).
        save_detections: write the detector's boxes here (single-video runs).
        save_crops: write each track's crop video into this directory.
        raise_unexpected: re-raise unexpected errors instead of recording them (debugging).
        embedder: the embedder's name in ``syncnet_eval.embedders.REGISTRY`` (``syncnet``, or
            one a caller registered: a test double, your own model); hashed by name.
        lmd_config: the landmark backend and the least landmark coverage of a recipe with a
            ground truth (``lmd``; ``recipe_spec.needs_reference``); hashed only then.
        row_config: the paper's row (``syncnet-eval row``): the measures that compare each
            scored video with its reference (a manifest ``reference``), with their models;
            ``None``: none (hashed only when set).
        features_dir: where the row's FID and FVD features of each video go (not hashed:
            where a file goes never changes a number).
        recipe_spec: ``recipe``'s ``RecipeSpec``, resolved once when the config is made.
    """

    recipe: str = DEFAULT_RECIPE
    score_config: ScoreConfig = field(default_factory=ScoreConfig)
    pipeline_config: PipelineConfig = field(default_factory=PipelineConfig)
    syncnet_weights: Path | None = None
    s3fd_weights: Path | None = None
    asd_weights: Path | None = None
    offline: bool = False
    detections: Path | None = None
    save_detections: Path | None = None
    save_crops: Path | None = None
    raise_unexpected: bool = False
    embedder: str = DEFAULT_EMBEDDER
    lmd_config: LmdConfig = field(default_factory=LmdConfig)
    row_config: RowConfig | None = None
    features_dir: Path | None = None
    # ``recipe``'s registry entry, looked up once here: the driver, the scorers and the
    # pipeline take the spec, never the name again.
    recipe_spec: RecipeSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = get_recipe(self.recipe)
        check_recipe_options(spec, self.pipeline_config)
        object.__setattr__(self, "recipe_spec", spec)
        get_embedder(self.embedder)
        if self.row_config is not None and not spec.needs_syncnet:
            raise ConfigError(f"the row scores LSE with SyncNet: recipe {spec.name} runs none")

    @property
    def needs_reference(self) -> bool:
        """Each input needs a ground-truth video: the recipe's (``lmd``), or the row's."""
        return self.recipe_spec.needs_reference or self.row_config is not None


@dataclass(frozen=True)
class RunConfig:
    """How a run goes; nothing here changes a record's numbers. ``{records}`` in a help text
    stands for where the command keeps its records (``cli.options.run_options(records=...)``).

    Attributes:
        resume: reuse earlier records (``None``: when an output to resume from exists).
        retry_failed: with resume, score again the inputs recorded as ``decode_error``/``error``.
        identity: how resume recognises an unchanged input (``mtime`` or ``sha256``).
        streams: inputs one scorer scores at once, sharing SyncNet's forward passes.
    """

    resume: bool | None = option_field(
        None,
        help="Skip inputs already recorded (same file identity and configuration) in {records}. "
        "Default: on when they exist; --no-resume starts them afresh.",
    )
    retry_failed: bool = option_field(
        False,
        help="With resume: score again the inputs recorded as decode_error or error (timeouts, "
        "crashed workers, unreadable files) in {records}; their old records are removed "
        "first (atomically), whatever the engine.",
    )
    identity: str = option_field(
        "mtime",
        choices=IDENTITY_MODES,
        help="How resume recognises an unchanged file: path + size + mtime, or path + size + "
        "content sha256 (survives copies that reset mtime).",
    )
    streams: int = option_field(
        1,
        min=1,
        help="GPU throughput mode: videos one scorer (this process, or each actor of a "
        "cluster engine) scores at once, their windows sharing SyncNet's forward passes up to "
        "--batch-size (same numbers; with --engine local, needs --workers 1 and no --timeout).",
    )

    def __post_init__(self) -> None:
        validate_options(self)
        if self.retry_failed and self.resume is False:
            raise ConfigError(
                "--retry-failed retries the failures of a resumed run: drop --no-resume"
            )


@dataclass(frozen=True)
class LocalOptions:
    """The local executor's own options (``--engine local``; each field's ``Option`` is its
    ``--option``, valid only with that engine).

    Attributes:
        workers: worker processes, each with its own models.
        timeout_s: per-input time limit (scored in a worker process then).
    """

    workers: int = option_field(
        1,
        min=1,
        help="Worker processes of --engine local, each with its own models (torch threads = "
        "cores / N). Results are identical to a serial run.",
    )
    timeout_s: float | None = option_field(
        None,
        min=0,
        min_open=True,
        flag="--timeout",
        metavar="SECONDS",
        help="Per-file time limit (--engine local); a file still running is killed and recorded "
        "as error with reason_code timeout (a rerun with a larger limit scores it again; runs in "
        "a worker process even with --workers 1).",
    )

    def __post_init__(self) -> None:
        validate_options(self)

    @property
    def in_process(self) -> bool:
        """Inputs are scored in this process (one worker, no time limit)."""
        return self.workers == 1 and self.timeout_s is None


@dataclass(frozen=True)
class RunOutputs:
    """Where a run's records go as they finish.

    Attributes:
        log: the JSONL log: one record per line, appended as each input finishes (completion
            order), the file resume reads.
        parquet: a Parquet file written at the end (also after Ctrl-C), in input order; while
            the run goes on its records are in a hidden journal beside it (``.NAME.jsonl``,
            removed once the file is complete) unless ``log`` is given.
        keep_records: return full records; else the returned ones lack per-window curves,
            provenance and timings (enough for a summary and a table of a million inputs).
    """

    log: Path | None = None
    parquet: Path | None = None
    keep_records: bool = True

    @property
    def journal(self) -> Path | None:
        """The JSONL file records are appended to: the log, else the Parquet file's journal."""
        if self.log is not None:
            return self.log
        if self.parquet is not None:
            return self.parquet.with_name(f".{self.parquet.name}.jsonl")
        return None

    @property
    def resumable(self) -> bool:
        """There is somewhere to find earlier records."""
        return self.journal is not None

    def locked(self) -> list[Path]:
        """The files a run holds (one run at a time writes each)."""
        return [p for p in dict.fromkeys((self.log, self.parquet)) if p is not None]


@dataclass(frozen=True)
class RunHooks:
    """How a run tells its caller what happens; nothing here changes a record.

    Attributes:
        on_start: called once with (total inputs, inputs taken from earlier records).
        on_record: called with a ``BatchEvent`` as each input finishes (completion order).
        stage_hook: told about each video's stages (in-process scoring only).
        worker_log_level: level of the package's log lines in worker processes or actors
            (``None``: leave their logging as it is).
        download_progress: show a progress bar if weights must be downloaded.
    """

    on_start: Callable[[int, int], None] | None = None
    on_record: Callable[[BatchEvent], None] | None = None
    stage_hook: StageHook | None = None
    worker_log_level: int | None = None
    download_progress: bool = True


@dataclass(frozen=True)
class ResolvedRun:
    """What every executor's scorers share: the weights, found (or downloaded) once by the
    driver, their hashes, the configuration hash every record carries, and the embedder
    when it is not SyncNet (its spec travels to workers, which may not have it registered).

    ``config_hash`` is empty when nothing was scored (every input failed its pre-check), so
    no weights were looked for.
    """

    syncnet_weights: Path | None
    s3fd_weights: Path | None
    config_hash: str
    asd_weights: Path | None = None
    syncnet_sha256: str | None = None
    s3fd_sha256: str | None = None
    embedder: EmbedderSpec | None = None
