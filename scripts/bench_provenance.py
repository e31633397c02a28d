#!/usr/bin/env python3
"""What codec provenance and reference bands cost a ``score`` that does not ask for a band.

Codec provenance runs on every input: ``decode.probe_media`` reads six more stream attributes
from the container it already has open. Measured in the same run: one whole probe (the
baseline) against those six reads alone, on the shared media. Reference bands cost nothing
without ``--dataset`` but the summary's look for records with a band: timed against the whole
summary of the same records.

    python scripts/bench_provenance.py --repeats 200 --records 10000
"""

from __future__ import annotations

import argparse
from pathlib import Path
import time
from typing import Any

import av

from syncnet_eval import ffmpeg
from syncnet_eval.decode import probe_media
from syncnet_eval.stats import dataset_summaries, summarize
from syncnet_eval.types import TrackResult, VideoResult

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
FILES = ("syncnet_example.avi", "hdtf_WDA_KatieHill_000.mp4", "latentsync_demo1_video.mp4")


def _best(fn: Any, repeats: int) -> float:
    """Best of ``repeats`` wall times (seconds): the least disturbed by other processes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _added_reads(container: Any) -> None:
    """The six attributes probe_media reads for codec provenance (as it reads them)."""
    v = container.streams.video[0]
    a = container.streams.audio[0] if container.streams.audio else None
    for stream in (v, a):
        if stream is not None:
            _ = stream.codec_context.profile, stream.codec_context.bit_rate
    _ = v.codec_context.pix_fmt, container.format.name


def _records(n: int) -> list[VideoResult]:
    track = TrackResult(0, 0, 124, 1, 7.0, 6.0, 120, [7.0] * 31, [6.0] * 120)
    prov = {"input_video_codec": "h264", "input_video_bit_rate": 1_000_000, "input_fps": 25.0}
    return [
        VideoResult(
            f"v{k}.mp4",
            "ok",
            None,
            "direct",
            av_offset=1,
            lse_d=7.0 + k % 7 / 10,
            lse_c=6.0,
            tracks=[track],
            provenance=prov,
            id=f"v{k}",
        )
        for k in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    print("| file | probe_media ms (baseline) | added reads ms | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in FILES:
        path = MEDIA / name
        if not path.is_file():
            continue
        probe = _best(lambda p=path: probe_media(p), args.repeats)
        with av.open(ffmpeg.file_url(path)) as container:
            added = _best(lambda c=container: _added_reads(c), args.repeats)
        print(f"| {name} | {probe * 1e3:.3f} | {added * 1e3:.4f} | {added / probe:.2%} |")
    records = _records(args.records)
    whole = _best(lambda: summarize(records), 3)
    grouping = _best(lambda: dataset_summaries(records), 3)
    print()
    print(f"| {args.records} records, no band | baseline s | added s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| summary (grouping by dataset) | {whole:.3f} | {grouping:.4f} | {grouping / whole:.2%} |"
    )


if __name__ == "__main__":
    main()
