"""``syncnet-eval report`` (HTML), ``plot`` (PNG/SVG per video) and ``visualise`` (video)."""

from __future__ import annotations

import os
from pathlib import Path
import re

import click

from ..checks import Thresholds
from ..errors import InputError
from ..inputs import BatchInput
from ..io import atomic_write_bytes, atomic_write_text, write_results
from ..plots import PLOT_FORMATS, render_video_plot, require_matplotlib
from ..presentation import count
from ..report import ReportRun, annotated_video_name, annotated_videos, build_report
from ..stats import summarize
from ..timing import Timer
from ..types import VideoResult
from .app import AppState, debug_requested, setup_logging
from .checks import config_choice, config_options, load_results_arg
from .display import StageProgress, format_table, result_warning_lines, shown
from .options import RecipeSetup, recipe_options, rule_options, writable_dir, writable_file

__all__ = ["plot", "report", "visualise"]

_RESULTS = click.Path(exists=True, dir_okay=False, path_type=Path)
_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")


@click.command()
@click.argument("results", nargs=-1, required=True, type=_RESULTS)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="The HTML file to write (self-contained: open it from disk or a CI artifact).",
)
@click.option(
    "--baseline",
    type=_RESULTS,
    help="Results of a reference run: overlaid on the histograms, paired with each run "
    "(differences with their intervals, the videos that moved most) and used by the "
    "--max-lse-c-drop/--max-lse-d-rise rules.",
)
@rule_options
@click.option("--title", default="syncnet-eval report", show_default=True, help="Page title.")
@config_options
def report(
    results: tuple[Path, ...],
    output: str,
    baseline: Path | None,
    thresholds: Thresholds,
    title: str,
    config_hash: str | None,
    latest_config: bool,
) -> None:
    """Write one self-contained HTML report of RESULTS (.json, .jsonl, .csv or .parquet;
    several runs).

    Provenance, summaries with bootstrap intervals per group, histograms of LSE-D, LSE-C and
    the offset, the check verdicts when rules are given, and a sortable, filterable table of
    every video, worst first, with each video's distance-by-offset curve, confidence timeline
    and tracks on a click. Annotated videos named VIDEO_STEM.annotated.mp4 (the default of
    'visualise') beside the report are linked. Records of several configurations in one
    RESULTS file are all shown, with a warning; --config-hash or --latest-config keeps one.
    Never gates: exit 0 (2 for bad usage).
    """
    choice = config_choice(config_hash, latest_config)
    out = writable_file(output, "'-o' / '--output'")
    if thresholds.needs_baseline and baseline is None:
        raise click.UsageError("--max-lse-c-drop/--max-lse-d-rise need --baseline FILE")
    runs = [ReportRun(str(p), load_results_arg(p, choice)) for p in results]
    base = ReportRun(str(baseline), load_results_arg(baseline)) if baseline is not None else None
    records = [r for run in [*runs, *([base] if base else [])] for r in run.results]
    page = build_report(
        runs,
        baseline=base,
        thresholds=thresholds,
        include_flagged=thresholds.include_flagged,
        videos=annotated_videos(records, out.parent),
        title=title,
    )
    atomic_write_text(out, page)
    size_kb = len(page.encode("utf-8", "surrogateescape")) / 1000
    size = f"{size_kb / 1000:.1f} MB" if size_kb >= 1000 else f"{size_kb:.0f} kB"
    click.echo(f"{shown(str(out))}: {count(len(records), 'record')}, {size}")


def _plot_name(result: VideoResult, fmt: str, taken: set[str]) -> str:
    """A file name from the stem of the record's id (or path), without odd characters; a
    number is added when two records would share one."""
    stem = Path(result.id or result.path).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "video"
    name, n = f"{stem}.{fmt}", 2
    while name in taken:
        name, n = f"{stem}-{n}.{fmt}", n + 1
    taken.add(name)
    return name


