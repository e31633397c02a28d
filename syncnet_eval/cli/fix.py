"""``syncnet-eval fix``: re-sync videos by their measured offset, and prove it by re-measuring."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..engines.plan import RunConfig
from ..errors import InputError
from ..inputs import BatchInput, collect_inputs, nothing_found
from ..io import load_records
from ..presentation import UNOFFICIAL_SYNCNET_NOTE, frames_text
from ..types import VideoResult
from .app import AppState, debug_requested, log, setup_logging
from .display import Progress, columns, num, shown, warning_lines
from .options import (
    EngineOptions,
    RecipeSetup,
    engine_options,
    recipe_options,
    run_options_keeping,
    writable_dir,
    writable_file,
)

if TYPE_CHECKING:  # the pipeline loads torch
    from ..resync import FixReport

__all__ = ["fix", "format_fix_reports"]

_HELP_SIGN = (
    "A positive AV offset means the audio leads the video (comes early): fix delays the audio "
    "by offset/25 s (silence in front); a negative one advances it (its start is trimmed). The "
    "video stream is copied packet for packet, the audio keeps its length."
)


@click.command(epilog=_HELP_SIGN)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    metavar="OUT",
    help="The corrected copy of the (single) VIDEO.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Batch form: write each input's corrected copy into DIR, named by its id. Also "
    "written there: before.jsonl and after.jsonl (the measurements' logs: a rerun resumes "
    "from them; .before.jsonl.lock/.after.jsonl.lock while a run holds them), written.jsonl "
    "(the copies written, which a rerun keeps without --overwrite) and fix.json (the report).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Batch form: a manifest CSV (as for score, or the kept/rejected lists of filter).",
)
@click.option(
    "--offset",
    type=float,
    metavar="FRAMES",
    help="Correct this AV offset instead of measuring it (frames; same sign as the "
    "records' av_offset).",
)
@click.option(
    "--from",
    "from_results",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="RESULTS",
    help="Take each input's offset and 'before' numbers from this results file (JSON, JSONL, "
    "CSV or Parquet of score) instead of measuring it.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Largest |offset| of the corrected copy that passes, frames.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table.")
@recipe_options
@run_options_keeping("before.jsonl and after.jsonl in --out-dir")
@engine_options
@click.pass_context
def fix(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    manifest: Path | None,
    offset: float | None,
    from_results: Path | None,
    tolerance: float,
    overwrite: bool,
    quiet: bool,
    setup: RecipeSetup,
    run: RunConfig,
    engine: EngineOptions,
) -> None:
    """Write a copy of VIDEO with its audio moved so that its AV offset becomes 0, then score
    the copy with the same recipe and print the offset, LSE-D and LSE-C before and after.

    The offset is measured (any recipe and its options), given with --offset, or read from a
    results file with --from. Multi-track videos: the chosen track's offset, with a warning
    when the tracks disagree by more than the tolerance. With SyncNet weights other than the
    official syncnet_v2.model a Note under the table says the offsets cannot be trusted (the
    parity-test weights measure +0 on every clip, so every copy 'passes').

    Exit status: 0 when every copy's |offset| is within --tolerance, 1 when one is not (or an
    input could not be fixed), 2 for bad usage (the output is the input, or exists without
    --overwrite, or cannot be written).
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    if offset is not None and from_results is not None:
        raise click.UsageError("give --offset or --from, not both")
    if (output is None) == (out_dir is None):
        raise click.UsageError("give -o OUT for one video, or --out-dir DIR for a batch")
    if output is not None:
        if len(inputs) != 1 or manifest is not None:
            raise click.UsageError("-o OUT fixes exactly one VIDEO (use --out-dir for more)")
        _check_single_output(inputs[0], output, overwrite)
        known = next(iter(_given(from_results, inputs, offset).values()), None)
        if isinstance(known, VideoResult) and not known.ok:
            raise InputError(f"{inputs[0]}: its record in {from_results} is not scored")
        report = _fix_one(ctx, setup, inputs[0], output, known, tolerance)
        reports: list[FixReport] = [report]
    else:
        assert out_dir is not None
        reports = _fix_batch(
            ctx,
            inputs,
            manifest,
            writable_dir(out_dir, "'--out-dir'"),
            setup,
            run,
            engine,
            tolerance,
            overwrite,
            offset,
            from_results,
            quiet,
        )
    if not quiet:
        click.echo(format_fix_reports(reports))
        if any(_unofficial(r) for r in reports):
            click.echo(f"Note: {UNOFFICIAL_SYNCNET_NOTE}")
    said = [(r.source, w) for r in reports for w in r.warnings]
    said += [(r.before.path, w) for r in reports if r.before for w in r.before.warnings]
    for line in warning_lines(said):
        click.echo(line, err=True)
    for report in reports:
        if not report.passed:
            click.echo(f"Error: {shown(_failure(report))}", err=True)
    if not all(r.passed for r in reports):
        ctx.exit(1)


