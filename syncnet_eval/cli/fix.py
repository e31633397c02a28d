"""``syncnet-eval fix``: re-sync videos by their measured offset, and prove it by re-measuring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InputError
from ..inputs import BatchInput, collect_inputs
from ..io import JsonlLog, atomic_write_text, load_records, read_jsonl
from ..types import VideoResult
from .app import AppState, debug_requested, log, setup_logging
from .display import columns, num, shown
from .options import (
    RecipeSetup,
    RunOptions,
    recipe_options,
    run_options,
    writable_dir,
    writable_file,
)

if TYPE_CHECKING:  # the pipeline loads torch
    from ..resync import FixReport

__all__ = ["fix"]

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
    help="Batch form: write each input's corrected copy into DIR, named by its id; "
    "before.jsonl/after.jsonl logs there make a rerun resume; fix.json sums up.",
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
    help="Take each input's offset from this results file (JSON, JSONL or CSV of "
    "score) instead of measuring it.",
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
@run_options
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
    run: RunOptions,
) -> None:
    """Write a copy of VIDEO with its audio moved so that its AV offset becomes 0, then score
    the copy with the same recipe and print the offset, LSE-D and LSE-C before and after.

    The offset is measured (any recipe and its options), given with --offset, or read from a
    results file with --from. Multi-track videos: the chosen track's offset, with a warning
    when the tracks disagree by more than the tolerance.

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
        offsets = _given_offsets(from_results, inputs, offset)
        if from_results is not None and offsets.get(_key(inputs[0])) is None:
            raise InputError(f"{inputs[0]}: its record in {from_results} is not scored")
        report = _fix_one(setup, inputs[0], output, offsets.get(_key(inputs[0])), tolerance)
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
            tolerance,
            overwrite,
            offset,
            from_results,
            quiet,
        )
    if not quiet:
        click.echo(_format_reports(reports))
    for report in reports:
        for warning in report.warnings:
            click.echo(f"Warning: {shown(warning)}", err=True)
        if not report.passed:
            click.echo(f"Error: {shown(_failure(report))}", err=True)
    if not all(r.passed for r in reports):
        ctx.exit(1)


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _check_single_output(video: Path, output: Path, overwrite: bool) -> None:
    writable_file(output, "'-o' / '--output'")
    if _key(output) == _key(video):
        raise click.BadParameter(
            f"{output} is the input video: fix writes a copy", param_hint="'-o' / '--output'"
        )
    if output.exists() and not overwrite:
        raise click.BadParameter(
            f"{output} exists (add --overwrite to replace it)", param_hint="'-o' / '--output'"
        )


def _given_offsets(
    from_results: Path | None, inputs: Sequence[Path | BatchInput], offset: float | None
) -> dict[str, float | None]:
    """Each input's offset to correct when not measured: ``--offset``, or its record in
    ``--from`` (matched by resolved path, else id); missing means measure it."""
    keys = [_key(i.path if isinstance(i, BatchInput) else i) for i in inputs]
    if offset is not None:
        return dict.fromkeys(keys, offset)
    if from_results is None:
        return {}
    found: dict[str, float | None] = {}
    try:
        records = load_records(from_results)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--from'") from exc
    for rec in records:
        result = VideoResult.from_dict(rec)
        where = (rec.get("input_identity") or {}).get("path") or result.path
        value = float(result.av_offset) if result.ok and result.av_offset is not None else None
        found[_key(Path(where))] = value
        if result.id:
            found.setdefault(f"id:{result.id}", value)
    missing = [k for k in keys if k not in found]
    if missing:
        raise click.BadParameter(
            f"no record of {missing[0]} in {from_results}", param_hint="'--from'"
        )
    return found


def _pipeline(setup: RecipeSetup) -> Any:

    return setup.pipeline()


def _fix_one(
    setup: RecipeSetup, video: Path, output: Path, offset: float | None, tolerance: float
) -> FixReport:
    from ..resync import fix_video  # loads torch: not on --help

    return fix_video(
        _pipeline(setup), video, output, setup.recipe, offset=offset, tolerance=tolerance
    )


