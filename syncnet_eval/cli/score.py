"""``syncnet-eval score``: score videos, directories and manifests; write records and a summary."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..bands import DATASETS, dataset_help
from ..engines.plan import BatchConfig, RunConfig, RunOutputs
from ..errors import ConfigError, InputError
from ..inputs import BatchInput, collect_inputs, nothing_found
from ..io import results_document, write_results
from ..stats import summarize
from ..types import VideoResult
from .app import AppState, debug_requested, log, setup_logging
from .display import (
    Progress,
    StageProgress,
    format_summary,
    format_table,
    result_warning_lines,
    shown,
)
from .options import (
    EngineOptions,
    RecipeSetup,
    engine_options,
    recipe_options,
    run_options,
    writable_dir,
    writable_file,
)

if TYPE_CHECKING:
    from ..engines.records import BatchOutcome

__all__ = ["OutputFiles", "print_failures", "score"]

# Batches up to this many inputs print a per-video table; larger ones only the summary.
_TABLE_MAX_ROWS = 50
# Failed inputs listed as 'Error:' lines at the end of a batch (the rest are in the outputs).
_ERROR_LINES_MAX = 20
_OUTPUT_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


class OutputFiles:
    """``-o`` values sorted by kind and checked writable before any work starts; bad suffixes,
    unwritable places and contradictions are usage errors (exit 2). Every command that writes
    records (``score``, ``lmd``) takes its ``-o`` values this way."""

    def __init__(self, outputs: tuple[str, ...]) -> None:
        self.stdout = False
        self.json: list[Path] = []
        self.csv: list[Path] = []
        self.jsonl: Path | None = None
        self.parquet: Path | None = None
        for out in outputs:
            if out == "-":
                if self.stdout:
                    self._twice()
                self.stdout = True
                continue
            path = writable_file(out, "'-o' / '--output'")
            suffix = path.suffix.lower()
            if suffix not in _OUTPUT_SUFFIXES:
                raise click.BadParameter(
                    f"{out!r}: the file name must end in .json, .jsonl, .csv or .parquet (or be "
                    "'-' for JSON on stdout)",
                    param_hint="'-o' / '--output'",
                )
            if suffix in (".jsonl", ".parquet"):
                if getattr(self, suffix[1:]) is not None:
                    self._twice()
                setattr(self, suffix[1:], path)
            else:
                (self.json if suffix == ".json" else self.csv).append(path)

    def run_outputs(self) -> RunOutputs:
        """What the driver writes as records finish: the log and the Parquet file."""
        return RunOutputs(
            self.jsonl, self.parquet, keep_records=bool(self.json or self.csv or self.stdout)
        )

    def files(self) -> list[Path]:
        """Every output file (and the lock and side files beside them), for scans to skip."""
        files = [*self.json, *self.csv]
        for path in (self.jsonl, self.parquet):
            if path is not None:
                files += [path, path.with_name(f".{path.name}.lock")]
        if self.parquet is not None:
            files.append(self.parquet.with_name(f".{self.parquet.name}.jsonl"))
        return files

    @staticmethod
    def _twice() -> None:
        raise click.BadParameter(
            "give '-', the .jsonl log and the .parquet file at most once each",
            param_hint="'-o' / '--output'",
        )


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="Write results to FILE.json (records + summary), FILE.csv (one row per "
    "video), FILE.jsonl (one record per line, appended as each video finishes: the resume "
    "log) or FILE.parquet (one row per video, written at the end; resumable too; needs "
    "pyarrow); '-' prints JSON to stdout. Repeatable.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a 'path' column and optional 'audio', 'id', 'group', 'dataset' columns; "
    "relative paths resolve against the manifest's folder.",
)
@click.option(
    "--dataset",
    type=click.Choice(DATASETS),
    help=dataset_help() + " The column wins where a row has one.",
)
@click.option(
    "--glob",
    "globs",
    multiple=True,
    metavar="PATTERN",
    help="In directories, score only files whose relative path or name matches "
    "PATTERN (fnmatch, repeatable) instead of the usual video extensions.",
)
@click.option("--per-track", is_flag=True, help="CSV outputs get one row per face track.")
@click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when some inputs could not be scored (still recorded).",
)
@click.option(
    "--audio",
    "audio_path",
    type=click.Path(path_type=Path),
    help="Score the (single) video against this audio file instead of its own track.",
)
@click.option(
    "--detections",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Use precomputed boxes (JSON {"frames": [[[x1,y1,x2,y2,score],...],...]} '
    "indexing the 25 fps stream) instead of a detector.",
)
@click.option(
    "--save-detections",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the boxes the detector found (same JSON format).",
)
@click.option(
    "--save-crops",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each track's 224x224 face crop video with its audio to DIR.",
)
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Let videos with reliability flags that doubt their numbers (few_windows, "
    "silent_audio, non_25fps, decode_incomplete) into the summary's means; by default they are "
    "counted and left out (offset_drift is counted, never left out).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@recipe_options
@run_options
@engine_options
@click.pass_context
def score(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    outputs: tuple[str, ...],
    manifest: Path | None,
    dataset: str | None,
    globs: tuple[str, ...],
    per_track: bool,
    allow_failures: bool,
    audio_path: Path | None,
    detections: Path | None,
    save_detections: Path | None,
    save_crops: Path | None,
    include_flagged: bool,
    quiet: bool,
    setup: RecipeSetup,
    run: RunConfig,
    engine: EngineOptions,
) -> None:
    """Score INPUTS (video files and directories, searched recursively) and --manifest rows.

    Prints the AV offset (frames), LSE-D and LSE-C of each video (up to 50) and a summary over
    the scored ones. An input that cannot be scored gets a record with its status and reason;
    the others go on.

    Exit status: 0 when every input was scored (or --allow-failures), 1 when any was not (one
    'Error:' line each), 2 for bad usage (also an output refused before any work), 74 when an
    output could not be written once the work had started (a full disk).
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    out = OutputFiles(outputs)
    executor = _check_run(engine, run, out, setup)
    exclude = out.files()
    if save_detections is not None:
        exclude.append(writable_file(save_detections, "'--save-detections'"))
    if save_crops is not None:
        exclude.append(writable_dir(save_crops, "'--save-crops'"))
    items = _collect(
        inputs,
        manifest,
        globs,
        audio_path,
        single_only=bool(detections or save_detections),
        exclude=exclude,
    )
    if dataset is not None:
        items = [i if i.dataset else replace(i, dataset=dataset) for i in items]
    config = setup.batch_config(
        detections=detections,
        save_detections=save_detections,
        save_crops=save_crops,
        raise_unexpected=debug_requested(ctx),
    )
    progress = Progress(enabled=not quiet)
    try:
        outcome = _run(items, config, executor, run, out, progress, quiet)
    finally:
        progress.close()
    extras = [r.extras() for r in outcome.records]
    _emit(outcome.results, extras, out, per_track, quiet, include_flagged)
    if not quiet:
        for line in result_warning_lines(outcome.results):
            click.echo(line, err=True)
    failed = outcome.failed
    print_failures(failed)
    if failed and not allow_failures:
        ctx.exit(1)


