"""What the paper's row costs over ``score`` alone: each measure per video and per set, same run.

Usage:
    python scripts/bench_row.py [GENERATED REFERENCE ...] [--recipe direct] [--repeats 3]
        [--syncnet-weights FILE] [--device cpu|cuda|auto] [--stand-ins]
        [--fid-model inception] [--fvd-model i3d] [--lpips-model alex] [--csim-model dlib]

Per pair (default: two constructed pairs of shared media, a clip against a blurred copy of
itself), the same scorer (models loaded once) runs alternately

- ``score`` alone: SyncNet's recipe on the generated video (``SyncPipeline.evaluate``), and
- the row: the same, then :meth:`syncnet_eval.row.RowParts.complete` (one decode of the pair
  feeding LMD-less PSNR/SSIM and every model measure).

Each measure's own seconds come from the record's ``timings_s`` (the row charges each model's
work to a stage of its name; ``landmarks`` is the shared decode with PSNR and SSIM), and the set
values (FID, FVD) are timed over the records' features files. The table prints medians and
each cost as a ratio of ``score`` alone on the same pair. ``--stand-ins`` registers models
defined here (per-frame colour statistics; no published weights needed: the plumbing's cost,
not a network's) in place of the published ones; without it, the named models must be
installed with their weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from syncnet_eval import ScoreConfig, SyncPipeline, __version__
from syncnet_eval.config import LmdConfig, RowConfig
from syncnet_eval.errors import DependencyError
from syncnet_eval.extractors import ExtractorSpec, register_extractor
from syncnet_eval.row import RowParts, fid_of_set, fvd_of_set

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"
ROLES = ("lpips", "csim", "fid", "fvd")


class _Stats:
    """Stand-in: per frame [mean grey, grey std, mean |dx|] (the fid and csim roles)."""

    dim = 3
    name = "stand-in"
    clip_length, stride = 16, 1

    def __init__(self, weights: Path | None = None, device: str = "cpu", **_: Any) -> None:
        self.protocol = {"network": "bench stand-in (colour statistics)"}

    def features(self, frames: np.ndarray) -> np.ndarray:
        if frames.ndim == 5:  # clips
            return np.stack([self.features(c).mean(axis=0) for c in frames])
        grey = frames.astype(np.float64).mean(axis=3)
        dx = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))
        return np.stack([grey.mean(axis=(1, 2)), grey.std(axis=(1, 2)), dx], axis=1)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(a.astype(np.float64) - b).reshape(len(a), -1).mean(axis=1))

    def embed(self, frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        rows = self.features(frames) + 1.0
        return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))

    def csim(self, embeddings: np.ndarray, identity: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings @ identity)


def _stand_ins() -> dict[str, str]:
    for role in ROLES:
        register_extractor(ExtractorSpec(f"stand-in-{role}", role, "bench", "__main__:_Stats"))  # type: ignore[arg-type]
    return {role: f"stand-in-{role}" for role in ROLES}


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    made = []
    for name in ("syncnet_example.avi", "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4"):
        ref, gen = folder / f"{Path(name).stem}.mkv", folder / f"{Path(name).stem}_blur.mkv"
        for dst, vf in ((ref, []), (gen, ["-vf", "gblur=sigma=2"])):
            cmd = [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(SHARED / "media" / name),
            ]
            cmd += ["-t", "4", *vf, "-c:v", "ffv1", "-c:a", "pcm_s16le", str(dst)]
            subprocess.run(cmd, check=True)
        made.append((gen, ref))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="GENERATED REFERENCE pairs")
    parser.add_argument("--recipe", default="direct")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--syncnet-weights", type=Path, default=PARITY_SYNCNET)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stand-ins", action="store_true")
    for role, default in (
        ("fid", "inception"),
        ("fvd", "i3d"),
        ("lpips", "alex"),
        ("csim", "dlib"),
    ):
        parser.add_argument(f"--{role}-model", default=default)
    args = parser.parse_args()
    if len(args.files) % 2:
        parser.error("give GENERATED REFERENCE pairs")
    models = _stand_ins() if args.stand_ins else {r: getattr(args, f"{r}_model") for r in ROLES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pairs = list(zip(args.files[::2], args.files[1::2], strict=True)) or _pairs(folder)
        config = RowConfig(ROLES, *(models[r] for r in ("fid", "fvd", "lpips", "csim")))
        pipe = SyncPipeline(ScoreConfig(device=args.device), syncnet_weights=args.syncnet_weights)
        parts = RowParts(config, LmdConfig(), str(pipe.device), folder / "features")
        print(
            f"syncnet-eval {__version__}, Python {platform.python_version()}, {platform.machine()}"
        )
        print(
            f"device {pipe.device}, recipe {args.recipe}, models {models}, {args.repeats} repeats"
        )
        rows = []
        records = []
        for gen, ref in pairs:
            alone, row_total, stage = [], [], {r: [] for r in (*ROLES, "landmarks")}
            for k in range(args.repeats):
                t0 = time.perf_counter()
                scored = pipe.evaluate(gen, args.recipe)
                alone.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                done = parts.complete(pipe.evaluate(gen, args.recipe), ref, f"{gen.stem}-{k}")
                row_total.append(time.perf_counter() - t0)
                if not (scored.ok and done.ok):
                    sys.exit(f"{gen}: {done.status}: {done.reason}")
                for name in stage:
                    stage[name].append(done.timings_s.get(name, 0.0))
            records.append(done)
            base = statistics.median(alone)
            rows.append(
                (
                    gen.name,
                    base,
                    statistics.median(row_total),
                    {n: statistics.median(v) for n, v in stage.items()},
                )
            )
        print(f"\n{'pair':44} {'score s':>8} {'row s':>8} {'x score':>8}  per measure: s (x score)")
        for name, base, total, stage in rows:
            parts_text = "  ".join(f"{n} {s:.3f} ({s / base:.2f}x)" for n, s in stage.items())
            print(f"{name:44} {base:8.3f} {total:8.3f} {total / base:8.2f}  {parts_text}")
        for label, compute in (("fid", fid_of_set), ("fvd", fvd_of_set)):
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                try:
                    compute(records)
                except DependencyError as exc:
                    print(f"set {label}: {exc}")
                    break
                times.append(time.perf_counter() - t0)
            if not times:
                continue
            base = sum(r[1] for r in rows)
            set_s = statistics.median(times)
            print(
                f"set {label} over {len(records)} records: {set_s:.4f} s "
                f"({set_s / base:.4f}x score of the set)"
            )


if __name__ == "__main__":
    main()
