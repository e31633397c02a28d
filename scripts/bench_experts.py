"""What ``--expert`` costs ``score``: each sync expert's measure against ``score`` alone, same run.

Usage:
    python scripts/bench_experts.py [FILES ...] [--recipe direct] [--repeats 3]
        [--syncnet-weights FILE] [--expert-weights FILE] [--device cpu|cuda|auto]

"Alone" is a ``SyncPipeline`` with the package's defaults; "with" the same configuration plus
``--expert wav2lip``. Both pipelines are built once (models loaded), then alternate, repeat after
repeat, on each file; the table gives the median seconds of each and their ratio. Without
``--expert-weights`` the expert gets untrained seeded weights (``seeded_state_dict``: the cost of
a forward pass does not depend on the weights' values; the numbers it gives mean nothing).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import time

import torch

from syncnet_eval import ScoreConfig, SyncPipeline, __version__
from syncnet_eval.models.state import seeded_state_dict
from syncnet_eval.models.wav2lip_syncnet import Wav2LipSyncNet

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_FILES = (SHARED / "media" / "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4",)  # 15.7 s
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"


def _score(pipe: SyncPipeline, path: Path, recipe: str, expert: bool) -> float:
    t0 = time.perf_counter()
    result = pipe.evaluate(path, recipe)
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"{path}: {result.status}: {result.reason}")
    if expert != (result.tracks[0].value("wav2lip_windows") is not None):
        raise SystemExit("the expert was not switched as asked")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--recipe", default="direct")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--syncnet-weights", type=Path, default=PARITY_SYNCNET if PARITY_SYNCNET.is_file() else None
    )
    parser.add_argument("--expert-weights", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.expert_weights
        if weights is None:
            weights = Path(tmp) / "wav2lip_seeded.pth"
            shapes = Wav2LipSyncNet().state_dict()
            torch.save({"state_dict": seeded_state_dict(shapes, 0)}, weights)
        pipes = {
            expert: SyncPipeline(
                ScoreConfig(
                    device=args.device,
                    expert="wav2lip" if expert else None,
                    expert_weights=str(weights) if expert else None,
                ),
                syncnet_weights=args.syncnet_weights,
                offline=True,
                progress=False,
            )
            for expert in (False, True)
        }
        print(
            f"syncnet-eval {__version__}, recipe {args.recipe}, device {pipes[False].device}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} "
            f"CPUs, {platform.processor() or platform.machine()}; {args.repeats} repeats, "
            "alternating"
        )
        print()
        print("| file | expert | score alone (s) | with expert (s) | ratio |")
        print("|---|---|---|---|---|")
        for path in args.files:
            _score(pipes[True], path, args.recipe, True)  # warm up (caches, model load)
            _score(pipes[False], path, args.recipe, False)
            times: dict[bool, list[float]] = {False: [], True: []}
            for k in range(args.repeats):
                for expert in (False, True) if k % 2 == 0 else (True, False):
                    times[expert].append(_score(pipes[expert], path, args.recipe, expert))
            alone, with_ = statistics.median(times[False]), statistics.median(times[True])
            print(f"| {path.name} | wav2lip | {alone:.3f} | {with_:.3f} | {with_ / alone:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
