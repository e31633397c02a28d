"""``syncnet-eval row``: the paper's whole row for a set of generated videos and their ground
truth: LSE-D and LSE-C (SyncNet, as ``score``), LMD, PSNR, SSIM, LPIPS and CSIM per video with
their means and intervals, FID and FVD over the set.

A command of its own rather than ``score --reference``: the row needs a ground truth for every
input (two directories matched by name, or a manifest with a ``reference`` column) and models
``score`` never loads, and it prints a table of its own (the row); its records are ``score``'s
(one ``VideoResult`` per generated video, run on the driver with log, resume and workers),
read by ``check``, ``compare``, ``report`` and ``filter`` like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
import tempfile
from typing import Any

import click

from ..config import ROW_MEASURES, LmdConfig, RowConfig
from ..engines.plan import RunConfig
from ..errors import ConfigError, InputError
from ..inputs import BatchInput, collect_inputs, read_manifest
from ..io import results_document, write_results
from ..measures import REGISTRY, Field, field_named
from ..presentation import LSE_C, LSE_D
from ..stats import BatchSummary, MetricSummary, summarize
from ..types import VideoResult
from .app import AppState, debug_requested, setup_logging
from .display import columns, shown
from .options import (
    EngineOptions,
    RecipeSetup,
    config_option,
    engine_options,
    recipe_options,
    run_options_keeping,
)
from .score import OutputFiles, print_failures, run_with_progress

__all__ = ["row", "row_lines"]

_TABLE_MAX_ROWS = 50
# The per-video columns of the row, in the papers' order (after LSE-D and LSE-C).
_PER_VIDEO = ("lmd_px", "psnr_db", "ssim", "lpips", "csim")
_PER_SET = ("fid", "fvd")


def _pairs(
    generated: Path | None, reference: Path | None, manifest: Path | None
) -> list[BatchInput]:
    """Each generated video with its ground truth: GENERATED and REFERENCE (two files, or two
    directories whose videos are matched by their path under each), or the manifest's rows."""
    if manifest is not None:
        if generated is not None or reference is not None:
            raise click.UsageError("give GENERATED REFERENCE or --manifest FILE, not both")
        try:
            items = read_manifest(manifest)
        except InputError as exc:
            raise click.BadParameter(str(exc), param_hint="'--manifest'") from exc
        if not items:
            raise click.UsageError(f"{manifest}: the manifest lists no videos")
        return items
    if generated is None or reference is None:
        raise click.UsageError("give GENERATED REFERENCE (files or directories), or --manifest")
    if not generated.is_dir():
        return [BatchInput(path=generated, id=str(generated), reference_path=reference)]
    if not reference.is_dir():
        raise click.UsageError(f"{reference}: GENERATED is a directory, so REFERENCE must be one")
    items = collect_inputs([generated])
    if not items:
        raise click.UsageError(f"{generated}: no videos found")
    return [
        BatchInput(
            path=item.path,
            id=item.id,
            reference_path=_counterpart(item.path.relative_to(generated), reference),
        )
        for item in items
    ]


def _counterpart(relative: Path, reference: Path) -> Path:
    """REFERENCE's file of the same relative path, else of the same stem with another video
    suffix (a generated .mp4 of a real .avi); the same path when there is none (its record
    then says the reference was not found)."""
    same = reference / relative
    if same.exists():
        return same
    folder = (reference / relative).parent
    if folder.is_dir():
        found = sorted(p for p in folder.iterdir() if p.stem == relative.stem and p.is_file())
        if len(found) == 1:
            return found[0]
    return same


def _features_dir(out: OutputFiles, given: Path | None) -> tuple[Path, bool]:
    """Where FID's and FVD's features go: ``--features``, else ``<first output>.features``
    beside the first output file, else a temporary folder (removed at the end)."""
    if given is not None:
        return given, False
    for path in [out.jsonl, out.parquet, *out.json, *out.csv]:
        if path is not None:
            return path.with_name(f"{path.stem}.features"), False
    return Path(tempfile.mkdtemp(prefix="syncnet-eval-row-")), True


