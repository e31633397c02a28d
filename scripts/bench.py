#!/usr/bin/env python3
"""Benchmark suite: per-stage seconds, real-time factor, peak RSS, and achieved GFLOP/s of the
SyncNet and S3FD stages next to this machine's own conv/matmul throughput, measured in the same
run. Prints markdown tables (paste into docs/benchmarks.md).

Every file is scored in a child process so its peak RSS is its own.

    python scripts/bench.py                                   # default files, CPU
    python scripts/bench.py --files ../shared/media/hdtf_WDA_KatieHill_000.mp4 --recipe \\
        syncnet-pipeline --detector s3fd --s3fd-weights ../shared/weights/test/sfd_parity_test.pth
    python scripts/bench.py --baselines        # also the per-window / per-frame baselines
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"
PARITY_S3FD = SHARED / "weights" / "test" / "sfd_parity_test.pth"
DEFAULT_JOBS = [
    ("syncnet_example.avi", "direct"),
    ("hdtf_WDA_KatieHill_000.mp4", "wav2lip-lrs"),
    ("hdtf_WDA_KatieHill_000.mp4", "syncnet-pipeline"),
    ("latentsync_demo1_video.mp4", "syncnet-pipeline"),
]


# ----------------------------------------------------------------------------- FLOP counting


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> float:
    """Multiply-adds x 2 of every Conv/Linear layer in one forward pass."""
    total = 0.0

    def hook(mod: nn.Module, _inp, out) -> None:
        nonlocal total
        if isinstance(mod, (nn.Conv2d, nn.Conv3d)):
            k = int(np.prod(mod.kernel_size)) * mod.in_channels // mod.groups
            total += 2.0 * out.numel() * k
        elif isinstance(mod, nn.Linear):
            total += 2.0 * out.numel() * mod.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear))
    ]
    with torch.inference_mode():
        module(*inputs)
    for h in handles:
        h.remove()
    return total


def syncnet_flops_per_window(side: int = 224) -> float:
    from syncnet_eval.models.syncnet import SyncNet

    m = SyncNet().eval()
    lip = count_flops(_Lip(m), torch.zeros(1, 3, 5, side, side))
    aud = count_flops(_Aud(m), torch.zeros(1, 1, 13, 20))
    return lip + aud


class _Lip(nn.Module):
    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.forward_lip(x)


class _Aud(_Lip):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.forward_aud(x)


def s3fd_flops_per_frame(height: int, width: int, scale: float = 0.25) -> float:
    from syncnet_eval.faces.s3fd import S3FDNet, scaled_size

    h, w = scaled_size(height, width, scale)
    return count_flops(S3FDNet().eval(), torch.zeros(1, 3, h, w))


# ----------------------------------------------------------------------------- machine peak


def _best(fn, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def machine_throughput() -> dict[str, float]:
    """GFLOP/s of a large fp32 matmul, a bf16 matmul and a VGG-like fp32 3x3 convolution."""
    out: dict[str, float] = {}
    with torch.inference_mode():
        a = torch.randn(2048, 2048)
        out["matmul_fp32"] = 2 * 2048**3 / _best(lambda: a @ a) / 1e9
        ab = a.bfloat16()
        out["matmul_bf16"] = 2 * 2048**3 / _best(lambda: ab @ ab) / 1e9
        conv = nn.Conv2d(128, 128, 3, padding=1).eval().to(memory_format=torch.channels_last)
        x = torch.randn(8, 128, 112, 112).contiguous(memory_format=torch.channels_last)
        flops = count_flops(conv, x)
        out["conv_fp32"] = flops / _best(lambda: conv(x)) / 1e9
    return out


# ----------------------------------------------------------------------------- one job (child)


def run_job(args: argparse.Namespace) -> dict:
    from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline
    from syncnet_eval.allocator import tune_malloc

    tune_malloc()  # as the CLI does
    from syncnet_eval.decode import probe_media

    path = Path(args.one)
    info = probe_media(path)
    pipe = SyncPipeline(
        ScoreConfig(device=args.device, precision=args.precision),
        PipelineConfig(detector=args.detector, detect_every=args.detect_every),
        syncnet_weights=args.syncnet_weights,
        s3fd_weights=args.s3fd_weights,
        offline=True,
        progress=False,
    )
    if args.redump:  # baseline: the crop pass dumps the q2 JPEGs again (before 2026-11-21)
        from syncnet_eval.decode import JpegCache

        JpegCache.record = lambda self, jpegs: jpegs  # never complete, so never replayed
    detections = None
    if args.detections:
        from syncnet_eval.io import load_detections

        detections = load_detections(Path(args.detections))
    t0 = time.perf_counter()
    result = pipe.evaluate(path, args.recipe, detections=detections, raise_unexpected=True)
    wall = time.perf_counter() - t0
    windows = sum(t.num_windows for t in result.tracks)
    frames = result.provenance.get("num_frames", 0)
    duration = (info.num_frames or frames) / (info.fps or 25.0)
    if args.recipe == "syncnet-pipeline":
        duration = frames / 25.0
    side = 224 if args.recipe != "direct" else int(info.width or 224)
    return {
        "file": path.name,
        "recipe": args.recipe,
        "size": f"{info.width}x{info.height}",
        "status": result.status,
        "video_s": duration,
        "wall_s": wall,
        "timings": result.timings_s,
        "windows": windows,
        "frames": frames,
        "syncnet_gflop": windows * syncnet_flops_per_window(side) / 1e9,
        "s3fd_gflop": (
            frames * s3fd_flops_per_frame(info.height, info.width) / 1e9
            if args.recipe == "syncnet-pipeline" and args.detector == "s3fd" and not args.detections
            else 0.0
        ),
        "lse_d": result.lse_d,
        "lse_c": result.lse_c,
        "av_offset": result.av_offset,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def spawn_job(args: argparse.Namespace, file: Path, recipe: str, **over) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--one",
        str(file),
        "--recipe",
        recipe,
        "--device",
        args.device,
        "--detector",
        over.get("detector", args.detector),
        "--syncnet-weights",
        str(args.syncnet_weights),
        "--precision",
        over.get("precision", args.precision),
        "--detect-every",
        str(over.get("detect_every", args.detect_every)),
    ]
    if args.s3fd_weights:
        cmd += ["--s3fd-weights", str(args.s3fd_weights)]
    if over.get("redump"):
        cmd += ["--redump"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"job failed: {file} {recipe}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- baselines


def baseline_direct(file: Path, weights: Path, batch: int = 1) -> float:
    """A straightforward per-window implementation of the same numbers: JPEG round trip, MFCC,
    the 3D SyncNet on each stacked 5-frame clip (``batch`` windows per pass: 1 = per window, 20 =
    the reference's batches), then a Python loop of pairwise distances per window. Seconds."""
    from syncnet_eval.audio import mfcc
    from syncnet_eval.decode import iter_frames, read_audio
    from syncnet_eval.models.state import load_state_dict
    from syncnet_eval.models.syncnet import SyncNet, load_syncnet_state

    t0 = time.perf_counter()
    model = SyncNet()
    load_syncnet_state(model, load_state_dict(weights), str(weights))
    model.eval()
    frames = np.concatenate(list(iter_frames(file)))
    audio = read_audio(file)
    cc = torch.from_numpy(mfcc(audio).T.copy()).float()
    n = min(len(frames), len(audio) // 640) - 5
    video = torch.from_numpy(frames).float()
    lips, auds = [], []
    with torch.inference_mode():
        for s in range(0, n, batch):
            idx = range(s, min(n, s + batch))
            clips = torch.stack([video[v : v + 5] for v in idx]).permute(0, 4, 1, 2, 3)
            lips.append(model.forward_lip(clips))
            auds.append(
                model.forward_aud(torch.stack([cc[None, :, 4 * v : 4 * v + 20] for v in idx]))
            )
        lip, aud = torch.cat(lips), torch.cat(auds)
        pad = torch.nn.functional.pad(aud, (0, 0, 15, 15))
        dists = [
            torch.nn.functional.pairwise_distance(lip[[i]].repeat(31, 1), pad[i : i + 31])
            for i in range(n)
        ]
        mdist = torch.stack(dists, 1).mean(1)
        _ = float(mdist.min()), float(torch.median(mdist))
    return time.perf_counter() - t0


def baseline_detection(frames: np.ndarray, s3fd_weights: Path) -> tuple[float, float]:
    """Per-frame unbatched S3FD with Python post-processing (as the reference) vs our batched
    detector on the same frames. Returns (baseline seconds, ours seconds)."""
    import cv2

    from syncnet_eval.faces import get_detector
    from syncnet_eval.faces.s3fd import decode_boxes, make_priors, preprocess_frames

    det = get_detector("s3fd", weights=s3fd_weights, device="cpu")
    net = det.net

    def reference_like(frame: np.ndarray) -> list:
        x = preprocess_frames(frame[None], 0.25)
        with torch.inference_mode():
            out = net(x)
        priors = make_priors((x.shape[2], x.shape[3]), out.feature_hw)
        boxes = decode_boxes(out.loc[0], priors).numpy()
        probs = out.face_prob[0].numpy()
        cand = [(float(p), b) for p, b in zip(probs, boxes, strict=True) if p > 0.05]
        cand.sort(key=lambda c: -c[0])
        keep: list = []
        for p, b in cand[:5000]:  # greedy NMS in Python, box by box
            ok = True
            for _, k in keep:
                iw = max(0.0, min(b[2], k[2]) - max(b[0], k[0]))
                ih = max(0.0, min(b[3], k[3]) - max(b[1], k[1]))
                inter = iw * ih
                union = (b[2] - b[0]) * (b[3] - b[1]) + (k[2] - k[0]) * (k[3] - k[1]) - inter
                if union > 0 and inter / union > 0.3:
                    ok = False
                    break
            if ok:
                keep.append((p, b))
            if len(keep) >= 750:
                break
        h, w = frame.shape[:2]
        return [[*(b * [w, h, w, h]), p] for p, b in keep if p > 0.9]

    del cv2
    t0 = time.perf_counter()
    for f in frames:
        reference_like(f)
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    det.detect(frames)
    return t_base, time.perf_counter() - t0


# ----------------------------------------------------------------------------- report


def _table(rows: list[dict], peak: dict[str, float]) -> str:
    stages = ["decode", "scenes", "detection", "tracking_crop", "mfcc", "embeddings", "scoring"]
    head = (
        "| file | recipe | size | video s | "
        + " | ".join(stages)
        + " | total s | RTF | SyncNet GFLOP/s (% conv peak) | S3FD GFLOP/s (% conv peak) "
        "| peak RSS MiB |"
    )
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        t = r["timings"]
        emb = t.get("embeddings", 0.0)
        det = t.get("detection", 0.0)
        sn = r["syncnet_gflop"] / emb if emb else 0.0
        sd = r["s3fd_gflop"] / det if det and r["s3fd_gflop"] else 0.0
        total = t.get("total", r["wall_s"])
        cells = [r["file"], r["recipe"], r["size"], f"{r['video_s']:.1f}"]
        cells += [f"{t[s]:.2f}" if s in t else "-" for s in stages]
        cells += [
            f"{total:.2f}",
            f"{r['video_s'] / total:.2f}",
            f"{sn:.0f} ({100 * sn / peak['conv_fp32']:.0f}%)" if sn else "-",
            f"{sd:.0f} ({100 * sd / peak['conv_fp32']:.0f}%)" if sd else "-",
            f"{r['peak_rss_mib']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", type=Path, help="media files (default: a fixed set)")
    ap.add_argument("--recipe", default=None, help="recipe for --files (default per file)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--detector", default="hog", help="s3fd needs --s3fd-weights here")
    ap.add_argument("--syncnet-weights", type=Path, default=PARITY_SYNCNET)
    ap.add_argument("--s3fd-weights", type=Path, default=None)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--detect-every", type=int, default=1)
    ap.add_argument(
        "--baselines",
        action="store_true",
        help="also time the per-window and per-frame baselines (slow)",
    )
    ap.add_argument(
        "--fast-modes",
        action="store_true",
        help="also report --detect-every 2/5 and bf16 deviations and speed-ups",
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--detections", help=argparse.SUPPRESS)
    ap.add_argument("--redump", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_job(args)))
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}"
    )
    peak = machine_throughput()
    print("\n| measured peak | GFLOP/s |\n| --- | ---: |")
    for k, v in peak.items():
        print(f"| {k} | {v:.0f} |")
    jobs = (
        [(f, args.recipe or "syncnet-pipeline") for f in args.files]
        if args.files
        else [(SHARED / "media" / f, r) for f, r in DEFAULT_JOBS]
    )
    rows = [spawn_job(args, f, r) for f, r in jobs]
    print(
        "\nStages in seconds; decode = time the scorer waited for frames (decoding overlaps "
        "compute); RTF = video seconds per wall second.\n"
    )
    print(_table(rows, peak))

    if args.fast_modes:
        print("\n| file | mode | total s | speed-up | dLSE-D | dLSE-C | offset same |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
        for base in rows:
            f = (
                SHARED / "media" / base["file"]
                if not args.files
                else next(p for p, _ in jobs if p.name == base["file"])
            )
            modes = [("bf16", {"precision": "bf16"})]
            if base["recipe"] == "syncnet-pipeline":
                modes += [
                    ("detect-every 2", {"detect_every": 2}),
                    ("detect-every 5", {"detect_every": 5}),
                ]
            for name, over in modes:
                r = spawn_job(args, f, base["recipe"], **over)
                if r["status"] != "ok" or base["status"] != "ok":
                    print(f"| {base['file']} | {name} | - | - | - | - | status {r['status']} |")
                    continue
                bt, rt = base["timings"]["total"], r["timings"]["total"]
                print(
                    f"| {base['file']} | {name} | {rt:.2f} | {bt / rt:.2f}x | "
                    f"{r['lse_d'] - base['lse_d']:+.4f} | {r['lse_c'] - base['lse_c']:+.4f} | "
                    f"{r['av_offset'] == base['av_offset']} |"
                )

    if args.baselines:
        print(
            "\n| baseline | baseline s | syncnet-eval s | speed-up |\n| --- | ---: | ---: | ---: |"
        )
        demo = SHARED / "media" / "syncnet_example.avi"
        ours = spawn_job(args, demo, "direct")["wall_s"]
        for batch, label in ((1, "per-window, unbatched"), (20, "reference-style, batches of 20")):
            t_base = baseline_direct(demo, args.syncnet_weights, batch)
            print(
                f"| direct recipe, {label} ({demo.name}) | {t_base:.2f} | {ours:.2f} | "
                f"{t_base / ours:.2f}x |"
            )
        from syncnet_eval.decode import iter_frames

        clip = SHARED / "media" / "latentsync_demo1_video.mp4"
        frames = next(iter_frames(clip, chunk_frames=16))
        s3fd = args.s3fd_weights or PARITY_S3FD
        t_b, t_o = baseline_detection(frames, s3fd)
        print(
            f"| S3FD detection, per-frame unbatched + Python NMS ({clip.name}, 16 frames "
            f"1080x1920) | {t_b:.2f} | {t_o:.2f} | {t_b / t_o:.2f}x |"
        )
        for name in ("hdtf_WDA_KatieHill_000.mp4", "latentsync_demo1_video.mp4"):
            f = SHARED / "media" / name
            once = spawn_job(args, f, "syncnet-pipeline", detector="hog")["timings"]
            twice = spawn_job(args, f, "syncnet-pipeline", detector="hog", redump=True)["timings"]
            t_b, t_o = twice["tracking_crop"], once["tracking_crop"]
            print(
                f"| pipeline crop pass dumping the q2 JPEGs a second time ({name}, HOG; "
                f"totals {twice['total']:.1f} vs {once['total']:.1f} s) | {t_b:.2f} | "
                f"{t_o:.2f} | {t_b / t_o:.2f}x |"
            )


if __name__ == "__main__":
    main()
