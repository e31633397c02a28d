"""``syncnet-eval speakers``: who speaks when, per face track (RTTM, JSON, CSV)."""

from __future__ import annotations

from collections.abc import Callable
import csv
from dataclasses import replace
import io
import json
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import ASD_MODEL_NAMES
from ..errors import InputError
from ..inputs import BatchInput
from ..io import atomic_write_text, spreadsheet_safe
from ..presentation import MISSING
from ..recipes import REGISTRY
from ..speaking import SPEAKERS_CSV_COLUMNS, rttm_text, speakers_csv_rows, speakers_document
from ..types import VideoResult
from .app import AppState, debug_requested, setup_logging
from .display import StageProgress, columns, result_warning_lines, shown
from .options import RecipeSetup, recipe_options, writable_file

__all__ = ["speakers", "speakers_csv_text", "speakers_table"]

_SUFFIXES = (".rttm", ".json", ".csv")
# The recipes with face tracks to judge (the registry says which).
_TRACKED = tuple(name for name, spec in REGISTRY.items() if spec.needs_tracks)

F = TypeVar("F", bound=Callable[..., Any])


def _face_tracks_only(func: F) -> F:
    """Narrow the shared ``--recipe`` option to the face-track recipe and hide it from
    ``--help`` (there is nothing to choose; ``--recipe syncnet-pipeline`` still parses), hide
    ``--fps``, which only the whole-frame recipes use, and drop ``--track-select``: speakers
    writes every track, and no track's numbers are chosen."""
    params = getattr(func, "__click_params__", [])
    params[:] = [p for p in params if p.name != "track_select"]
    for param in params:
        if not isinstance(param, click.Option):
            continue
        if param.name == "recipe":
            param.type = click.Choice(_TRACKED)
            param.hidden = True
        elif param.name == "fps":
            param.hidden = True
    return func


def _outputs(outputs: tuple[str, ...]) -> list[Path]:
    paths = []
    for out in outputs:
        path = writable_file(out, "'-o' / '--output'")
        if path.suffix.lower() not in _SUFFIXES:
            raise click.BadParameter(
                f"{out!r}: the file name must end in .rttm, .json or .csv",
                param_hint="'-o' / '--output'",
            )
        paths.append(path)
    return paths


def _write(path: Path, result: VideoResult) -> None:
    suffix = path.suffix.lower()
    if suffix == ".rttm":
        atomic_write_text(path, rttm_text(result))
    elif suffix == ".json":
        doc = speakers_document(result)
        atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    else:
        atomic_write_text(path, speakers_csv_text(result))


def speakers_csv_text(result: VideoResult) -> str:
    """``speakers -o FILE.csv``: a header and one row per speaking segment, its text cells
    safe to open in a spreadsheet (``io.spreadsheet_safe``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(SPEAKERS_CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    rows = speakers_csv_rows(result)
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def speakers_table(result: VideoResult) -> str:
    """The tracks of ``result`` with their speaking share and first segments."""
    rows: list[tuple[str, ...]] = [("track", "frames", "box x1,y1,x2,y2", "speaking", "segments")]
    for t in result.tracks:
        box = ",".join(f"{x:.0f}" for x in t.mean_box) if t.mean_box else MISSING
        share = MISSING if t.speaking_fraction is None else f"{100 * t.speaking_fraction:.0f}%"
        segs = " ".join(
            f"{s['start_s']:.2f}-{s['end_s']:.2f}" for s in (t.speaking_segments or [])[:4]
        )
        more = len(t.speaking_segments or []) - 4
        rows.append(
            (
                str(t.index),
                f"{t.first_frame}-{t.last_frame}",
                box,
                share,
                segs + (f" (+{more} more)" if more > 0 else ""),
            )
        )
    return "\n".join(columns(rows))


@click.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    required=True,
    metavar="FILE",
    help="FILE.rttm (one SPEAKER line per segment, speaker trackN), FILE.json (per track: "
    "frames, mean box, speaking fraction, segments, per-frame scores) or FILE.csv (one row "
    "per segment). Repeatable.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@_face_tracks_only
@recipe_options
@click.pass_context
def speakers(
    ctx: click.Context, video: Path, outputs: tuple[str, ...], quiet: bool, setup: RecipeSetup
) -> None:
    """Find who speaks when in VIDEO: face tracks judged by Light-ASD, frame by frame.

    Runs the syncnet-pipeline recipe (detect, track, crop, SyncNet) with the active-speaker
    model on (--asd light-asd; --asd-model talkset or ava), and writes each track's speaking
    segments: a frame speaks when its Light-ASD score, averaged with its 2 neighbours on each
    side, is >= 0 (its authors' rule). Times are seconds of the video.

    Exit status: 0, 1 when the video cannot be scored (one 'Error:' line; the JSON/CSV/RTTM
    files are still written, with the status), 2 for bad usage.
    """
    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    paths = _outputs(outputs)
    config = setup.pipeline_config
    if config.asd is None:
        config = replace(config, asd=ASD_MODEL_NAMES[0])
    from ..engines.plan import RunHooks
    from ..engines.run import score_one  # loads torch: not on --help

    batch = replace(
        setup.batch_config(raise_unexpected=debug_requested(ctx)), pipeline_config=config
    )
    stages = None if quiet else StageProgress(str(video))
    hooks = RunHooks(stage_hook=stages, download_progress=not quiet)
    result = score_one(BatchInput(video), batch, hooks=hooks).result
    for path in paths:
        _write(path, result)
    if not result.ok:
        raise InputError(result.reason or f"{video}: {result.status}")
    if not quiet:
        for line in result_warning_lines([result]):
            click.echo(line, err=True)
        click.echo(speakers_table(result))
        for path in paths:
            click.echo(f"wrote {shown(str(path))}")
