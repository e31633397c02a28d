"""What the leakage protocol and speech-defined silence cost ``score``, measured in one run.

Usage:
    python scripts/bench_leakage.py [FILES ...] [--recipe direct] [--repeats 3]
        [--syncnet-weights FILE] [--device cpu|cuda|auto] [--records 1000]

- **Speech-defined silence** (``--silence-detector silero``, needs the [vad] extra): ``score``
  with silero-vad defining silence against ``score`` as shipped (the energy rule), alternating
  repeat after repeat on pipelines whose models are loaded once; the ratio is the median total
  seconds of the silero run over the default's. silero-vad alone is also timed on each file's
  audio (seconds per minute of audio).
- **Leakage protocol**: its labels are stamped by the run driver (a dict merge per record) and
  its statistics are computed by the summary. Timed: ``stats.summarize`` over ``--records``
  records (pairs of matched/mismatched clips, silent clips) with the labels, against the same
  records without them, and the difference against the time ``score`` takes for one video
  (the ratio says what the summary adds to a batch of that many videos, per video scored).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import os
from pathlib import Path
import platform
import statistics
import sys
import time

import torch

from syncnet_eval import ScoreConfig, SyncPipeline, __version__
from syncnet_eval.decode import read_audio
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult
from syncnet_eval.vad import silero_speech_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_FILES = (
    SHARED / "media" / "syncnet_example.avi",  # 224x224, 12.7 s
    SHARED / "media" / "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4",  # 224x224, 15.7 s
)
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"


def _score(pipe: SyncPipeline, path: Path, recipe: str) -> tuple[float, VideoResult]:
    t0 = time.perf_counter()
    result = pipe.evaluate(path, recipe)
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"{path}: {result.status}: {result.reason}")
    return elapsed, result


def _labelled(result: VideoResult, n: int) -> tuple[list[VideoResult], list[VideoResult]]:
    """``n`` copies of ``result`` with leakage labels (a third each matched, mismatched,
    silent; pairs by thirds), and the same copies without labels."""
    plain = [replace(result, id=f"v{k}") for k in range(n)]
    conditions = ("matched", "mismatched", "silent")
    labelled = [
        replace(r, measures={**r.measures, "condition": conditions[k % 3], "pair_id": f"p{k // 3}"})
        for k, r in enumerate(plain)
    ]
    return labelled, plain


def _timed_summary(results: list[VideoResult], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        summarize(results)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--recipe", default="direct")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument(
        "--syncnet-weights", type=Path, default=PARITY_SYNCNET if PARITY_SYNCNET.is_file() else None
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    pipes = {
        detector: SyncPipeline(
            ScoreConfig(device=args.device, silence_detector=detector),
            syncnet_weights=args.syncnet_weights,
            offline=True,
            progress=False,
        )
        for detector in ("energy", "silero")
    }
    print(
        f"syncnet-eval {__version__}, recipe {args.recipe}, device {pipes['energy'].device}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}; {args.repeats} repeats, alternating"
    )
    print()
    print(
        "| file | score (s) | score, silero silence (s) | ratio | silero alone (s/min audio) "
        f"| summary of {args.records} records: + leakage (s) | leakage / score of 1 video |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        for pipe in pipes.values():
            _score(pipe, path, args.recipe)  # warm up (caches, allocator, silero's model)
        times: dict[str, list[float]] = {"energy": [], "silero": []}
        result = None
        for k in range(args.repeats):
            order = ("energy", "silero") if k % 2 == 0 else ("silero", "energy")
            for detector in order:
                elapsed, scored = _score(pipes[detector], path, args.recipe)
                times[detector].append(elapsed)
                result = scored if detector == "energy" else result
        base, silero = statistics.median(times["energy"]), statistics.median(times["silero"])
        audio = read_audio(path)
        t0 = time.perf_counter()
        silero_speech_frames(audio)
        vad_per_min = (time.perf_counter() - t0) / (audio.size / 16000 / 60)
        assert result is not None
        labelled, plain = _labelled(result, args.records)
        extra = _timed_summary(labelled, args.repeats) - _timed_summary(plain, args.repeats)
        print(
            f"| {path.name} | {base:.3f} | {silero:.3f} | {silero / base:.3f} | "
            f"{vad_per_min:.2f} | {extra:.4f} | {extra / base:.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
