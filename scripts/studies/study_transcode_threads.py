"""Study: do the pipeline recipe's numbers depend on the encoder threads of its 25 fps transcode?

The reference runs ``ffmpeg -i INPUT -qscale:v 2 -async 1 -r 25 video.avi`` without ``-threads``,
so ffmpeg picks its default (cores + 1), and the mpeg4 encoder cuts each frame into one slice
per thread. This script scores four full-pipeline goldens (their detections injected) with the
transcode's encoder threads set to each value given and prints the largest deviation from the
goldens.

    python scripts/studies/study_transcode_threads.py 3 1 17

Result (2026-11-30, 2-core machine): 3 threads (a 2-core machine's default) 3.8e-6; 1 thread
1.0e-3; 17 threads (a 16-core machine's default) 1.0e-3 - ten times the parity tests' 1e-4, so
the numbers of an unpinned transcode depend on the machine. ``decode.TRANSCODE_THREADS`` pins 3.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

import numpy as np

from syncnet_eval import ScoreConfig, SyncPipeline
import syncnet_eval.decode as decode
from syncnet_eval.io import load_detections

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
STEMS = ("hdtf_WDA_KatieHill_000", "syncnet_example", "latentsync_demo1_video", "retalking_face_2")


def main() -> None:
    weights = SHARED / "weights" / "test" / "syncnet_parity_test.model"
    pipe = SyncPipeline(ScoreConfig(device="cpu"), syncnet_weights=weights, offline=True)
    for threads in sys.argv[1:] or ["3", "1", "17"]:
        decode.TRANSCODE_THREADS = threads
        worst, offsets = 0.0, True
        for stem in STEMS:
            golden = json.loads((SHARED / "reference" / f"{stem}.full.json").read_text())
            dets = load_detections(SHARED / "reference" / "detections" / f"{stem}.json")
            result = pipe.evaluate(SHARED / "media" / golden["video"], detections=dets)
            for track, gold in zip(result.tracks, golden["result"]["tracks"], strict=True):
                curve = np.abs(np.array(track.dist_by_shift) - gold["mean_dist_by_shift"])
                worst = max(worst, abs(track.lse_d - gold["min_dist"]), float(curve.max()))
                offsets &= track.av_offset == gold["av_offset"]
        print(f"threads {threads}: largest deviation {worst:.3g}, offsets equal: {offsets}")


if __name__ == "__main__":
    main()