def _check_run(engine: EngineOptions, run: RunConfig, out: OutputFiles, setup: RecipeSetup) -> Any:
    """The executor, after the checks that need no input: usage errors (exit 2) for options it
    cannot honour or that need an output to resume from; a missing optional dependency
    (pyarrow, a cluster runtime) is one ``Error:`` line (exit 1)."""
    from ..engines.run import check_run

    executor = engine.executor()
    try:
        check_run(setup.batch_config(), run, out.run_outputs(), executor)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    return executor


def _run(
    items: list[BatchInput],
    config: BatchConfig,
    executor: Any,
    run: RunConfig,
    out: OutputFiles,
    progress: Progress,
    quiet: bool,
) -> BatchOutcome:
    """Score ``items`` with the chosen executor; records in input order."""
    from ..engines.run import run_inputs

    # Stage progress comes from a scorer in this process (the local executor's default).
    in_process = getattr(getattr(executor, "options", None), "in_process", True)
    single = len(items) == 1 and not quiet and in_process
    stages = StageProgress(str(items[0].path)) if single else None
    hooks = progress.hooks(log.level, download_progress=not quiet, stage_hook=stages)
    return run_inputs(items, config, run, executor=executor, outputs=out.run_outputs(), hooks=hooks)


def run_with_progress(
    items: list[BatchInput],
    config: BatchConfig,
    executor: Any,
    run: RunConfig,
    out: OutputFiles,
    quiet: bool,
) -> BatchOutcome:
    """Run ``items`` on the driver behind a progress bar (no per-stage lines), closed whatever
    happens: ``lmd`` and ``row``, whose inputs are pairs."""
    from ..engines.run import run_inputs

    progress = Progress(enabled=not quiet)
    try:
        hooks = progress.hooks(log.level, download_progress=not quiet)
        return run_inputs(
            items, config, run, executor=executor, outputs=out.run_outputs(), hooks=hooks
        )
    finally:
        progress.close()