def _cell(f: Field, found: Any) -> str:
    if isinstance(found, MetricSummary):
        if found.mean is None:
            return "-"
        text = f.shown(found.mean)
        if found.ci_low is not None and found.ci_high is not None:
            text += f" [{f.shown(found.ci_low)}, {f.shown(found.ci_high)}]"
        return text
    return "-" if found is None else f.shown(found)


def row_lines(summary: BatchSummary) -> list[str]:
    """The paper's row: each column's mean with its 95% interval (per video), or the set's
    value (FID, FVD, with the number of feature vectors); ``-`` where not measured."""
    head: list[str] = [LSE_D.name, LSE_C.name]
    cells: list[str] = []
    for m in (summary.lse_d, summary.lse_c):
        cells.append(_cell(Field("lse", "float", "", digits=3), m))
    for name in (*_PER_VIDEO, *_PER_SET):
        found = field_named(name)
        assert found is not None
        f = found[1]
        head.append(f"{f.label} ({f.unit})" if f.unit else f.label)
        cells.append(_cell(f, summary.measures.get(name)))
    lines = columns([tuple(head), tuple(cells)])
    counts = [
        f"{label} over {summary.measures[key]} {unit}"
        for key, label, unit in (("fid_vectors", "FID", "frames"), ("fvd_clips", "FVD", "clips"))
        if summary.measures.get(key) is not None
    ]
    note = f"means [95% CI] over {summary.num_scored} of {summary.num_inputs} videos"
    if summary.num_ok > summary.num_scored:
        note += f" ({summary.num_ok - summary.num_scored} flagged left out: --include-flagged)"
    return [*lines, note + (f"; {', '.join(counts)}" if counts else "")]


def _table(results: list[VideoResult]) -> str:
    """A row per video: id, status, LSE-D, LSE-C and the per-video measures."""
    fields = {f.name: f for n in ("lmd", "lpips", "csim") for f in REGISTRY[n].fields}
    head = ("video", "status", LSE_D.name, LSE_C.name, *(fields[n].label for n in _PER_VIDEO))
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        lse = tuple("-" if v is None else f"{v:.3f}" for v in (r.lse_d, r.lse_c))
        values = tuple(fields[n].shown(r.measures.get(n)) or "-" for n in _PER_VIDEO)
        rows.append((shown(r.id or r.path), r.status, *lse, *values))
    return "\n".join(columns(rows))


def _measures(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ROW_MEASURES]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(ROW_MEASURES)}",
            param_hint="'--measures'",
        )
    return names


