#!/usr/bin/env python3
"""Largest deviation from the reference goldens (../shared/reference), per file and overall.

python scripts/parity_report.py                 # all recipes
python scripts/parity_report.py --recipes full  # only the full pipeline (injected boxes)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import numpy as np

from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline
from syncnet_eval.io import load_detections

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REF = SHARED / "reference"


def _dev(track, gold: dict) -> float:
    return max(
        abs(track.lse_d - gold["min_dist"]),
        abs(track.lse_c - gold["confidence"]),
        float(np.abs(np.asarray(track.dist_by_shift) - gold["mean_dist_by_shift"]).max()),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="*", default=["direct", "direct224", "full"])
    ap.add_argument(
        "--weights", type=Path, default=SHARED / "weights/test/syncnet_parity_test.model"
    )
    args = ap.parse_args()
    pipe = SyncPipeline(
        ScoreConfig(device="cpu"),
        PipelineConfig(),
        syncnet_weights=args.weights,
        offline=True,
        progress=False,
    )
    recipe_of = {"direct": "direct", "direct224": "wav2lip-lrs", "full": "syncnet-pipeline"}
    print(
        "| golden | offset same | scenes/tracks same | max geometry dev px | max distance dev | s |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: |")
    worst: dict[str, float] = {}
    for kind in args.recipes:
        for golden_path in sorted(REF.glob(f"*.{kind}.json")):
            golden = json.loads(golden_path.read_text())
            gold = golden["result"]
            stem = golden_path.name.removesuffix(f".{kind}.json")
            dets = None
            if kind == "full":
                dets = load_detections(REF / "detections" / f"{stem}.json")
            t0 = time.perf_counter()
            r = pipe.evaluate(SHARED / "media" / golden["video"], recipe_of[kind], detections=dets)
            secs = time.perf_counter() - t0
            golds = gold["tracks"] if kind == "full" else [gold]
            same_struct = len(r.tracks) == len(golds)
            if kind == "full":
                same_struct &= r.scenes == gold["scenes"]
            offsets, dev, geo = True, 0.0, 0.0
            for t, g in zip(r.tracks, golds, strict=False):
                offsets &= t.av_offset == g["av_offset"]
                dev = max(dev, _dev(t, g))
                if kind == "full":
                    same_struct &= (t.first_frame, t.last_frame) == (
                        g["first_frame"],
                        g["last_frame"],
                    )
                    for key in ("smoothed_center_x", "smoothed_center_y", "smoothed_half_size"):
                        geo = max(geo, float(np.abs(np.subtract(getattr(t, key), g[key])).max()))
            worst[kind] = max(worst.get(kind, 0.0), dev)
            note = "" if golds else f" (no track: {r.status})"
            print(
                f"| {golden_path.name}{note} | {offsets} | {same_struct} | {geo:.2g} | "
                f"{dev:.2e} | {secs:.1f} |",
                flush=True,
            )
    for kind, value in worst.items():
        print(f"worst {kind}: {value:.2e}")


if __name__ == "__main__":
    main()
