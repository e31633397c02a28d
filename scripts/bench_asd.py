"""Light-ASD cost per frame: the batched multi-duration scorer against the authors' loop.

The loop scores every chunk of every duration (1..6 s) in its own forward pass; the scorer
scores each distinct chunk once (every duration >= the track's length gives the same chunk),
one chunk per pass on the CPU ("scorer"), or chunks of equal length batched as on a GPU
("batched"). Both give the same numbers (tests/test_asd.py). Prints
ms per frame of track for both and their ratio, measured in the same run, for a few track
lengths. Random weights and inputs (the arithmetic is the same as with a checkpoint).

Then the published checkpoints (``--checkpoints``, by default both files in
``../shared/weights/asd``), each loaded as ``--asd`` loads it, scoring the same random track:
ms per frame of each, and of the random-weight scorer, in the same run (a checkpoint costs what
random weights cost: the same arithmetic). The machine's cores and load average are printed
first: on a shared machine the figures move with the load.

    python scripts/bench_asd.py [--frames 125 250 750] [--repeats 2] [--checkpoints A B]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import os
from pathlib import Path
import time

import numpy as np
import torch

from syncnet_eval.asd import ASD_DURATIONS_S, ActiveSpeakerScorer, load_active_speaker_scorer
from syncnet_eval.models.light_asd import LightASD


def authors_loop(model: LightASD, faces: np.ndarray, cc: np.ndarray) -> np.ndarray:
    n = len(faces)
    per_duration = []
    with torch.inference_mode():
        for seconds in ASD_DURATIONS_S:
            step = 25 * seconds
            parts = [
                model(
                    torch.from_numpy(faces[a : a + step].astype(np.float32))[None],
                    torch.from_numpy(cc[4 * a : 4 * (a + step)].astype(np.float32))[None],
                )[0].numpy()
                for a in range(0, n, step)
            ]
            per_duration.append(np.concatenate(parts))
    return np.mean(per_duration, axis=0)


def best_of(repeats: int, fn: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


SHARED_ASD = Path(__file__).resolve().parents[2] / "shared" / "weights" / "asd"


def checkpoints_ms_per_frame(
    paths: list[Path], random_scorer: ActiveSpeakerScorer, n: int, repeats: int
) -> None:
    """ms per frame of a ``n``-frame track for each checkpoint and random weights, one run."""
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (n, 112, 112), dtype=np.uint8)
    cc = rng.standard_normal((4 * n, 13)).astype(np.float32)
    print(f"\ncheckpoints, {n}-frame track ({repeats} repeats, best):")
    random_s = best_of(repeats, random_scorer.score, faces, cc)
    print(f"  {'random weights':<36} {1000 * random_s / n:8.1f} ms/frame")
    for path in paths:
        scorer = load_active_speaker_scorer(
            "light-asd",
            "talkset",
            torch.device("cpu"),
            weights=path,
            offline=True,
            progress=False,
        )
        seconds = best_of(repeats, scorer.score, faces, cc)
        print(
            f"  {path.name:<36} {1000 * seconds / n:8.1f} ms/frame "
            f"({seconds / random_s:.2f}x random weights)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[125, 250, 750])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--checkpoints", type=Path, nargs="*", default=sorted(SHARED_ASD.glob("*.model"))
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    model = LightASD().eval()
    scorer = ActiveSpeakerScorer(model, torch.device("cpu"))  # one chunk per pass on the CPU
    batched = ActiveSpeakerScorer(model, torch.device("cpu"), batch_frames=300)
    rng = np.random.default_rng(0)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cpu cores: {os.cpu_count()}, load average (1, 5, 15 min): {load}")
    print(f"torch threads: {torch.get_num_threads()}")
    print(
        f"{'frames':>7} {'loop ms/frame':>14} {'scorer ms/frame':>16} {'speed-up':>9} "
        f"{'batched ms/frame':>17} {'speed-up':>9}"
    )
    for n in args.frames:
        faces = rng.integers(0, 256, (n, 112, 112), dtype=np.uint8)
        cc = rng.standard_normal((4 * n, 13)).astype(np.float32)
        loop_s = best_of(args.repeats, authors_loop, model, faces, cc)
        ours_s = best_of(args.repeats, scorer.score, faces, cc)
        batched_s = best_of(args.repeats, batched.score, faces, cc)
        print(
            f"{n:7d} {1000 * loop_s / n:14.1f} {1000 * ours_s / n:16.1f} "
            f"{loop_s / ours_s:8.2f}x {1000 * batched_s / n:17.1f} "
            f"{loop_s / batched_s:8.2f}x"
        )
    if args.checkpoints:
        checkpoints_ms_per_frame(args.checkpoints, scorer, args.frames[-1], args.repeats)


if __name__ == "__main__":
    main()
