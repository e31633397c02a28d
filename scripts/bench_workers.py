#!/usr/bin/env python3
"""``score --workers`` and torch threads on this machine: wall seconds per configuration.

    python scripts/bench_workers.py --rounds 2

Scores the same small directory of shared clips (``--recipe direct``, parity-test weights, no
resume) with: 1 process at the default threads (all cores), 1 process with 1 thread
(``OMP_NUM_THREADS=1``), and ``--workers 2`` (each worker gets cores / 2 threads). The
configurations run in turn, round after round, so a load that comes and goes hits each alike;
medians and the ratio against the default. Nothing here changes the default.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bf16 import cpu_line  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CLIPS = (
    "hallo_gufeng1_libai_224.mp4",
    "aniportrait_guangfan_224.mp4",
    "hallo_gufeng1_libai_25step_224.mp4",
    "hallo_gufeng1_libai_224_plus_wav2lip.mp4",
)
CONFIGS = {
    "1 process, default threads": (["--workers", "1"], {}),
    "1 process, 1 thread": (["--workers", "1"], {"OMP_NUM_THREADS": "1"}),
    "2 workers (cores / 2 threads each)": (["--workers", "2"], {}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(cpu_line())
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for clip in CLIPS:
            (inputs / clip).symlink_to(SHARED / "media" / clip)
        times: dict[str, list[float]] = {k: [] for k in CONFIGS}
        for r in range(args.rounds):
            for name, (opts, env) in CONFIGS.items():
                out = Path(tmp) / f"out{r}_{len(times[name])}_{opts[-1]}{len(env)}.json"
                cmd = [
                    sys.executable,
                    "-m",
                    "syncnet_eval",
                    "score",
                    str(inputs),
                    "--recipe",
                    "direct",
                    "--offline",
                    "-q",
                    "--no-resume",
                    "-o",
                    str(out),
                    "--syncnet-weights",
                    str(SHARED / "weights/test/syncnet_parity_test.model"),
                    *opts,
                ]
                t0 = time.perf_counter()
                subprocess.run(
                    cmd, check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL
                )
                times[name].append(time.perf_counter() - t0)
                print(f"round {r}: {name}: {times[name][-1]:.1f} s", flush=True)
    base = statistics.median(times["1 process, default threads"])
    print(f"\n{len(CLIPS)} clips, --recipe direct, {args.rounds} alternating rounds (medians)\n")
    print("| configuration | wall s | vs default |")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        m = statistics.median(values)
        print(f"| {name} | {m:.1f} | {base / m:.2f}x |")
    print(f"\n{cpu_line()}")


if __name__ == "__main__":
    main()
