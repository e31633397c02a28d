#!/usr/bin/env python3
"""What the ``owner`` measure (who owns the audio, :mod:`syncnet_eval.ownership`) costs,
relative to ``score`` alone, measured in the same run.

The measure reads the window confidences every track already has, once per video after its
tracks are scored. The script puts two shared clips side by side (ffmpeg ``hstack``, the first
clip's audio, ``--seconds`` long), gives the face-track recipe each panel's face box (no
detector), and measures against a baseline in the same run:

1. a whole score of that two-face video (the given SyncNet weights on the CPU) with the
   ``owner`` measure and with it left out of the registry (``measures.left_out``; alternating,
   best of ``--repeats``);
2. the measure alone on the scored tracks, against the same score.

    python scripts/bench_owner.py ../shared/media/syncnet_example.avi \\
        ../shared/media/lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4 \\
        --weights ../shared/weights/test/syncnet_parity_test.model
"""

from __future__ import annotations

import argparse
from pathlib import Path
import subprocess
import tempfile
import time

import numpy as np

from syncnet_eval import ScoreConfig, SyncPipeline, measures
from syncnet_eval.config import PipelineConfig
from syncnet_eval.decode import REFERENCE_QSCALE, iter_jpegs, transcode_reference_avi
from syncnet_eval.measures import VideoInputs
from syncnet_eval.ownership import owner_measure
from syncnet_eval.types import VideoResult

PANEL = 224
BOX = [112 - 60, 112 - 75, 112 + 60, 112 + 75]  # each panel's face box, 120 x 150 px


def side_by_side(left: Path, right: Path, seconds: float, out: Path) -> list[np.ndarray]:
    """``left | right`` at 224 px each, ``left``'s audio; the boxes of the pipeline's dump."""
    scale = f"scale={PANEL}:{PANEL},setsar=1"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(left), "-i", str(right)]
        + ["-filter_complex", f"[0:v]{scale}[a];[1:v]{scale}[b];[a][b]hstack=inputs=2[v]"]
        + ["-map", "[v]", "-map", "0:a", "-t", str(seconds), "-r", "25", str(out)],
        check=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        avi = Path(tmp) / "video.avi"
        transcode_reference_avi(out, avi)
        frames = sum(1 for _ in iter_jpegs(avi, REFERENCE_QSCALE))
    rows = [[BOX[0] + dx, BOX[1], BOX[2] + dx, BOX[3], 0.99] for dx in (0, PANEL)]
    return [np.array(rows, dtype=np.float64) for _ in range(frames)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", type=Path, help="a talking-face clip (its audio is used)")
    parser.add_argument("right", type=Path, help="another talking-face clip")
    parser.add_argument("--weights", type=Path, required=True, help="SyncNet weights")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    pipe = SyncPipeline(
        ScoreConfig(device="cpu"), PipelineConfig(min_track=50), syncnet_weights=args.weights
    )
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "two_faces.mp4"
        boxes = side_by_side(args.left, args.right, args.seconds, video)

        def timed() -> tuple[float, VideoResult]:
            t0 = time.perf_counter()
            result = pipe.evaluate(video, "syncnet-pipeline", detections=boxes)
            return time.perf_counter() - t0, result

        best = {"with": float("inf"), "without": float("inf")}
        result = None
        for k in range(args.repeats):  # alternating (and which goes first), so load hits both
            for name in ("with", "without") if k % 2 == 0 else ("without", "with"):
                if name == "with":
                    seconds, result = timed()
                else:
                    with measures.left_out("owner"):
                        seconds, _ = timed()
                best[name] = min(best[name], seconds)
    assert result is not None
    inputs = VideoInputs(
        result.path, options={"provenance": result.provenance}, tracks=result.tracks
    )
    alone = float("inf")
    for _ in range(50):
        t0 = time.perf_counter()
        owner_measure(inputs)
        alone = min(alone, time.perf_counter() - t0)
    print(
        f"video: {args.left.name} | {args.right.name}, {args.seconds:g} s ({result.status}, "
        f"{len(result.tracks)} tracks, owner_track {result.measures.get('owner_track')})"
    )
    print(f"score without owner: {best['without']:.3f} s; with owner: {best['with']:.3f} s")
    print(f"ratio with/without: {best['with'] / best['without']:.3f}")
    print(f"owner measure alone: {1000 * alone:.3f} ms = {alone / best['without']:.2e} of a score")


if __name__ == "__main__":
    main()