@click.command()
@click.argument("results", nargs=-1, required=True, type=_RESULTS)
@click.option(
    "-o",
    "--output-dir",
    "output",
    required=True,
    metavar="DIR",
    help="Folder for the plots (made if missing); one file per scored video.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PLOT_FORMATS),
    default="png",
    show_default=True,
    help="Image format.",
)
def plot(results: tuple[Path, ...], output: str, fmt: str) -> None:
    """Plot each scored video of RESULTS (.json, .jsonl or .parquet): its distance-by-offset
    curve with the minimum (LSE-D), median and LSE-C marked, and its per-window confidence
    against time with track spans and scene cuts. Needs matplotlib (pip install
    'syncnet-eval[viz]').

    With several RESULTS each gets a subfolder named after it. Exit status: 0, 1 when no
    record has curves (CSV results keep only the numbers), 2 for bad usage.
    """
    require_matplotlib()  # before any work: one line and exit 1 without it
    out = writable_dir(output, "'-o' / '--output-dir'")
    written = skipped = 0
    folders: set[str] = set()
    for path in results:
        records = load_results_arg(path)
        folder = out
        if len(results) > 1:
            folder = out / _plot_name(VideoResult(str(path), "error", None, ""), "d", folders)[:-2]
        taken: set[str] = set()
        for r in records:
            if not r.ok or not r.tracks or not all(t.dist_by_shift for t in r.tracks):
                skipped += 1
                continue
            atomic_write_bytes(folder / _plot_name(r, fmt, taken), render_video_plot(r, fmt))
            written += 1
    if not written:
        raise click.ClickException(
            "no record has curves to plot (records that were not scored have none, and CSV "
            "results keep only the numbers: give the .json, .jsonl or .parquet results)"
        )
    note = f" ({count(skipped, 'record')} without curves skipped)" if skipped else ""
    click.echo(f"{written} plots written to {shown(str(out))}{note}")


def _same_file(recorded: str, video: Path) -> bool:
    """Whether a record's path names ``video``'s file: the same file on disk (links, another
    spelling of the folder), else the same resolved path (a file since moved or deleted)."""
    try:
        return os.path.samefile(recorded, video)
    except OSError:
        return os.path.realpath(recorded) == os.path.realpath(video)


def _pick_record(records: list[VideoResult], video: Path, record_id: str | None) -> VideoResult:
    """The record of ``video`` (by ``--id``, else of the same file, else the only one)."""
    if record_id is not None:
        matches = [r for r in records if r.id == record_id]
    else:
        matches = [r for r in records if _same_file(r.path, video)]
        if not matches and len(records) == 1:
            matches = records
    if len(matches) != 1:
        what = f"id {record_id!r}" if record_id is not None else f"path {video}"
        found = "no record" if not matches else f"{len(matches)} records"
        raise click.UsageError(f"--from: {found} with {what}; choose one with --id ID")
    return matches[0]


def _score(
    ctx: click.Context, video: Path, setup: RecipeSetup, detections: Path | None, quiet: bool
) -> VideoResult:
    from ..engines.plan import RunHooks
    from ..engines.run import score_one  # loads torch: not on --help

    config = setup.batch_config(detections=detections, raise_unexpected=debug_requested(ctx))
    stages = None if quiet else StageProgress(str(video))
    hooks = RunHooks(stage_hook=stages, download_progress=not quiet)
    record = score_one(BatchInput(video), config, hooks=hooks)
    return record.result


_OWN_PARAMS = {"video", "output", "from_results", "record_id", "detections", "save_result", "quiet"}


def _check_from_usage(ctx: click.Context, record_id: str | None, detections: Path | None) -> None:
    """--from draws a stored record: scoring options, and --detections, do not apply."""
    given = [
        p.opts[0]
        for p in ctx.command.params
        if p.name not in _OWN_PARAMS
        and ctx.get_parameter_source(p.name or "") == click.core.ParameterSource.COMMANDLINE
    ]
    if detections is not None:
        given.append("--detections")
    if given:
        raise click.UsageError(
            f"--from draws a stored record; these options are for scoring: {', '.join(given)}"
        )


