"""``syncnet-eval lmd``: mouth landmark distance (LMD), PSNR and SSIM against ground truth.

The pairs run on the run driver (``engines.run.run_inputs``) with the ``lmd`` recipe, like
every command that scores many inputs: one ``VideoResult`` record per pair (its numbers in
``measures``), the JSONL log and resume, ``--workers``, ``--timeout``, progress; the records
are read by ``check``, ``report`` and ``filter`` like ``score``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import LmdConfig, ScoreConfig
from ..engines.plan import BatchConfig, RunConfig
from ..errors import ConfigError, InputError
from ..inputs import BatchInput, read_manifest
from ..io import results_document, write_results
from ..measures import get_measure
from ..stats import BatchSummary, MetricSummary, summarize
from ..types import VideoResult
from .app import AppState, debug_requested, setup_logging
from .display import columns, shown
from .options import EngineOptions, config_option, engine_options, run_options_keeping
from .score import OutputFiles, print_failures, run_with_progress

__all__ = ["lmd"]

# Pairs up to this many print a table; larger runs only the summary (as score).
_TABLE_MAX_ROWS = 50
# The fields the table and the summary show, in order.
_SHOWN = ("lmd_px", "psnr_db", "ssim", "landmark_coverage")


def _pairs(
    generated: Path | None, reference: Path | None, manifest: Path | None
) -> list[BatchInput]:
    if manifest is not None:
        if generated is not None or reference is not None:
            raise click.UsageError("give GENERATED --reference GT or --manifest FILE, not both")
        try:
            return read_manifest(manifest)
        except InputError as exc:
            raise click.BadParameter(str(exc), param_hint="'--manifest'") from exc
    if generated is None or reference is None:
        raise click.UsageError("give GENERATED and --reference GT, or --manifest FILE")
    return [BatchInput(path=generated, id=str(generated), reference_path=reference)]


def _table(results: list[VideoResult]) -> str:
    """A row per pair: id, status, LMD, PSNR, SSIM, landmark coverage."""
    fields = {f.name: f for f in get_measure("lmd").fields}
    head = ("pair", "status", *(_label(fields[n].label, fields[n].unit) for n in _SHOWN))
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        values = tuple(fields[n].shown(r.measures.get(n)) or "-" for n in _SHOWN)
        rows.append((shown(r.id or r.path), r.status, *values))
    return "\n".join(columns(rows))


def _label(label: str, unit: str | None) -> str:
    return f"{label} ({unit})" if unit else label


def _summary_lines(summary: BatchSummary) -> list[str]:
    """The means over the pairs that were compared (``ok``), with their 95% intervals."""
    lines = [f"{summary.num_ok} of {summary.num_inputs} pairs compared"]
    fields = {f.name: f for f in get_measure("lmd").fields}
    for name in _SHOWN:
        found = summary.measures.get(name)
        if not isinstance(found, MetricSummary) or found.mean is None:
            continue
        f = fields[name]
        unit = f" {f.unit}" if f.unit and f.unit != "share" else ""
        ci = ""
        if found.ci_low is not None and found.ci_high is not None:
            ci = f" (95% CI {f.shown(found.ci_low)} to {f.shown(found.ci_high)})"
        lines.append(f"mean {f.label}: {f.shown(found.mean)}{unit}{ci}")
    return lines


@click.command()
@click.argument("generated", required=False, type=click.Path(path_type=Path))
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="The ground-truth video GENERATED is compared with, frame by frame.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with columns 'path' (generated) and 'reference' (ground truth), optional 'id' "
    "and 'group'; relative paths resolve against its folder.",
)
@config_option(LmdConfig, "landmarks")
@config_option(ScoreConfig, "device")
@config_option(LmdConfig, "min_landmark_coverage")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="Write the records to FILE.json (records + summary), FILE.csv (one row per pair), "
    "FILE.jsonl (one record per line, appended as each pair finishes: the resume log) or "
    "FILE.parquet (needs pyarrow); '-' prints JSON to stdout. Repeatable.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@run_options_keeping("-o FILE.jsonl (or FILE.parquet)")
@engine_options
@click.pass_context
def lmd(
    ctx: click.Context,
    generated: Path | None,
    reference: Path | None,
    manifest: Path | None,
    landmarks: str,
    device: str,
    min_landmark_coverage: float,
    outputs: tuple[str, ...],
    quiet: bool,
    run: RunConfig,
    engine: EngineOptions,
) -> None:
    """LMD of GENERATED against --reference GT (or every row of --manifest), with PSNR and SSIM.

    LMD: mouth landmarks 48-67 (68-point scheme), centred per frame on their mean, mean L2
    distance over the 20 points per frame, then over frames, in pixels of the reference's frame
    (a generated video of another size is resized to it); RAD-NeRF/ER-NeRF's definition, which
    SyncTalk and TalkingGaussian reuse. Frames are paired by index; a frame-count mismatch is
    reported (a warning in the record) and the first min(n, m) frames are compared.
    PSNR (dB, capped at 100 per frame) and SSIM: scikit-image on the same full-frame pairs
    (SSIM: colour, 7x7 uniform window, as its defaults with channel_axis; named in each
    record's provenance, 'lmd.ssim_variant'). A pair whose share of frames with landmarks in
    both ('landmark_coverage') is below --min-landmark-coverage fails (no_face) rather than
    being scored on the frames left. --landmarks fan downloads face_alignment's files on first
    use; offline without them the error names the files and --landmarks dlib. --device is
    FAN's torch device (auto: cuda when present, else cpu); dlib runs on the CPU.

    Each pair is one record like score's (recipe 'lmd'): status, reason, id, path, the numbers
    lmd_px, psnr_db, ssim, paired_frames, landmark_frames and landmark_coverage, and a
    provenance naming the landmark backend, its version and the definitions. The pairs run on
    the run driver: -o FILE.jsonl is a log a rerun resumes from, --workers and --timeout as
    in score. 'check FILE --limit lmd_px<=X', 'filter' and 'report' read the records.

    Exit status: 0 when every pair was compared, 1 when any was not (one 'Error:' line each;
    every pair of a manifest is still tried and recorded), 2 for bad usage.
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    out = OutputFiles(outputs)
    from ..engines.run import check_run

    if run.streams > 1:
        raise click.UsageError("--streams batches SyncNet's forward passes; lmd runs no SyncNet")
    executor = engine.executor()
    try:
        config = BatchConfig(
            recipe="lmd",
            score_config=ScoreConfig(device=device),
            lmd_config=LmdConfig(landmarks, min_landmark_coverage),
            raise_unexpected=debug_requested(ctx),
        )
        check_run(config, run, out.run_outputs(), executor)  # bad usage before any pair
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    items = _pairs(generated, reference, manifest)
    outcome = run_with_progress(items, config, executor, run, out, quiet)
    results = outcome.results
    extras = [r.extras() for r in outcome.records]
    summary = summarize(results)
    for path in [*out.json, *out.csv]:
        write_results(path, results, summary, extras=extras)
    if out.stdout:
        doc = results_document(results, summary, extras)
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
    elif not quiet and any(r.ok for r in results):
        if len(results) <= _TABLE_MAX_ROWS:
            click.echo(_table(results))
        if len(results) > 1:
            click.echo("\n".join(["", *_summary_lines(summary)]))
    failed = outcome.failed
    print_failures(failed)
    if failed:
        ctx.exit(1)
