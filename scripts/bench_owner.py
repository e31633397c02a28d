#!/usr/bin/env python3
"""What the ``owner`` measure (who owns the audio, :mod:`syncnet_eval.ownership`) costs,
relative to ``score`` alone, measured in the same run.

The measure reads the window confidences every track already has, once per video after its
tracks are scored. Two measurements, each against a baseline measured in the same run:

1. a whole ``score`` of a two-face video (the face-track recipe, the given weights on the CPU,
   HOG faces), with the ``owner`` measure and with it left out of the registry
   (``measures.left_out``; alternating, best of ``--repeats``);
2. the measure alone on that video's scored tracks, against the same score.

    python scripts/bench_owner.py --video ../shared/media/interview_two_faces_test_video_crop.mp4 \\
        --weights ../shared/weights/test/syncnet_parity_test.model
"""

from __future__ import annotations

import argparse
from pathlib import Path
import time

from syncnet_eval import ScoreConfig, SyncPipeline, measures
from syncnet_eval.config import PipelineConfig
from syncnet_eval.measures import VideoInputs
from syncnet_eval.ownership import owner_measure
from syncnet_eval.types import VideoResult


def _timed(pipe: SyncPipeline, video: Path) -> tuple[float, VideoResult]:
    t0 = time.perf_counter()
    result = pipe.evaluate(video, "syncnet-pipeline")
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="a video with two faces")
    parser.add_argument("--weights", type=Path, required=True, help="SyncNet weights")
    parser.add_argument("--detector", default="hog", help="face detector (hog: no weights to find)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pipe = SyncPipeline(
        ScoreConfig(device="cpu"),
        PipelineConfig(detector=args.detector),
        syncnet_weights=args.weights,
    )
    _timed(pipe, args.video)  # warm-up: models, thread pools, the page cache
    best = {"with": float("inf"), "without": float("inf")}
    result = None
    for _ in range(args.repeats):  # alternating, so that load on the machine hits both
        seconds, result = _timed(pipe, args.video)
        best["with"] = min(best["with"], seconds)
        with measures.left_out("owner"):
            seconds, _ = _timed(pipe, args.video)
        best["without"] = min(best["without"], seconds)
    assert result is not None
    tracks = len(result.tracks)
    inputs = VideoInputs(
        result.path, options={"provenance": result.provenance}, tracks=result.tracks
    )
    alone = float("inf")
    for _ in range(max(args.repeats, 20)):
        t0 = time.perf_counter()
        owner_measure(inputs)
        alone = min(alone, time.perf_counter() - t0)
    print(f"video: {args.video} ({result.status}, {tracks} tracks)")
    print(f"score without owner: {best['without']:.3f} s; with owner: {best['with']:.3f} s")
    print(f"ratio with/without: {best['with'] / best['without']:.3f}")
    print(f"owner measure alone: {1000 * alone:.3f} ms = {alone / best['without']:.2e} of a score")


if __name__ == "__main__":
    main()