@click.command()
@click.argument("generated", required=False, type=click.Path(path_type=Path))
@click.argument("reference", required=False, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with columns 'path' (generated) and 'reference' (ground truth), optional 'id', "
    "'group' and 'audio'; relative paths resolve against its folder.",
)
@click.option(
    "--measures",
    "measure_names",
    default=",".join(ROW_MEASURES),
    show_default=True,
    help="The row's measures against the ground truth, comma-separated (LSE-D and LSE-C "
    "always run). lmd: LMD, PSNR, SSIM (PSNR and SSIM also run without it).",
)
@config_option(RowConfig, "fid_model")
@config_option(RowConfig, "fvd_model")
@config_option(RowConfig, "lpips_model")
@config_option(RowConfig, "csim_model")
@config_option(RowConfig, "frame_stride")
@config_option(RowConfig, "fid_weights")
@config_option(RowConfig, "fvd_weights")
@config_option(RowConfig, "lpips_weights")
@config_option(RowConfig, "lpips_heads")
@config_option(RowConfig, "identity_weights")
@config_option(LmdConfig, "landmarks")
@config_option(LmdConfig, "min_landmark_coverage")
@click.option(
    "--features",
    "features",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for each video's FID and FVD features (.npz; the records name them, and "
    "check, compare and report compute FID and FVD from them). Default: FILE.features beside "
    "the first -o FILE.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="Write the records to FILE.json (records + summary), FILE.csv, FILE.jsonl (the "
    "resume log) or FILE.parquet; '-' prints JSON to stdout. Repeatable.",
)
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Let videos with reliability flags (few_windows: shorter than about 4 s...) into "
    "the row's means and set values; by default they are counted and left out, as in score.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@recipe_options
@run_options_keeping("-o FILE.jsonl (or FILE.parquet)")
@engine_options
@click.pass_context
def row(
    ctx: click.Context,
    generated: Path | None,
    reference: Path | None,
    manifest: Path | None,
    measure_names: str,
    fid_model: str,
    fvd_model: str,
    lpips_model: str,
    csim_model: str,
    frame_stride: int,
    fid_weights: str | None,
    fvd_weights: str | None,
    lpips_weights: str | None,
    lpips_heads: str | None,
    identity_weights: str | None,
    landmarks: str,
    min_landmark_coverage: float,
    features: Path | None,
    outputs: tuple[str, ...],
    include_flagged: bool,
    quiet: bool,
    setup: RecipeSetup,
    run: RunConfig,
    engine: EngineOptions,
) -> None:
    """The paper's row for GENERATED against REFERENCE (two videos, or two directories whose
    videos are matched by name), or every row of --manifest.

    Prints LSE-D and LSE-C (SyncNet, --recipe as in score), LMD, PSNR, SSIM, LPIPS and CSIM
    (means over the videos with their 95% bootstrap intervals) and FID and FVD (one value over
    the set: the generated videos' frames against the references', which are the real set).
    One decode of each generated video and its reference feeds every measure against the
    ground truth; SyncNet decodes as the recipe's reference does. FID and FVD keep each
    video's features (--features), never its frames: check, compare and report compute them
    again from the records they read ('check FILE --limit fid<=X --limit csim>=Y', 'check
    FILE --baseline OLD --tolerance fid=2').

    Each record names how every measure was computed in its provenance ('row.protocol': the
    model and its weights, frames sampled, resize, whole frame, clip length, real set), and
    the command warns when FID or FVD rests on fewer feature vectors than their dimension.
    A model whose module or weights are missing is one 'Error:' line before any video.

    Exit status: 0 when every pair was scored, 1 when any was not (one 'Error:' line each;
    the others are still scored and recorded), 2 for bad usage.
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    out = OutputFiles(outputs)
    from ..engines.run import check_run

    folder, temporary = _features_dir(out, features)
    executor = engine.executor()
    try:
        row_config = RowConfig(
            _measures(measure_names),
            fid_model,
            fvd_model,
            lpips_model,
            csim_model,
            frame_stride,
            fid_weights,
            fvd_weights,
            lpips_weights,
            lpips_heads,
            identity_weights,
        )
        lmd_config = LmdConfig(landmarks, min_landmark_coverage)
        config = setup.batch_config(
            row_config=row_config,
            lmd_config=lmd_config,
            features_dir=folder,
            raise_unexpected=debug_requested(ctx),
        )
        check_run(config, run, out.run_outputs(), executor)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    items = _pairs(generated, reference, manifest)
    outcome = run_with_progress(items, config, executor, run, out, quiet)
    extras = [r.extras() for r in outcome.records]
    _emit(outcome.results, extras, out, quiet, include_flagged)
    if temporary:
        _remove(folder)
    print_failures(outcome.failed)
    if outcome.failed:
        ctx.exit(1)


def _emit(
    results: list[VideoResult],
    extras: list[dict[str, Any]],
    out: OutputFiles,
    quiet: bool,
    include_flagged: bool,
) -> None:
    summary = summarize(results, include_flagged=include_flagged)
    for path in [*out.json, *out.csv]:
        write_results(path, results, summary, extras=extras)
    if out.stdout:
        doc = results_document(results, summary, extras)
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
    elif not quiet and any(r.ok for r in results):
        if len(results) <= _TABLE_MAX_ROWS:
            click.echo(_table(results))
            click.echo("")
        click.echo("\n".join(row_lines(summary)))


def _remove(folder: Path) -> None:
    for path in folder.glob("*.npz"):
        path.unlink()
    folder.rmdir()
