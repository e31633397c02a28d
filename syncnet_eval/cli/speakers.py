"""``syncnet-eval speakers``: who speaks when, per face track (RTTM, JSON, CSV); ``syncnet-eval
owner``: whose lips own the audio, per segment (RTTM, JSON), against one or several audio files."""

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

__all__ = ["owner", "owner_table", "speakers", "speakers_csv_text", "speakers_table"]

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


# -- owner: whose lips own the audio -----------------------------------------------------------


def _owner_outputs(outputs: tuple[str, ...]) -> list[Path]:
    paths = []
    for out in outputs:
        path = writable_file(out, "'-o' / '--output'")
        if path.suffix.lower() not in (".rttm", ".json"):
            raise click.BadParameter(
                f"{out!r}: the file name must end in .rttm or .json", param_hint="'-o' / '--output'"
            )
        paths.append(path)
    return paths


def owner_table(values: dict[str, Any]) -> str:
    """One row per segment: its span, each track's mean window confidence, the owner."""
    segments = values.get("owner_segments") or []
    tracks = sorted({int(k) for s in segments for k in s["confidence"]})
    rows: list[tuple[str, ...]] = [
        ("segment (s)", *(f"track {i}" for i in tracks), "margin", "owner")
    ]
    for s in segments:
        conf = s["confidence"]
        owner = (
            f"track {s['owner']}"
            if s["decision"] == "owner"
            else ("undecided" if s["decision"] == "undecided" else f"track {s['leader']} alone")
        )
        rows.append(
            (
                f"{s['start_s']:.2f}-{s['end_s']:.2f}",
                *(f"{conf[str(i)]:.3f}" if str(i) in conf else MISSING for i in tracks),
                MISSING if s["margin"] is None else f"{s['margin']:.3f}",
                owner,
            )
        )
    return "\n".join(columns(rows))


def _matrix_table(matrix: dict[str, Any]) -> str:
    """Faces x audio files: each track's LSE-C against each audio, and each audio's owner."""
    rows: list[tuple[str, ...]] = [("LSE-C", *matrix["audio"])]
    for i, row in zip(matrix["tracks"], matrix["lse_c"], strict=True):
        rows.append((f"track {i}", *(MISSING if c is None else f"{c:.3f}" for c in row)))
    rows.append(("owner", *(MISSING if o is None else f"track {o}" for o in matrix["owner"])))
    return "\n".join(columns(rows))


@click.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--audio",
    "audio_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Score the faces against this audio file instead of the video's own track. "
    "Repeatable: several give a faces x audio files matrix (each track's LSE-C against each).",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="FILE.rttm (one SPEAKER line per run of one owner, speaker trackN) or FILE.json "
    "(every segment's confidences, margin and owner; the matrix). Repeatable.",
)
@click.option(
    "--detections",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Use precomputed boxes (JSON {"frames": [[[x1,y1,x2,y2,score],...],...]} '
    "indexing the 25 fps stream, as score --save-detections writes them) instead of a detector.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@_face_tracks_only
@recipe_options
@click.pass_context
def owner(
    ctx: click.Context,
    video: Path,
    audio_paths: tuple[Path, ...],
    outputs: tuple[str, ...],
    detections: Path | None,
    quiet: bool,
    setup: RecipeSetup,
) -> None:
    """Find whose lips own the audio in VIDEO, a video with several faces.

    Runs the syncnet-pipeline recipe and, per 5 s segment every 1 s, compares the face
    tracks' mean SyncNet window confidence: the most confident track owns the segment when it
    leads the next by at least 1.0, else the segment is undecided (docs/owner.md). Only the
    official SyncNet weights (or an injected embedder) can judge: with other weights the
    command says that ownership cannot be judged.

    Exit status: 0, 1 when the video cannot be scored or ownership cannot be judged (one
    'Error:' line; the files are still written), 2 for bad usage.
    """
    from ..ownership import owner_matrix

    state = ctx.find_object(AppState) or AppState()
    setup_logging(state.verbose, quiet, ctx)
    paths = _owner_outputs(outputs)
    from ..engines.plan import RunHooks
    from ..engines.run import score_one  # loads torch: not on --help

    batch = setup.batch_config(detections=detections, raise_unexpected=debug_requested(ctx))
    hooks = RunHooks(stage_hook=None if quiet else StageProgress(str(video)))
    audios: list[Path | None] = list(audio_paths) or [None]
    runs: list[tuple[str, VideoResult]] = []
    for audio in audios:
        result = score_one(BatchInput(video, audio_path=audio), batch, hooks=hooks).result
        runs.append((str(audio) if audio is not None else "(own audio)", result))
    matrix = owner_matrix(runs)
    for path in paths:
        _write_owner(path, video, runs, matrix)
    for name, scored in runs:
        _show_owner(video, name if len(runs) > 1 else None, scored, quiet)
    if not quiet:
        if len(runs) > 1:
            click.echo(_matrix_table(matrix))
        for path in paths:
            click.echo(f"wrote {shown(str(path))}")


def _write_owner(
    path: Path, video: Path, runs: list[tuple[str, VideoResult]], matrix: dict[str, Any]
) -> None:
    """``owner -o``: RTTM (the owner runs; one file id per audio file when there are several)
    or JSON (every run's owner values and the matrix)."""
    from ..ownership import owner_rttm_text

    if path.suffix.lower() == ".rttm":
        name = _rttm_stem(video)
        text = "".join(
            owner_rttm_text(name if len(runs) == 1 else f"{name}__{Path(a).stem}", r.measures)
            for a, r in runs
        )
        atomic_write_text(path, text)
        return
    doc = {
        "path": str(video),
        "runs": [
            {
                "audio": a,
                "status": r.status,
                "reason": r.reason,
                "warnings": r.warnings,
                **r.measures,
            }
            for a, r in runs
        ],
        "matrix": matrix,
    }
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


def _show_owner(video: Path, audio: str | None, result: VideoResult, quiet: bool) -> None:
    """The segment table of one run; an ``InputError`` (one ``Error:`` line, exit 1) when the
    video was not scored, has fewer than two tracks, or its weights cannot judge ownership."""
    from ..ownership import JUDGED

    if not result.ok:
        raise InputError(result.reason or f"{video}: {result.status}")
    verdict = result.measures.get("owner_judgement")
    if verdict is None:
        raise InputError(f"{video}: fewer than two face tracks were scored: no owner to find")
    if not quiet:
        if audio is not None:
            click.echo(f"against {shown(audio)}:")
        click.echo(owner_table(result.measures))
    if verdict != JUDGED:
        cause = verdict.removeprefix("not judged: ")
        raise InputError(f"{video}: ownership cannot be judged: {cause}")


def _rttm_stem(video: Path) -> str:
    return "_".join((video.stem or "video").split()) or "video"