def _check_single_output(video: Path, output: Path, overwrite: bool) -> None:
    from ..resync import fix_key

    writable_file(output, "'-o' / '--output'")
    if fix_key(output) == fix_key(video):
        raise click.BadParameter(
            f"{output} is the input video: fix writes a copy", param_hint="'-o' / '--output'"
        )
    if output.exists() and not overwrite:
        raise click.BadParameter(
            f"{output} exists (add --overwrite to replace it)", param_hint="'-o' / '--output'"
        )


def _given(
    from_results: Path | None, inputs: Sequence[Path | BatchInput], offset: float | None
) -> dict[str, VideoResult | float]:
    """Each input's offset (``--offset``) or earlier record (``--from``, matched by resolved
    path, else id), by ``resync.fix_key``; an input not here is measured."""
    from ..resync import fix_key

    keys = [fix_key(i.path if isinstance(i, BatchInput) else i) for i in inputs]
    if offset is not None:
        return dict.fromkeys(keys, offset)
    if from_results is None:
        return {}
    found: dict[str, VideoResult | float] = {}
    try:
        records = load_records(from_results)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--from'") from exc
    by_id: dict[str, VideoResult] = {}
    for rec in records:
        result = VideoResult.from_dict(rec)
        where = (rec.get("input_identity") or {}).get("path") or result.path
        found[fix_key(Path(where))] = result
        if result.id:
            by_id.setdefault(result.id, result)
    for item, key in zip(inputs, keys, strict=True):
        item_id = item.id if isinstance(item, BatchInput) else None
        if key not in found and item_id in by_id:
            found[key] = by_id[item_id]
    missing = [k for k in keys if k not in found]
    if missing:
        raise click.BadParameter(
            f"no record of {missing[0]} in {from_results}", param_hint="'--from'"
        )
    return found


def _fix_one(
    ctx: click.Context,
    setup: RecipeSetup,
    video: Path,
    output: Path,
    given: VideoResult | float | None,
    tolerance: float,
) -> FixReport:
    from ..resync import fix_video  # loads torch: not on --help

    before = given if isinstance(given, VideoResult) else None
    offset = given if isinstance(given, float) else None
    config = setup.batch_config(raise_unexpected=debug_requested(ctx))
    return fix_video(config, video, output, offset=offset, tolerance=tolerance, before=before)


def _fix_batch(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    manifest: Path | None,
    out_dir: Path,
    setup: RecipeSetup,
    run: RunConfig,
    engine: EngineOptions,
    tolerance: float,
    overwrite: bool,
    given_offset: float | None,
    from_results: Path | None,
    quiet: bool,
) -> list[FixReport]:
    """Measure every input, write the copies, measure every copy (``resync.fix_inputs``: the
    run driver, its logs and resume), with progress on stderr."""
    from ..resync import fix_inputs  # loads torch: not on --help

    items = collect_inputs(list(inputs), manifest=manifest, exclude=[out_dir])
    if not items:
        raise click.UsageError(f"nothing to fix: {nothing_found(inputs, manifest)}")
    given = _given(from_results, items, given_offset)
    config = setup.batch_config(raise_unexpected=debug_requested(ctx))
    progress = Progress(enabled=not quiet)
    try:
        return fix_inputs(
            items,
            config,
            out_dir,
            run=run,
            executor=engine.executor(),
            given=given,
            tolerance=tolerance,
            overwrite=overwrite,
            hooks=progress.hooks(log.level, download_progress=not quiet),
        )
    finally:
        progress.close()


def _unofficial(report: FixReport) -> bool:
    """Whether the SyncNet weights that measured the copy (or the original) are not the
    official file, as the records' provenance says."""
    measured = [r for r in (report.before, report.after) if r is not None and r.provenance]
    return any(r.provenance.get("syncnet_weights_official") is False for r in measured)


def _failure(report: FixReport) -> str:
    if report.residual is None:
        return report.after.reason or f"{report.output}: {report.after.status}"
    return (
        f"{report.output}: still off by {report.residual:+g} frames after the fix (tolerance "
        f"{report.tolerance:g})"
    )


def format_fix_reports(reports: Sequence[FixReport]) -> str:
    rows: list[tuple[str, ...]] = [
        (
            "video",
            "offset before",
            "moved audio",
            "offset after",
            "LSE-D before",
            "LSE-D after",
            "LSE-C before",
            "LSE-C after",
            "result",
        ),
    ]
    for r in reports:
        b, a = r.before, r.after
        rows.append(
            (
                shown(r.source),
                frames_text(r.offset_frames),
                f"{r.delay_s * 1000:+.0f} ms",
                frames_text(r.residual),
                num(b.lse_d if b else None),
                num(a.lse_d),
                num(b.lse_c if b else None),
                num(a.lse_c),
                "pass" if r.passed else "FAIL",
            )
        )
    return "\n".join([*columns(rows), "(offsets in frames; moved audio: positive = delayed)"])
