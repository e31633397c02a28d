"""What the mouth-motion-in-silence measure costs ``score``: with it against without, same run.

Usage:
    python scripts/bench_silence.py [FILES ...] [--recipe direct] [--repeats 5]
        [--syncnet-weights FILE] [--device cpu|cuda|auto]

"Without" leaves the ``silence`` measure out of the registry (``measures.left_out``), so
``recipes.steps.score_track`` neither shows it the frames nor asks for its values; "with" is
the package as shipped. The two alternate, repeat after repeat, on the same pipeline (models
loaded once), and the table gives the median total seconds of each and their ratio. The
measure's own cost, timed apart on the frames the recipe scores, is printed as microseconds
per frame (the part that does not depend on how fast SyncNet runs on the device).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import statistics
import sys
import time

import torch

from syncnet_eval import ScoreConfig, SyncPipeline, __version__, measures
from syncnet_eval.decode import iter_frames, read_audio
from syncnet_eval.silence import MouthMotion, measure_silence_motion

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_FILES = (
    SHARED / "media" / "syncnet_example.avi",  # 224x224, 12.7 s
    SHARED / "media" / "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4",  # 224x224, 15.7 s
)
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"


def _score(pipe: SyncPipeline, path: Path, recipe: str, measured: bool) -> float:
    with measures.left_out(*(() if measured else ("silence",))):
        t0 = time.perf_counter()
        result = pipe.evaluate(path, recipe)
        elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"{path}: {result.status}: {result.reason}")
    if measured != (result.tracks[0].value("silent_frames") is not None):
        raise SystemExit("the measure was not switched as asked")
    return elapsed


def _measure_alone(path: Path) -> tuple[int, float]:
    """Frames and seconds of MouthMotion + measure_silence_motion alone on the scored frames."""
    chunks = list(iter_frames(path))
    audio = read_audio(path)
    t0 = time.perf_counter()
    motion = MouthMotion()
    for chunk in chunks:
        motion.add(chunk)
    measure_silence_motion(audio, motion.values())
    return sum(len(c) for c in chunks), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--recipe", default="direct")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--syncnet-weights", type=Path, default=PARITY_SYNCNET if PARITY_SYNCNET.is_file() else None
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    pipe = SyncPipeline(
        ScoreConfig(device=args.device),
        syncnet_weights=args.syncnet_weights,
        offline=True,
        progress=False,
    )
    print(
        f"syncnet-eval {__version__}, recipe {args.recipe}, device {pipe.device}, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}; {args.repeats} repeats, alternating"
    )
    print()
    print("| file | without (s) | with (s) | ratio | measure alone (us/frame) |")
    print("|---|---|---|---|---|")
    for path in args.files:
        _score(pipe, path, args.recipe, True)  # warm up (caches, allocator)
        times: dict[bool, list[float]] = {False: [], True: []}
        for k in range(args.repeats):
            for measured in (False, True) if k % 2 == 0 else (True, False):
                times[measured].append(_score(pipe, path, args.recipe, measured))
        without, with_ = statistics.median(times[False]), statistics.median(times[True])
        frames, alone = _measure_alone(path)
        print(
            f"| {path.name} | {without:.3f} | {with_:.3f} | {with_ / without:.3f} | "
            f"{1e6 * alone / frames:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