@click.command()
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="The annotated video (.mp4, .mov or .mkv; default: VIDEO_STEM.annotated.mp4 here, "
    "the name a report beside it links).",
)
@click.option(
    "--from",
    "from_results",
    type=_RESULTS,
    metavar="RESULTS",
    help="Draw VIDEO's record from this results file (.json or .jsonl of 'score') instead of "
    "scoring it: the record of the same file (links and other spellings of its path match), "
    "or --id; the recipe options then do not apply.",
)
@click.option(
    "--id",
    "record_id",
    metavar="ID",
    help="With --from: the record with this id (default: the record whose path is VIDEO, or "
    "the only record).",
)
@click.option(
    "--detections",
    type=_RESULTS,
    help='Score with precomputed boxes (JSON {"frames": [[[x1,y1,x2,y2,score],...],...]} '
    "indexing the 25 fps stream) instead of a detector, as 'score' does.",
)
@click.option(
    "--save-result",
    metavar="FILE",
    help="Also write the record that was drawn as JSON (as 'score -o FILE.json' does), for "
    "'report', 'plot' or a later 'visualise --from'.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@recipe_options
@click.pass_context
def visualise(
    ctx: click.Context,
    video: Path,
    output: str | None,
    from_results: Path | None,
    record_id: str | None,
    detections: Path | None,
    save_result: str | None,
    quiet: bool,
    setup: RecipeSetup,
) -> None:
    """Write VIDEO with each face track's box coloured by its per-frame confidence.

    The colour is run_visualise.py's (red at confidence 0, green from 10.2), with a legend;
    each box carries its track id, the track's LSE-D, LSE-C and offset; a strip below the
    picture shows each track's confidence over the video with a cursor. The frames are the
    25 fps stream the pipeline recipe scores, the original audio is muxed back, and the video
    is H.264 (plays in browsers). Scores VIDEO with any recipe and its options, or draws a
    stored record (--from). Exit status: 0, 1 when the video cannot be scored or drawn, 2 for
    bad usage.
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    if record_id is not None and from_results is None:
        raise click.UsageError("--id chooses a record of --from RESULTS")
    if from_results is not None:
        _check_from_usage(ctx, record_id, detections)
    out = writable_file(output or annotated_video_name(video), "'-o' / '--output'")
    if out.suffix.lower() not in _VIDEO_SUFFIXES:
        raise click.BadParameter(
            f"{out}: the annotated video is H.264 in .mp4, .mov or .mkv", param_hint="'-o'"
        )
    saved = writable_file(save_result, "'--save-result'") if save_result is not None else None
    if saved is not None and saved.suffix.lower() != ".json":
        raise click.BadParameter(
            f"{saved}: the record is written as .json", param_hint="'--save-result'"
        )
    if from_results is not None:
        result = _pick_record(load_results_arg(from_results), video, record_id)
    else:
        result = _score(ctx, video, setup, detections, quiet)
        if not quiet:
            click.echo(format_table([result]))
            for line in result_warning_lines([result]):
                click.echo(line, err=True)
    if saved is not None:
        write_results(saved, [result], summarize([result]))
    if not result.ok:
        raise InputError(result.reason or f"{video}: {result.status}")
    # Drawing needs OpenCV and the decoders: imported here so that --help stays fast.
    from ..visualise import annotate_video

    done = annotate_video(video, result, out, Timer(None if quiet else StageProgress(str(video))))
    click.echo(
        f"{shown(str(done.path))}: {done.num_frames} frames at 25 fps ({done.duration_s:.2f} s), "
        f"{done.width}x{done.height}, H.264 with the original audio"
    )
