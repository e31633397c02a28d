"""Study: how many windows does a clip need before LSE-C / LSE-D stop depending on its length?

The offset search pairs video window i with audio window i + k - vshift and keeps the pairs that
fall beyond the audio's ends, against zero vectors (REFERENCE_PIPELINE.md 7.3). In a clip of N
windows, shift k has |k - vshift| of its N pairs padded; the median of the 31 mean distances
(which LSE-C subtracts the minimum from) comes from shifts with about vshift / 2 padded pairs, so
short clips get an inflated median and LSE-C. This script embeds each shared clip once, then
scores windows [s, s + N) for several lengths N and starts s (a cut of the clip, as a short
clip would be scored: audio windows depend only on their own MFCC columns), and prints how far
LSE-C and LSE-D move from the whole clip's values.

    python scripts/studies/study_few_windows.py [--weights FILE] [--lengths 7,15,...]

It prints a Markdown table: N, seconds, the share of the median shift's pairs that are padded,
and over all clips and starts the median LSE-C of the cuts (and LSE-C x N), the median
relative change of LSE-C and LSE-D against the whole clip, and how often the offset agrees. The
threshold of the ``few_windows`` flag (syncnet_eval/reliability.py) was chosen from its output.

Result with the parity-test weights (2026-11-30, 24 clips): their distance curve is all padding,
so LSE-C of a cut is about 950 / N whatever the clip (LSE-C x N is 830-960 from 7 to 200
windows): 119 at 7 windows (0.5 s), 21 at 45 (2 s), 9.6 at 100 (4.2 s); LSE-D moves ~1 %
(median) and the offset never changes. The padding alone reaches a well-synced clip's whole
LSE-C (10.0 for the demo clip with the official weights) at about 100 windows: ``few_windows``
is N < 100.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.audio import mfcc
from syncnet_eval.decode import iter_frames, read_audio
from syncnet_eval.embed import num_windows
from syncnet_eval.recipes.whole_frame import resize_224
from syncnet_eval.scoring import score_offsets

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def embeddings(pipe: SyncPipeline, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """All (lip, audio) window embeddings of a clip, wav2lip-lrs style (224x224 frames)."""
    audio = read_audio(path)
    frames = [resize_224(c) for c in iter_frames(path)]
    n_frames = sum(len(c) for c in frames)
    n = num_windows(n_frames, audio.size)
    lips = pipe.embedder.embed_lips(frames)[:n]
    return lips, pipe.embedder.embed_audio(mfcc(audio), n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", type=Path, default=SHARED / "weights" / "test" / "syncnet_parity_test.model"
    )
    parser.add_argument("--lengths", default="7,15,22,31,45,60,75,100,125,150,200")
    parser.add_argument("--vshift", type=int, default=15)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    pipe = SyncPipeline(ScoreConfig(device="cpu"), syncnet_weights=args.weights, offline=True)
    clips = sorted((SHARED / "media").glob("*"))
    rows: dict[int, list[tuple[float, float, bool, float]]] = {n: [] for n in lengths}
    for clip in clips:
        lips, auds = embeddings(pipe, clip)
        full = score_offsets(lips, auds, args.vshift)
        print(
            f"{clip.name}: {lips.shape[0]} windows, LSE-C {full.lse_c:.3f}, LSE-D {full.lse_d:.3f}"
        )
        for n in lengths:
            if n > lips.shape[0] // 2:
                continue
            for s in np.linspace(0, lips.shape[0] - n, 4).astype(int):
                part = score_offsets(lips[s : s + n], auds[s : s + n], args.vshift)
                rows[n].append(
                    (
                        abs(part.lse_c - full.lse_c) / full.lse_c,
                        abs(part.lse_d - full.lse_d) / full.lse_d,
                        part.av_offset == full.av_offset,
                        part.lse_c,
                    )
                )
    median_shift = -(-args.vshift // 2)
    print(
        "\n| windows N | seconds | median shift padded | cuts | LSE-C median | LSE-C x N | "
        "LSE-C rel. error median | LSE-D rel. error median | 90th pct | offset agrees |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in lengths:
        if not rows[n]:
            continue
        c, d, o, lse_c = (np.array(v) for v in zip(*rows[n], strict=True))
        print(
            f"| {n} | {(n + 5) / 25:.2f} | {median_shift / n:.0%} | {len(c)} | "
            f"{np.median(lse_c):.2f} | {np.median(lse_c) * n:.0f} | {np.median(c):.0%} | "
            f"{np.median(d):.1%} | {np.percentile(d, 90):.1%} | {o.mean():.0%} |"
        )


if __name__ == "__main__":
    main()