def _fix_batch(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    manifest: Path | None,
    out_dir: Path,
    setup: RecipeSetup,
    run: RunOptions,
    tolerance: float,
    overwrite: bool,
    offset: float | None,
    from_results: Path | None,
    quiet: bool,
) -> list[FixReport]:
    """Measure every input (the same engine, logs and resume as score), write the copies,
    then measure every copy; ``fix.json`` in ``out_dir`` pairs them."""
    from ..batch import crops_names, run_batch  # loads torch: not on --help

    items = collect_inputs(list(inputs), manifest=manifest, exclude=[out_dir])
    if not items:
        raise click.UsageError("no video files found to fix")
    given = _given_offsets(from_results, items, offset)
    config = setup.batch_config(
        identity=run.identity,
        raise_unexpected=debug_requested(ctx),
    )

    def score(batch: list[BatchInput], log_name: str) -> list[VideoResult]:
        if not batch:
            return []
        return run_batch(
            batch,
            config,
            workers=run.workers,
            timeout_s=run.timeout_s,
            log_path=out_dir / log_name,
            resume=run.resume is not False,
            retry_failed=run.retry_failed,
            worker_log_level=log.level,
            download_progress=not quiet,
        ).results

    to_measure = [i for i in items if _key(i.path) not in given]
    before = dict(zip([i.path for i in to_measure], score(to_measure, "before.jsonl"), strict=True))
    plans = [
        _write_copy(
            item,
            out_dir / f"{name}{item.path.suffix}",
            before.get(item.path),
            given.get(_key(item.path)),
            tolerance,
            overwrite,
            setup.recipe,
        )
        for item, name in zip(items, crops_names(items), strict=True)
    ]
    written = [p for p in plans if p.copy is not None]
    after = score([p.copy for p in written if p.copy is not None], "after.jsonl")
    results = dict(zip([id(p) for p in written], after, strict=True))
    reports = [p.report(results.get(id(p)), tolerance) for p in plans]
    summary = {"tolerance_frames": tolerance, "fixes": [r.to_dict() for r in reports]}
    atomic_write_text(out_dir / "fix.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return reports


@dataclass
class _Plan:
    """One input of a batch fix: its copy (``None`` when it could not be written)."""

    item: BatchInput
    target: Path
    before: VideoResult | None
    offset: float | None
    warnings: list[str]
    copy: BatchInput | None = None
    failure: VideoResult | None = None

    def report(self, after: VideoResult | None, tolerance: float) -> FixReport:
        from ..resync import FixReport, audio_delay_for_offset

        measured = self.failure or after
        assert measured is not None
        delay = audio_delay_for_offset(self.offset) if self.offset is not None else 0.0
        return FixReport(
            str(self.item.path),
            str(self.target),
            self.offset,
            delay,
            self.before,
            measured,
            tolerance,
            self.warnings,
        )


def _write_copy(
    item: BatchInput,
    target: Path,
    before: VideoResult | None,
    given: float | None,
    tolerance: float,
    overwrite: bool,
    recipe: str,
) -> _Plan:
    """Write ``item``'s corrected copy to ``target``; a failure is the plan's record."""
    from ..resync import audio_delay_for_offset, move_audio, offset_to_fix

    plan = _Plan(item, target, before, None, [])
    try:
        if before is not None:
            plan.offset, plan.warnings = offset_to_fix(before, tolerance)
        elif given is None:
            raise InputError(f"{item.path}: its record in the results file is not scored")
        else:
            plan.offset = given
        if _key(target) == _key(item.path):
            raise InputError(f"{target}: the copy would overwrite its input")
        if target.exists() and not overwrite and not _written_by_us(target, item, plan.offset):
            raise InputError(f"{target} exists (add --overwrite to replace it)")
        move_audio(item.path, target, audio_delay_for_offset(plan.offset))
        _remember(target, item, plan.offset)
        plan.copy = replace(item, path=target, audio_path=None, crops_name=None)
    except InputError as exc:
        plan.failure = VideoResult.failure(str(target), recipe, exc.status, str(exc))
    return plan


def _ledger(target: Path) -> Path:
    return target.parent / "written.jsonl"


def _remember(target: Path, item: BatchInput, offset: float) -> None:
    """Note that ``target`` is the copy of ``item`` correcting ``offset`` (a rerun keeps it)."""
    with JsonlLog(_ledger(target)) as ledger:
        ledger.append({"input": _key(item.path), "output": _key(target), "offset": offset})


def _written_by_us(target: Path, item: BatchInput, offset: float) -> bool:
    entry = {"input": _key(item.path), "output": _key(target), "offset": offset}
    return entry in read_jsonl(_ledger(target))


def _failure(report: FixReport) -> str:
    if report.residual is None:
        return report.after.reason or f"{report.output}: {report.after.status}"
    return (
        f"{report.output}: still off by {report.residual:+g} frames after the fix (tolerance "
        f"{report.tolerance:g})"
    )


def _format_reports(reports: Sequence[FixReport]) -> str:
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
                "-" if r.offset_frames is None else f"{r.offset_frames:+g}",
                f"{r.delay_s * 1000:+.0f} ms",
                "-" if r.residual is None else f"{r.residual:+g}",
                num(b.lse_d if b else None),
                num(a.lse_d),
                num(b.lse_c if b else None),
                num(a.lse_c),
                "pass" if r.passed else "FAIL",
            )
        )
    return "\n".join([*columns(rows), "(offsets in frames; moved audio: positive = delayed)"])
