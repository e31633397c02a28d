#!/usr/bin/env python3
"""Scoring-kernel benchmark: batched offset search vs the reference's per-window Python loop.

Prints windows scored per second for both on this machine, measured in the same run, and
their ratio. Both compute the same (N, 2*vshift+1) distance matrix and the same LSE numbers.

    python scripts/bench_scorer.py --windows 3000 --repeats 3
"""

from __future__ import annotations

import argparse
import time

import torch

from syncnet_eval.scoring import score_offsets


def per_window_loop(video: torch.Tensor, audio: torch.Tensor, vshift: int) -> torch.Tensor:
    """The reference's calc_pdist + mean: one pairwise_distance call per video window."""
    win = 2 * vshift + 1
    padded = torch.nn.functional.pad(audio, (0, 0, vshift, vshift))
    dists = [
        torch.nn.functional.pairwise_distance(video[[i], :].repeat(win, 1), padded[i : i + win])
        for i in range(video.shape[0])
    ]
    mdist = torch.stack(dists, 1).mean(1)
    minval, minidx = torch.min(mdist, 0)
    return torch.stack([minval, torch.median(mdist) - minval, vshift - minidx.float()])


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=3000, help="windows per track (3000 = 2 min)")
    ap.add_argument("--vshift", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    gen = torch.Generator().manual_seed(0)
    video = torch.randn(args.windows, 1024, generator=gen).to(args.device)
    audio = torch.randn(args.windows, 1024, generator=gen).to(args.device)

    with torch.inference_mode():
        batched = score_offsets(video, audio, args.vshift)
        ref = per_window_loop(video, audio, args.vshift)
        assert abs(batched.lse_d - float(ref[0])) < 1e-3, "kernels disagree"
        t_batched = _best_time(lambda: score_offsets(video, audio, args.vshift), args.repeats)
        t_loop = _best_time(lambda: per_window_loop(video, audio, args.vshift), args.repeats)

    print(
        f"device {args.device}, {torch.get_num_threads()} threads, {args.windows} windows, "
        f"vshift {args.vshift}"
    )
    print("| kernel | seconds | windows/s |")
    print("| --- | ---: | ---: |")
    print(f"| per-window loop (reference) | {t_loop:.4f} | {args.windows / t_loop:,.0f} |")
    print(f"| batched (syncnet-eval) | {t_batched:.4f} | {args.windows / t_batched:,.0f} |")
    print(f"speed-up: {t_loop / t_batched:.1f}x")


if __name__ == "__main__":
    main()
