"""Time the ``syncnet-pipeline`` recipe stage by stage and print a markdown table.

Usage:
    python scripts/bench_pipeline.py [FILES ...] [--detector hog|s3fd] [--s3fd-weights FILE]
        [--syncnet-weights FILE] [--device cpu|cuda|auto]

Stage times come from ``VideoResult.timings_s`` (decode, scenes, detection, tracking_crop,
embeddings, scoring, total); the real-time factor is the video's duration divided by the total
(> 1: faster than real time). The default detector is ``hog`` because the official S3FD weights
are not shipped; ``--detector s3fd --s3fd-weights FILE`` times S3FD (with the random parity-test
weights it runs at full cost but finds no face, which the table says).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import sys
import time

import av
import torch

from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline, VideoResult, __version__

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_FILES = (
    SHARED / "media" / "hdtf_WDA_KatieHill_000.mp4",  # 512x512, 8 s
    SHARED / "media" / "latentsync_demo1_video.mp4",  # 1080x1920, 10 s
)
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"
STAGES = ("decode", "scenes", "detection", "tracking_crop", "embeddings", "scoring", "total")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--detector", choices=("hog", "s3fd"), default="hog")
    parser.add_argument("--s3fd-weights", type=Path, default=None)
    parser.add_argument(
        "--syncnet-weights",
        type=Path,
        default=PARITY_SYNCNET if PARITY_SYNCNET.is_file() else None,
        help="SyncNet weights (default: the parity-test model when present, else the official "
        "file; the weights do not change the speed)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, auto, cuda, cuda:N (default cpu)")
    parser.add_argument("--allow-download", action="store_true", help="allow weight downloads")
    args = parser.parse_args(argv)
    if args.detector == "s3fd" and args.s3fd_weights is None and not args.allow_download:
        parser.error("--detector s3fd needs --s3fd-weights FILE (or --allow-download)")
    return args


def _duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return (container.duration or 0) / 1_000_000


def _size(result: VideoResult) -> str:
    width, height = result.provenance.get("input_size", [None, None])
    return f"{width}x{height}" if width else "?"


def _row(path: Path, result: VideoResult, duration_s: float) -> str:
    timings = result.timings_s
    cells = [path.name, _size(result), f"{duration_s:.2f}"]
    cells += [f"{timings[s]:.2f}" if s in timings else "-" for s in STAGES]
    total = timings.get("total", 0.0)
    cells.append(f"{duration_s / total:.2f}" if total > 0 else "-")
    cells.append(str(len(result.tracks)))
    cells.append(result.status)
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        print(f"not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    pipe = SyncPipeline(
        ScoreConfig(device=args.device),
        PipelineConfig(detector=args.detector),
        syncnet_weights=args.syncnet_weights,
        s3fd_weights=args.s3fd_weights,
        offline=not args.allow_download,
        progress=False,
    )
    pipe.face_detector()  # load the detector before timing, as a long-lived pipeline would
    setup_s = time.perf_counter() - t0

    header = ["file", "size", "video s", *STAGES, "RTF", "tracks", "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes = []
    for path in args.files:
        result = pipe.evaluate(path, "syncnet-pipeline")
        lines.append(_row(path, result, _duration_s(path)))
        if not result.ok:
            why = "no face track was found" if result.status in ("no_face", "too_short") else ""
            notes.append(f"- {path.name}: {why or result.status}: {result.reason}")

    print(
        f"syncnet-eval {__version__}, detector {args.detector}, device {pipe.device}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
        f"model setup {setup_s:.2f} s (not in the table)"
    )
    print()
    print("\n".join(lines))
    if notes:
        print()
        print("\n".join(notes))
    print()
    print("Stage seconds from VideoResult.timings_s; RTF = video duration / total (> 1 is faster")
    print("than real time).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
