#!/usr/bin/env python3
"""Engine benchmark: clips/s of the local engine and of the Ray engine with 1 and 2 actors on
the same inputs, measured in the same run (ratios against the local engine), and the CPU cost
per second of video of each recipe, for sizing a cluster (README, "Scaling out with Ray").

On one small machine expect parity, not a speed-up: the Ray engine is for clusters, and here
its actors share the cores the local engine uses alone. Ray runs on loopback.

    python scripts/bench_engine.py                    # 8 copies of a 224x224 clip, direct
    python scripts/bench_engine.py --clips 16 --file ../shared/media/syncnet_example.avi
    python scripts/bench_engine.py --cost             # CPU s per video s, every recipe
    python scripts/bench_engine.py --throughput --device cuda --streams 8   # windows/s, RTF

``--throughput`` measures SyncNet windows/s (lip + audio) without decoding: K synthetic
224x224 videos embedded one at a time (the plain embedder), then at once through the GPU
throughput mode's shared forward passes (``--streams K``), fp32. RTF = windows/s / 25 (one
window per frame of 25 fps video: seconds of video embedded per wall second).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import platform
import resource
import shutil
import sys
import tempfile
import time

import torch

from syncnet_eval.config import PipelineConfig, ScoreConfig
from syncnet_eval.decode import probe_media
from syncnet_eval.engines import create_executor
from syncnet_eval.engines.plan import BatchConfig, RunHooks
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.inputs import BatchInput

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MEDIA = SHARED / "media"
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"
# (file, recipe) measured by --cost; the pipeline uses HOG: the parity S3FD weights find no
# faces, and the official ones cannot be downloaded here (see docs/benchmarks.md).
COST_JOBS = [
    ("syncnet_example.avi", "direct"),
    ("hdtf_WDA_KatieHill_000.mp4", "wav2lip-lrs"),
    ("hdtf_WDA_KatieHill_000.mp4", "syncnet-pipeline"),
    ("latentsync_demo1_video.mp4", "syncnet-pipeline"),
]


@dataclass(frozen=True)
class Row:
    engine: str
    wall_s: float
    clips: int
    ok: int


def _cpu_s() -> float:
    """CPU seconds of this process and of its waited-for children (ffmpeg), user + system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _config(recipe: str, weights: Path) -> BatchConfig:
    return BatchConfig(
        recipe=recipe,
        score_config=ScoreConfig(device="cpu"),
        pipeline_config=PipelineConfig(detector="hog"),
        syncnet_weights=weights,
    )