def _collect(
    inputs: tuple[Path, ...],
    manifest: Path | None,
    globs: tuple[str, ...],
    audio_path: Path | None,
    *,
    single_only: bool,
    exclude: list[Path],
) -> list[BatchInput]:
    """The inputs to score; usage errors (exit 2) for nothing to score or options that need
    exactly one video (``--audio``, and ``--detections``/``--save-detections`` when
    ``single_only``)."""
    if not inputs and manifest is None:
        raise click.UsageError("give at least one VIDEO or DIRECTORY, or --manifest FILE")
    single = len(inputs) == 1 and manifest is None and not inputs[0].is_dir()
    if audio_path is not None and not single:
        raise click.UsageError("--audio takes exactly one video (use a manifest 'audio' column)")
    if single_only and not single:
        raise click.UsageError("--detections/--save-detections take exactly one video")
    try:
        items = collect_inputs(list(inputs), manifest=manifest, globs=globs, exclude=exclude)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--manifest'") from exc
    if not items:
        raise click.UsageError(nothing_found(inputs, manifest))
    if audio_path is not None:
        items = [replace(items[0], audio_path=audio_path)]
    return items


def _emit(
    results: list[VideoResult],
    extras: list[dict[str, Any]],
    out: OutputFiles,
    per_track: bool,
    quiet: bool,
    include_flagged: bool,
) -> None:
    """Write the JSON and CSV outputs (the driver wrote the log and the Parquet file); print
    the JSON document, or the table and summary."""
    summary = summarize(results, include_flagged=include_flagged)
    for path in [*out.json, *out.csv]:
        write_results(path, results, summary, per_track=per_track, extras=extras)
    if out.stdout:
        doc = results_document(results, summary, extras)
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    if quiet:
        return
    if len(results) <= _TABLE_MAX_ROWS:
        click.echo(format_table(results))
    if len(results) > 1:
        if len(results) <= _TABLE_MAX_ROWS:
            click.echo("")
        click.echo(format_summary(summary))


def print_failures(failed: list[VideoResult]) -> None:
    """One ``Error:`` line per input not scored (at most ``_ERROR_LINES_MAX``)."""
    for r in failed[:_ERROR_LINES_MAX]:
        click.echo(f"Error: {shown(r.reason or f'{r.path}: {r.status}')}", err=True)
    if len(failed) > _ERROR_LINES_MAX:
        click.echo(
            f"Error: ... and {len(failed) - _ERROR_LINES_MAX} more inputs not scored (see the "
            "records' 'reason')",
            err=True,
        )
