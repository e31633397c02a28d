#!/usr/bin/env python3
"""What the offset over time (``scoring.offset_drift``, run by every ``score``) costs.

Two measurements, each against a baseline measured in the same run:

1. the scoring step alone on a long track: the distance matrix and the offset search, with and
   without the segments and the drift line;
2. a whole ``score`` of a video (the direct recipe, the given weights on the CPU), with the
   ``drift`` measure and with it left out of the registry (``measures.left_out``;
   alternating, best of ``--repeats``).

    python scripts/bench_drift.py --video ../shared/media/syncnet_example.avi \\
        --weights ../shared/weights/test/syncnet_parity_test.model
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
import time
from typing import Any

import torch

from syncnet_eval import ScoreConfig, SyncPipeline, measures
from syncnet_eval.scoring import distance_by_shift, offset_drift, scores_from_distances


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def kernel(windows: int, repeats: int) -> tuple[float, float]:
    gen = torch.Generator().manual_seed(0)
    video = torch.randn(windows, 1024, generator=gen)
    audio = torch.randn(windows, 1024, generator=gen)

    def without() -> None:
        scores_from_distances(distance_by_shift(video, audio, 15))

    def with_drift() -> None:
        d = distance_by_shift(video, audio, 15)
        scores_from_distances(d)
        offset_drift(d)

    with torch.inference_mode():
        without(), with_drift()  # warm-up: allocations, thread pools
        best = {"without": float("inf"), "with": float("inf")}
        for _ in range(repeats):  # alternating, so that load on the machine hits both
            best["without"] = min(best["without"], _best(without, 1))
            best["with"] = min(best["with"], _best(with_drift, 1))
    return best["without"], best["with"]


def drift_alone(windows: int, repeats: int) -> float:
    gen = torch.Generator().manual_seed(0)
    d = distance_by_shift(
        torch.randn(windows, 1024, generator=gen), torch.randn(windows, 1024, generator=gen), 15
    )
    offset_drift(d)
    return _best(lambda: offset_drift(d), repeats)


def whole_score(video: Path, weights: Path, repeats: int) -> tuple[float, float]:
    pipe = SyncPipeline(ScoreConfig(device="cpu"), syncnet_weights=weights, progress=False)
    times = {"with": float("inf"), "without": float("inf")}
    pipe.evaluate(video, "direct")  # warm-up: weights, caches
    for _ in range(repeats):
        for mode in ("without", "with"):
            left = ("drift",) if mode == "without" else ()
            with measures.left_out(*left):
                t0 = time.perf_counter()
                result = pipe.evaluate(video, "direct")
                times[mode] = min(times[mode], time.perf_counter() - t0)
            assert result.ok, result.reason
            measured = result.tracks[0].value("segment_offsets") is not None
            assert measured == (mode == "with")
    return times["without"], times["with"]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--windows", type=int, default=15000, help="kernel track (15000 = 10 min)")
    ap.add_argument("--video", type=Path, help="a video to score (omit: kernel only)")
    ap.add_argument("--weights", type=Path, help="SyncNet weights for --video")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    print(f"{torch.get_num_threads()} threads")
    print("| measurement | without drift (s) | with drift (s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    base, drift = kernel(args.windows, args.repeats)
    print(
        f"| scoring step, {args.windows} windows | {base:.4f} | {drift:.4f} | {drift / base:.3f} |"
    )
    print(
        f"offset_drift alone on {args.windows} windows: "
        f"{drift_alone(args.windows, args.repeats) * 1000:.1f} ms"
    )
    if args.video is not None:
        if args.weights is None:
            ap.error("--video needs --weights")
        base, drift = whole_score(args.video, args.weights, args.repeats)
        print(
            f"| score {args.video.name} (direct, cpu) | {base:.3f} | {drift:.3f} | "
            f"{drift / base:.3f} |"
        )


if __name__ == "__main__":
    main()
