#!/usr/bin/env python3
"""S3FD time per frame outside the convolutions, before and after, measured in one run.

    python scripts/bench_s3fd.py --repeats 5

"before" is the former path, kept callable here: an NCHW-contiguous network input (the old
``preprocess_frames`` transposing copy) into a network in the default memory format, so that
oneDNN reorders every activation into its blocked layout and back around each convolution and
each ReLU is a separate pass. "after" is ``S3FDDetector.detect``: channels-last input and
network, each convolution with its ReLU fused. Frames are 8-frame batches of real frames at the
reference's 0.25 scale, from a 512x512 and a 1920x1080 clip of ../shared/media. Each mode runs
under torch.profiler in turn, round after round; "conv" is the time of the convolution
operators themselves (with the fused ReLU in "after"), "non-conv" is everything else of
``detect`` (resize, normalisation, layout reorders, ReLU, pooling, L2Norm, heads, priors,
decoding, NMS). Medians per frame and the ratio; the largest difference between the two paths'
raw detections and the S3FD parity goldens' deviation are printed too.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
import statistics
import sys
import time

import cv2
import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from syncnet_eval.faces import s3fd
from syncnet_eval.faces.s3fd import S3FDDetector, S3FDNet, load_s3fd_state

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bf16 import cpu_line  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CLIPS = ("hdtf_WDA_KatieHill_000.mp4", "latentsync_demo1_video.mp4")
CONV_OPS = ("aten::mkldnn_convolution", "mkldnn::_convolution_pointwise")


def read_frames(path: Path, n: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return np.stack(frames)


def detect_before(det: S3FDDetector, net: S3FDNet, frames: np.ndarray) -> torch.Tensor:
    """The former network stage: NCHW-contiguous input, default-format network."""
    batch = s3fd.preprocess_frames(frames, det.facedet_scale).contiguous()
    boxes, face_prob = s3fd._run_network(net, batch, det.device)
    out = []
    for n in range(boxes.shape[0]):  # the post-processing is shared by both paths
        kept_boxes, kept_scores = s3fd._first_stage(boxes[n], face_prob[n], det.conf_threshold)
        out.append(kept_scores)
    return torch.cat((boxes.flatten(), face_prob.flatten()))


def detect_after(det: S3FDDetector, frames: np.ndarray) -> torch.Tensor:
    batch = s3fd.preprocess_frames(frames, det.facedet_scale)
    boxes, face_prob = s3fd._run_network(det.net, batch, det.device)
    for n in range(boxes.shape[0]):
        s3fd._first_stage(boxes[n], face_prob[n], det.conf_threshold)
    return torch.cat((boxes.flatten(), face_prob.flatten()))


def timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(total wall s, conv operator s) of one call, under the profiler."""
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    total = time.perf_counter() - t0
    conv_us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in CONV_OPS)
    return total, conv_us / 1e6


def parity_deviation(det: S3FDDetector) -> float:
    """Largest |raw - golden| over the first 20 face rows of every S3FD parity frame."""
    entries = json.loads((SHARED / "reference/s3fd_parity.json").read_text())["frames"]
    worst = 0.0
    for entry in entries:
        frame = cv2.imread(str(SHARED / entry["png"]), cv2.IMREAD_COLOR)
        det.facedet_scale = entry["detect_faces_scale"]
        raw = det.raw_detections(frame[None])[0, 1, :20].numpy()
        expected = np.array(entry["top20_face_class_rows_score_x1_y1_x2_y2_normalised"])
        worst = max(worst, float(np.abs(raw - expected).max()))
    det.facedet_scale = 0.25
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    state = torch.load(SHARED / "weights/test/sfd_parity_test.pth", map_location="cpu")
    net = S3FDNet()
    load_s3fd_state(net, state)
    before_net = copy.deepcopy(net).eval()  # default (contiguous) memory format
    det = S3FDDetector(net, batch_size=args.frames)  # channels-last on the CPU
    print(cpu_line())
    print(
        f"\nS3FD at scale 0.25, batches of {args.frames} frames, {args.repeats} alternating "
        "rounds; medians in ms per frame\n"
    )
    print("| frames | network input | mode | total | conv | non-conv | non-conv ratio |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    with torch.inference_mode():
        for clip in CLIPS:
            frames = read_frames(SHARED / "media" / clip, args.frames)
            n, h, w = frames.shape[:3]
            b = detect_before(det, before_net, frames)
            a = detect_after(det, frames)
            max_diff = float((a - b).abs().max())
            runs = {
                "before": lambda f=frames: detect_before(det, before_net, f),
                "after": lambda f=frames: detect_after(det, f),
            }
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
            for _ in range(args.repeats):
                for name, fn in runs.items():
                    res[name].append(timed(fn))
            hh, ww = s3fd.scaled_size(h, w, 0.25)
            non_before = statistics.median(t - c for t, c in res["before"]) / n
            for name, values in res.items():
                total = statistics.median(t for t, _ in values) / n
                conv = statistics.median(c for _, c in values) / n
                non = statistics.median(t - c for t, c in values) / n
                print(
                    f"| {w}x{h} | {ww}x{hh} | {name} | {total * 1e3:.0f} | {conv * 1e3:.0f} | "
                    f"{non * 1e3:.0f} | {non_before / non:.2f}x |",
                    flush=True,
                )
            print(
                f"| | | max abs difference after vs before (boxes, probabilities) | "
                f"{max_diff:.1e} | | | |"
            )
    print(f"\nS3FD parity goldens: largest deviation {parity_deviation(det):.1e} (tolerance 1e-4)")
    print(cpu_line())


if __name__ == "__main__":
    main()
