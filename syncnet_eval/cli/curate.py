"""``syncnet-eval filter`` (curate a dataset by sync) and ``selftest`` (check an install)."""

from __future__ import annotations

from pathlib import Path
import sys
import tempfile
from typing import TYPE_CHECKING, Any

import click

from ..filtering import PRESETS, filter_records, manifest_text
from ..io import atomic_write_text
from ..presentation import MISSING, count, frames_text
from ..rules import Rules
from .app import AppState, setup_logging
from .checks import config_choice, config_options, load_records_arg
from .display import columns, num, shown
from .options import RecipeSetup, recipe_options, video_rule_options, writable_file

if TYPE_CHECKING:  # loads torch: not on --help
    from ..selftest import SelftestReport

__all__ = ["filter_results", "selftest", "selftest_rows"]

_PRESETS_HELP = "; ".join(f"{name}: {preset.source}" for name, preset in PRESETS.items())


@click.command("filter")
@click.argument(
    "results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "kept_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="KEPT.csv",
    help="The videos kept, as a manifest score and fix accept.",
)
@click.option(
    "--rejected",
    "rejected_path",
    type=click.Path(path_type=Path),
    metavar="REJECTED.csv",
    help="The videos rejected, as a manifest, each with the rules it failed (or its "
    "status and reason) in 'rejected_by'.",
)
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    help=f"A published rule (explicit options override its values): {_PRESETS_HELP}.",
)
@video_rule_options
@config_options
@click.pass_context
def filter_results(
    ctx: click.Context,
    results: tuple[Path, ...],
    kept_path: Path,
    rejected_path: Path | None,
    preset: str | None,
    rules: Rules,
    config_hash: str | None,
    latest_config: bool,
) -> None:
    """Split the records of RESULTS (the .json, .jsonl, .csv or .parquet of 'score -o') into
    kept and rejected manifests by sync, without scoring anything again.

    Every input lands in exactly one of the two; videos that were not scored are rejected with
    their status and reason. A video is kept when it meets every rule (the same rules as
    'check --per-video'). Paths that were relative in the records stay relative, to the folder
    of the manifest written. Prints how many each rule rejected. Records of several
    configurations in one RESULTS file are all used, with a warning; --config-hash or
    --latest-config keeps one. Exit status 0 (2 for bad usage or unreadable results).
    """
    setup_logging((ctx.find_object(AppState) or AppState()).verbose, False, ctx)
    of_set = [ml.name for ml in rules.measure_limits if ml.of_set]
    if of_set:
        raise click.UsageError(
            f"--limit {', '.join(of_set)}: a set's value (FID, FVD) keeps or rejects no single "
            "video; gate it with 'check'"
        )
    choice = config_choice(config_hash, latest_config)
    kept_file = writable_file(kept_path, "'-o' / '--output'")
    rejected_file = writable_file(rejected_path, "'--rejected'") if rejected_path else None
    if preset:
        rules = PRESETS[preset].rules.merged(rules)
    records: list[dict[str, Any]] = []
    for path in results:
        try:
            records += load_records_arg(path, choice)
        except click.ClickException as exc:
            raise click.BadParameter(exc.message, param_hint="RESULTS") from exc
    outcome = filter_records(records, rules)
    kept_rows = [(rec, "") for rec in outcome.kept]
    atomic_write_text(kept_file, manifest_text(kept_rows, manifest_dir=kept_file.parent))
    if rejected_file is not None:
        text = manifest_text(outcome.rejected, manifest_dir=rejected_file.parent)
        atomic_write_text(rejected_file, text)
    kept, rejected = len(outcome.kept), len(outcome.rejected)
    click.echo(f"{count(len(records), 'input')}: {kept} kept, {rejected} rejected")
    rows = [("rule", "videos")] + [
        (name, str(n)) for name, n in sorted(outcome.counts.items()) if name != "kept"
    ]
    if len(rows) > 1:
        click.echo("\n".join(columns(rows)))