def measure_cost(weights: Path) -> None:
    """CPU seconds per second of video, per recipe (the local engine, in this process)."""
    print("| file | recipe | size | video s | wall s | CPU s | CPU s per video s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name, recipe in COST_JOBS:
        path = MEDIA / name
        info = probe_media(path)
        config = _config(recipe, weights)
        run_inputs(
            [BatchInput(path=path, id=name)], config, hooks=RunHooks(download_progress=False)
        )  # warm-up
        cpu0, t0 = _cpu_s(), time.perf_counter()
        out = run_inputs(
            [BatchInput(path=path, id=name)], config, hooks=RunHooks(download_progress=False)
        )
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        assert out.records[0].result.ok, out.records[0].result.reason
        video_s = info.duration_s or 0.0
        print(
            f"| {name} | {recipe} | {info.width}x{info.height} | {video_s:.1f} | {wall:.1f} | "
            f"{cpu:.1f} | {cpu / video_s:.2f} |"
        )


def _copies(source: Path, n: int, directory: Path) -> list[BatchInput]:
    items = []
    for k in range(n):
        dst = directory / f"clip{k:03d}{source.suffix}"
        shutil.copy2(source, dst)
        items.append(BatchInput(path=dst, id=dst.name))
    return items


def _start_ray(cores: int) -> object:
    from syncnet_eval.engines.ray import import_ray

    ray = import_ray(local=True)  # on loopback
    ray.init(
        num_cpus=cores,
        include_dashboard=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    return ray


def measure_engines(source: Path, clips: int, recipe: str, weights: Path) -> list[Row]:
    from syncnet_eval.engines.ray import RayConfig

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    config = _config(recipe, weights)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = _copies(source, clips, Path(tmp))
        t0 = time.perf_counter()
        out = run_inputs(items, config, hooks=RunHooks(download_progress=False))
        rows.append(
            Row(
                "local (1 process, all cores)",
                time.perf_counter() - t0,
                clips,
                sum(r.result.ok for r in out.records),
            )
        )
        ray = _start_ray(cores)
        try:
            for actors in (1, 2):
                ray_config = RayConfig(actors=actors, cpus_per_actor=max(1.0, cores / actors))
                t0 = time.perf_counter()
                out = run_inputs(
                    items,
                    config,
                    executor=create_executor("ray", ray_config),
                    hooks=RunHooks(download_progress=False),
                )
                rows.append(
                    Row(
                        f"ray, {actors} actor{'s' * (actors > 1)} (incl. actor start)",
                        time.perf_counter() - t0,
                        clips,
                        sum(r.result.ok for r in out.records),
                    )
                )
        finally:
            ray.shutdown()  # type: ignore[attr-defined]
        # The baseline again: on a shared machine, load drifts during a run.
        t0 = time.perf_counter()
        out = run_inputs(items, config, hooks=RunHooks(download_progress=False))
        rows.append(
            Row(
                "local again (drift check)",
                time.perf_counter() - t0,
                clips,
                sum(r.result.ok for r in out.records),
            )
        )
    return rows


def measure_throughput(
    weights: Path, device_name: str, streams: int, frames: int, batch_size: int
) -> None:
    """Windows/s of one video at a time vs ``streams`` at once sharing passes (no decoding)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from syncnet_eval.embed import BatchedEmbedder, SyncNetEmbedder
    from syncnet_eval.models.state import load_state_dict
    from syncnet_eval.models.syncnet import SyncNet, load_syncnet_state

    device = torch.device(device_name)
    model = SyncNet()
    load_syncnet_state(model, load_state_dict(weights), str(weights))
    rng = np.random.default_rng(0)
    videos = [
        (
            rng.integers(0, 256, (frames, 224, 224, 3), dtype=np.uint8),
            rng.standard_normal((4 * frames, 13)).astype(np.float32),
        )
        for _ in range(streams)
    ]

    def embed(embedder: SyncNetEmbedder, video: tuple[np.ndarray, np.ndarray]) -> int:
        chunks = (video[0][i : i + 64] for i in range(0, frames, 64))  # the decoder's chunks
        lips = embedder.embed_lips(chunks)
        embedder.embed_audio(video[1], lips.shape[0])
        return int(lips.shape[0])

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    alone = SyncNetEmbedder(model, device, batch_size)
    embed(alone, videos[0])  # warm-up
    sync()
    t0 = time.perf_counter()
    windows = sum(embed(alone, v) for v in videos)
    sync()
    t_alone = time.perf_counter() - t0
    shared = BatchedEmbedder(model, device, batch_size)

    def one(video: tuple[np.ndarray, np.ndarray]) -> int:
        with shared.stream():
            return embed(shared, video)

    with shared, ThreadPoolExecutor(streams) as pool:
        list(pool.map(one, videos[:1]))  # warm-up
        passes0 = shared.forward_passes
        sync()
        t0 = time.perf_counter()
        list(pool.map(one, videos))
        sync()
        t_shared = time.perf_counter() - t0
        per_pass = 2 * windows / max(1, shared.forward_passes - passes0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"\n{streams} videos x {frames} frames (224x224), batch {batch_size}, fp32, "
        f"{device} ({name or 'cpu'})\n"
    )
    print("| mode | windows | wall s | windows/s | RTF (video s per wall s) | vs one at a time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, secs in (
        ("one video at a time", t_alone),
        (f"{streams} streams sharing passes ({per_pass:.0f} windows/pass)", t_shared),
    ):
        rate = windows / secs
        print(
            f"| {label} | {windows} | {secs:.2f} | {rate:.0f} | {rate / 25:.1f} | "
            f"{t_alone / secs:.2f}x |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=MEDIA / "hallo_gufeng1_libai_224.mp4")
    ap.add_argument("--clips", type=int, default=8, help="copies of --file scored per engine")
    ap.add_argument("--recipe", default="direct")
    ap.add_argument("--weights", type=Path, default=PARITY_SYNCNET)
    ap.add_argument("--cost", action="store_true", help="CPU s per video s per recipe instead")
    ap.add_argument("--throughput", action="store_true", help="windows/s and RTF instead")
    ap.add_argument("--device", default="cpu", help="--throughput: cpu, cuda, cuda:N")
    ap.add_argument("--streams", type=int, default=4, help="--throughput: videos at once")
    ap.add_argument("--frames", type=int, default=200, help="--throughput: frames per video")
    ap.add_argument("--batch-size", type=int, default=64, help="--throughput: windows per pass")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {sys.version.split()[0]}"
    )
    if args.cost:
        measure_cost(args.weights)
        return
    if args.throughput:
        measure_throughput(args.weights, args.device, args.streams, args.frames, args.batch_size)
        return
    video_s = probe_media(args.file).duration_s or 0.0
    rows = measure_engines(args.file, args.clips, args.recipe, args.weights)
    import ray

    base = rows[0].clips / rows[0].wall_s  # the first local run
    print(
        f"\n{args.clips} x {args.file.name} ({video_s:.1f} s, --recipe {args.recipe}), "
        f"Ray {ray.__version__}\n"
    )
    print("| engine | clips | ok | wall s | clips/s | video s per wall s | vs local |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        rate = r.clips / r.wall_s
        print(
            f"| {r.engine} | {r.clips} | {r.ok} | {r.wall_s:.1f} | {rate:.3f} | "
            f"{rate * video_s:.2f} | {rate / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
