"""Command line: ``syncnet-eval score|weights``. The only module that imports click."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
import sys
from typing import Any

import click

from . import __version__
from .config import AGGREGATES, DETECTORS, RECIPES, PipelineConfig, ScoreConfig
from .errors import SyncEvalError
from .types import VideoResult

log = logging.getLogger("syncnet_eval")

_NOT_COMPARABLE = (
    "Skip the reference's JPEG round trip of every frame (cleaner pixels; the numbers are then "
    "NOT comparable to papers or to other tools' SyncNet scores)."
)


def _debug_enabled(ctx: click.Context | None = None) -> bool:
    if os.environ.get("SYNCNET_EVAL_DEBUG", "") not in ("", "0"):
        return True
    root = ctx.find_root() if ctx else None
    return bool(root and root.obj and root.obj.get("debug"))


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncnet-eval")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also SYNCNET_EVAL_DEBUG=1).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """SyncNet lip-sync scores: AV offset, LSE-D (lower is better), LSE-C (higher is better)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["verbose"] = verbose


def _format_table(results: list[VideoResult]) -> str:
    rows = [("file", "status", "offset", "LSE-D", "LSE-C", "tracks")]
    for r in results:
        if r.ok:
            rows.append(
                (
                    r.path,
                    r.status,
                    f"{r.av_offset:+d}" if isinstance(r.av_offset, int) else f"{r.av_offset:+.2f}",
                    f"{r.lse_d:.3f}",
                    f"{r.lse_c:.3f}",
                    str(len(r.tracks)),
                )  # fmt: skip
            )
        else:
            rows.append((r.path, r.status, "-", "-", "-", str(len(r.tracks))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    for r in results:
        if r.ok and len(r.tracks) > 1:
            for t in r.tracks:
                lines.append(
                    f"  track {t.index} frames {t.first_frame}-{t.last_frame}: offset "
                    f"{t.av_offset:+d}  LSE-D {t.lse_d:.3f}  LSE-C {t.lse_c:.3f}"
                )
    return "\n".join(lines)


def _write_output(output: str | None, results: list[VideoResult]) -> None:
    from .io import results_document, write_results

    if output is None:
        return
    if output == "-":
        click.echo(json.dumps(results_document(results), indent=2))
        return
    write_results(Path(output), results)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--recipe", type=click.Choice(RECIPES), default="syncnet-pipeline", show_default=True,
              help="syncnet-pipeline: detect, track and crop faces (run_pipeline.py + "
                   "run_syncnet.py); direct: frames as they are (demo_syncnet.py, pre-cropped "
                   "224x224 faces); wav2lip-lrs: every frame resized to 224x224 (Wav2Lip's LRS "
                   "tables).")  # fmt: skip
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Write results to FILE.json / FILE.csv; '-' prints JSON to stdout.",
)
@click.option("--syncnet-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="SyncNet state-dict file (default: the official syncnet_v2.model, found in "
                   "SYNCNET_EVAL_WEIGHTS or the cache, downloaded on first use).")  # fmt: skip
@click.option(
    "--s3fd-weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="S3FD state-dict file (default: the official sfd_face.pth).",
)
@click.option("--offline", is_flag=True, help="Never download weights; fail if they are missing.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option(
    "--vshift",
    type=click.IntRange(1, 100),
    default=15,
    show_default=True,
    help="Largest AV offset searched, in frames.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Windows per forward pass (speed/memory only; results do not change).",
)
@click.option("--no-jpeg-roundtrip", is_flag=True, help=_NOT_COMPARABLE)
@click.option(
    "--audio",
    "audio_path",
    type=click.Path(path_type=Path),
    help="Score the video against this audio file instead of its own track.",
)
@click.option(
    "--detector",
    type=click.Choice(DETECTORS),
    default="s3fd",
    show_default=True,
    help="Face detector of the pipeline recipe (hog needs dlib: pip install dlib-bin).",
)
@click.option("--detections", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use precomputed boxes (JSON {\"frames\": [[[x1,y1,x2,y2,score],...],...]} "
                   "indexing the 25 fps stream) instead of a detector.")  # fmt: skip
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
@click.option("--aggregate", type=click.Choice(AGGREGATES), default="best", show_default=True,
              help="Video-level numbers: best = track with the highest LSE-C (its own LSE-D "
                   "and offset); mean over tracks; longest track.")  # fmt: skip
@click.option(
    "--min-track",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="A track needs more detections than this (frames).",
)
@click.option(
    "--min-face-size",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Mean face box side must exceed this (pixels).",
)
@click.option(
    "--num-failed-det",
    type=click.IntRange(1),
    default=25,
    show_default=True,
    help="Frames a track may go without a detection.",
)
@click.option(
    "--crop-scale",
    type=click.FloatRange(0, 2),
    default=0.4,
    show_default=True,
    help="Crop margin around the face box.",
)
@click.option(
    "--facedet-scale",
    type=click.FloatRange(0.01, 1),
    default=0.25,
    show_default=True,
    help="S3FD input downscale factor.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table.")
@click.pass_context
def score(ctx: click.Context, inputs: tuple[Path, ...], recipe: str, output: str | None,
          syncnet_weights: Path | None, s3fd_weights: Path | None, offline: bool, device: str,
          vshift: int, batch_size: int, no_jpeg_roundtrip: bool, audio_path: Path | None,
          detector: str, detections: Path | None, save_detections: Path | None,
          save_crops: Path | None, aggregate: str, min_track: int, min_face_size: int,
          num_failed_det: int, crop_scale: float, facedet_scale: float,
          quiet: bool) -> None:  # fmt: skip
    """Score VIDEO files: AV offset (frames), LSE-D and LSE-C per face track and per video.

    Exit status: 0 when every input was scored, 1 when any failed (one 'Error:' line each),
    2 for bad usage.
    """
    from .pipeline import SyncPipeline

    _setup_logging(ctx.obj.get("verbose", 0), quiet)
    if audio_path is not None and len(inputs) != 1:
        raise click.UsageError("--audio takes exactly one video")
    if (detections or save_detections) and len(inputs) != 1:
        raise click.UsageError("--detections/--save-detections take exactly one video")
    score_cfg = ScoreConfig(vshift=vshift, batch_size=batch_size,
                            jpeg_roundtrip=not no_jpeg_roundtrip, device=device)  # fmt: skip
    pipe_cfg = PipelineConfig(min_track=min_track, min_face_size=min_face_size,
                              num_failed_det=num_failed_det, crop_scale=crop_scale,
                              facedet_scale=facedet_scale, detector=detector,
                              aggregate=aggregate)  # fmt: skip
    pipe = SyncPipeline(score_cfg, pipe_cfg, syncnet_weights=syncnet_weights,
                        s3fd_weights=s3fd_weights, offline=offline,
                        progress=not quiet)  # fmt: skip
    extra: dict[str, Any] = {"raise_unexpected": _debug_enabled(ctx)}
    if audio_path is not None:
        extra["audio_path"] = audio_path
    if detections is not None:
        from .full import load_detections

        extra["detections"] = load_detections(detections)
    if save_detections is not None:
        extra["save_detections"] = save_detections
    if save_crops is not None:
        extra["save_crops"] = save_crops
    results = [pipe.evaluate(p, recipe, **extra) for p in inputs]
    _write_output(output, results)
    if not quiet and output != "-":
        click.echo(_format_table(results))
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"Error: {r.reason}", err=True)
    for r in results:
        for w in r.warnings:
            log.warning(w)
    if failed:
        ctx.exit(1)


@cli.group()
def weights() -> None:
    """Find, download and verify the official weight files."""


@weights.command("where")
def weights_where() -> None:
    """Print where each weight file is looked for and whether it is there."""
    from .models import weights as wm

    for name, spec in wm.REGISTRY.items():
        found = wm.find_weights(name)
        click.echo(f"{name}: {found if found else 'missing'} ({spec.filename})")
    for d in wm.search_dirs():
        click.echo(f"search dir: {d}")


@weights.command("download")
@click.argument("names", nargs=-1, type=click.Choice(["syncnet", "s3fd"]))
@click.option(
    "--dir",
    "target_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Download into DIR instead of the user cache.",
)
def weights_download(names: tuple[str, ...], target_dir: Path | None) -> None:
    """Download (and verify) the official weights: syncnet, s3fd, or both by default."""
    from .models import weights as wm

    for name in names or tuple(wm.REGISTRY):
        existing = wm.find_weights(name) if target_dir is None else None
        if existing is not None:
            wm.verify_weights(existing, wm.REGISTRY[name])
            click.echo(f"{name}: already present and verified at {existing}")
            continue
        res = wm.download_weights_from(name, target_dir)
        click.echo(f"{name}: downloaded from {res.url} to {res.path}")


@weights.command("verify")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def weights_verify(files: tuple[Path, ...]) -> None:
    """Check size and sha256 of the cached weights (or of FILES against the official ones)."""
    from .models import weights as wm

    bad = 0
    targets: list[tuple[str, Path | None]]
    if files:
        by_name = {s.filename: n for n, s in wm.REGISTRY.items()}
        targets = []
        for f in files:
            name = by_name.get(f.name)
            if name is None:
                size = f.stat().st_size
                name = next((n for n, s in wm.REGISTRY.items() if s.size == size), None)
            if name is None:
                raise click.ClickException(f"{f}: not one of the official weight files")
            targets.append((name, f))
    else:
        targets = [(n, wm.find_weights(n)) for n in wm.REGISTRY]
    for name, path in targets:
        if path is None:
            click.echo(f"{name}: missing (run 'syncnet-eval weights download {name}')")
            bad += 1
            continue
        try:
            wm.verify_weights(path, wm.REGISTRY[name])
            click.echo(f"{name}: OK {path}")
        except SyncEvalError as exc:
            click.echo(f"{name}: BAD {exc}")
            bad += 1
    if bad:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns library errors into one 'Error:' line and exit code 1."""
    try:
        code = cli.main(args=argv, prog_name="syncnet-eval", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SyncEvalError as exc:
        if _debug_enabled(click.get_current_context(silent=True)) or "--debug" in (
            argv if argv is not None else sys.argv
        ):
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        if os.environ.get("SYNCNET_EVAL_DEBUG", "") not in ("", "0") or "--debug" in (
            argv if argv is not None else sys.argv
        ):
            raise
        click.echo(f"Error: {type(exc).__name__}: {exc} (re-run with --debug for details)",
                   err=True)  # fmt: skip
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
