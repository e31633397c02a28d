#!/usr/bin/env python3
"""Peak-memory benchmark: score a long generated 1080p clip and report peak RSS.

Generates an N-minute 1920x1080 25 fps clip with a tone (ffmpeg lavfi, into a temp dir), then
scores it in a child process with the syncnet-pipeline recipe and injected boxes (one
face-sized box per frame, so the benchmark measures the pipeline's memory, not a detector's
speed) and, optionally, with the wav2lip-lrs recipe. Frames stream through bounded chunks, so
peak RSS should not grow with the video's length.

    python scripts/bench_memory.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import resource
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
PARITY_SYNCNET = ROOT.parent / "shared" / "weights" / "test" / "syncnet_parity_test.model"


def make_clip(path: Path, minutes: float) -> None:
    seconds = f"{minutes * 60:.3f}"
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        seconds,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "28",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(path),
    ]
    subprocess.run(cmd, check=True)


def child(args: argparse.Namespace) -> None:
    import numpy as np

    from syncnet_eval import ScoreConfig, SyncPipeline
    from syncnet_eval.allocator import tune_malloc

    tune_malloc()  # as the CLI does

    pipe = SyncPipeline(
        ScoreConfig(device="cpu"), syncnet_weights=args.weights, offline=True, progress=False
    )
    detections = None
    if args.recipe == "syncnet-pipeline":
        n = int(round(args.minutes * 60 * 25)) + 3
        box = np.array([[760.0, 300.0, 1160.0, 760.0, 0.99]])
        detections = [box] * n
    t0 = time.perf_counter()
    result = pipe.evaluate(args.clip, args.recipe, detections=detections, raise_unexpected=True)
    print(
        json.dumps(
            {
                "recipe": args.recipe,
                "status": result.status,
                "reason": result.reason,
                "tracks": len(result.tracks),
                "seconds": time.perf_counter() - t0,
                "timings": result.timings_s,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--recipes", nargs="*", default=["syncnet-pipeline"])
    ap.add_argument("--weights", type=Path, default=PARITY_SYNCNET)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--recipe", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="syncnet-eval-mem-") as tmp:
        clip = Path(tmp) / "long_1080p.mp4"
        t0 = time.perf_counter()
        make_clip(clip, args.minutes)
        print(
            f"generated {args.minutes} min 1920x1080 clip ({clip.stat().st_size / 2**20:.0f} "
            f"MiB) in {time.perf_counter() - t0:.0f} s"
        )
        print("| recipe | minutes | status | tracks | seconds | peak RSS MiB |")
        print("| --- | ---: | --- | ---: | ---: | ---: |")
        for recipe in args.recipes:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--clip",
                    str(clip),
                    "--recipe",
                    recipe,
                    "--minutes",
                    str(args.minutes),
                    "--weights",
                    str(args.weights),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                raise SystemExit(out.stderr[-3000:])
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {recipe} | {args.minutes:g} | {r['status']} | {r['tracks']} | "
                f"{r['seconds']:.0f} | {r['peak_rss_mib']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