@click.command()
@click.argument(
    "video", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--shifts",
    default="-6,-3,3,6",
    show_default=True,
    metavar="LIST",
    help="Offsets to plant, frames, comma-separated (positive: the audio made to lead).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Largest |recovered - planted| that passes, frames.",
)
@recipe_options
@click.pass_context
def selftest(
    ctx: click.Context, video: Path | None, shifts: str, tolerance: float, setup: RecipeSetup
) -> None:
    """Plant known audio shifts in copies of VIDEO, score them, and print planted against
    recovered offsets with the LSE numbers. Exit 0 when every shift comes back.

    Without VIDEO, the published SyncNet demo clip (example.avi, downloaded and verified on
    first use) is scored with the direct recipe: with the official weights every shift must
    come back exactly. On your own clip use the recipe your videos need.

    A failure means one of: untrained or wrong weights (the parity-test weights recover
    nothing: their distance curve is a V at offset 0 whatever the audio); the wrong recipe for
    the clip (direct and wav2lip-lrs need pre-cropped faces); a broken decode (an ffmpeg other
    than the 5.1 CLI); a clip without visible speech.
    """
    from ..models import weights as wm  # no torch
    from ..selftest import run_selftest

    setup_logging((ctx.find_object(AppState) or AppState()).verbose, False, ctx)
    try:
        planted = [int(s) for s in shifts.split(",") if s.strip()]
    except ValueError as exc:
        raise click.BadParameter(
            f"{shifts!r}: give whole frames, e.g. -6,-3,3,6", param_hint="'--shifts'"
        ) from exc
    if any(abs(s) > setup.score_config.vshift for s in planted):
        raise click.BadParameter(
            f"every shift must be within the search range (--vshift {setup.score_config.vshift})",
            param_hint="'--shifts'",
        )
    recipe = setup.recipe
    if video is None:
        video = wm.resolve_weights("demo", offline=setup.offline)
        if ctx.get_parameter_source("recipe") is click.core.ParameterSource.DEFAULT:
            recipe = "direct"
    config = setup.batch_config(recipe=recipe)
    with tempfile.TemporaryDirectory(prefix="syncnet-eval-selftest-") as tmp:
        report = run_selftest(config, video, Path(tmp), shifts=planted, tolerance=tolerance)
    rows = selftest_rows(report)
    click.echo(f"selftest of {shown(str(video))} ({recipe} recipe, tolerance {tolerance:g} frames)")
    click.echo("\n".join(columns(rows)))
    for note in report.notes:
        click.echo(f"Note: {shown(note)}")
    if report.passed:
        click.echo("PASS: every planted shift was recovered")
        return
    missed = sum(not report.recovered(s) for s in report.shifts)
    click.echo(
        f"FAIL: {missed} of {len(report.shifts)} planted shifts not recovered. Likely causes: "
        "untrained or wrong weights; the wrong recipe for the clip; a broken decode (ffmpeg "
        "not 5.1); a clip without visible speech (see --help)",
        err=True,
    )
    sys.exit(1)


def selftest_rows(report: SelftestReport) -> list[tuple[str, ...]]:
    """The table of a selftest: the clip, then each planted shift, planted against recovered."""
    base = report.baseline
    rows: list[tuple[str, ...]] = [("planted", "recovered", "offset", "LSE-D", "LSE-C", "result")]
    clip = frames_text(base.av_offset)
    rows.append(("0 (clip)", MISSING, clip, num(base.lse_d), num(base.lse_c), base.status))
    for s in report.shifts:
        r = s.result
        verdict = "ok" if report.recovered(s) else "MISSED"
        recovered, offset = frames_text(s.recovered), frames_text(r.av_offset)
        rows.append((f"{s.planted:+d}", recovered, offset, num(r.lse_d), num(r.lse_c), verdict))
    return rows
