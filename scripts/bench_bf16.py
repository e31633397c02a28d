#!/usr/bin/env python3
"""``--precision bf16`` on a CPU: SyncNet network-stage speed against fp32, and how far it moves
the numbers on the shared goldens.

    python scripts/bench_bf16.py --repeats 7     # speed: fp32 / bf16 autocast / bf16 packed
    python scripts/bench_bf16.py --goldens       # deviation table (bf16 vs the fp32 goldens)

Speed: the lip stream on 128 windows of 224x224 frames (built from uint8 frames, as
``embed_lips`` does) plus the audio stream on 128 MFCC windows, batches of 64. The modes run in
turn, round after round, so a load that comes and goes on a shared machine hits each alike;
the table gives medians of wall and process-CPU seconds and the ratio against fp32 measured in
the same run. "bf16 autocast" is the path ``--precision bf16`` took before (fp32 weights under
``torch.autocast``), kept callable here as a baseline.

The speed-up needs AMX (Intel Xeon Sapphire Rapids and later): the script says whether the CPU
has it. ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` (or ``AVX512_CORE``) in the environment shows
what a CPU without AMX (or without any bf16 instructions) gets on the same machine.

Deviation: every golden in ../shared/reference (direct, wav2lip-lrs and the full pipeline with
the reference's detections injected) scored in bf16 and compared with the golden, which our
fp32 path matches to 1e-4 (``scripts/parity_report.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import json
import os
from pathlib import Path
import platform
import statistics
import time

import numpy as np
import torch

from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline
from syncnet_eval.embed import SyncNetEmbedder, amx_available
from syncnet_eval.io import load_detections
from syncnet_eval.models.syncnet import SyncNet

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REF = SHARED / "reference"


def cpu_line() -> str:
    """CPU model, AMX/bf16 flags, oneDNN ISA cap, torch threads and the load average."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "unset")
    return (
        f"{model}, {os.cpu_count()} cores, AMX {'yes' if amx_available() else 'NO'}, "
        f"avx512_bf16 {torch.cpu._is_avx512_bf16_supported()}, ONEDNN_MAX_CPU_ISA={isa}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"load average {load[0]:.1f}"
    )


def _autocast_embedder(model: SyncNet) -> SyncNetEmbedder:
    """The former bf16 path: fp32 weights under autocast, fp32 windows."""
    emb = SyncNetEmbedder(model, torch.device("cpu"), precision="bf16")
    emb._bf16_cpu = False  # the autocast branch of _lip_forward/_audio_forward
    return emb


def bench_speed(repeats: int, windows: int) -> None:
    torch.manual_seed(0)
    model = SyncNet().eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (windows + 4, 224, 224, 3), dtype=np.uint8)
    mfcc = rng.standard_normal((4 * windows + 20, 13)).astype(np.float32)
    modes: dict[str, SyncNetEmbedder] = {
        "fp32": SyncNetEmbedder(model, torch.device("cpu")),
        "bf16 autocast (before)": _autocast_embedder(model),
        "bf16 packed (now)": SyncNetEmbedder(model, torch.device("cpu"), precision="bf16"),
    }

    def stage(emb: SyncNetEmbedder) -> Callable[[], None]:
        def run() -> None:
            emb.embed_lips([frames])
            emb.embed_audio(mfcc, windows)

        return run

    print(cpu_line())
    if not amx_available() or "ONEDNN_MAX_CPU_ISA" in os.environ:
        print("No AMX here (or oneDNN capped below it): bf16 is not expected to beat fp32.")
    wall: dict[str, list[float]] = {k: [] for k in modes}
    cpu: dict[str, list[float]] = {k: [] for k in modes}
    for emb in modes.values():  # warm-up: weight packing, oneDNN primitive cache
        stage(emb)()
    for _ in range(repeats):
        for name, emb in modes.items():
            c0, t0 = time.process_time(), time.perf_counter()
            stage(emb)()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    base_w, base_c = statistics.median(wall["fp32"]), statistics.median(cpu["fp32"])
    print(
        f"\nSyncNet network stage, {windows} lip + {windows} audio windows, 224x224, "
        f"batch 64, {repeats} alternating rounds (medians)\n"
    )
    print("| mode | wall s | speed-up (wall) | CPU s | speed-up (CPU) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in modes:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"| {name} | {w:.2f} | {base_w / w:.2f}x | {c:.2f} | {base_c / c:.2f}x |")
    print(f"\n{cpu_line()}")


def bench_goldens(weights: Path) -> None:
    print(cpu_line())
    pipe = SyncPipeline(
        ScoreConfig(device="cpu", precision="bf16"),
        PipelineConfig(),
        syncnet_weights=weights,
        offline=True,
        progress=False,
    )
    recipe_of = {"direct": "direct", "direct224": "wav2lip-lrs", "full": "syncnet-pipeline"}
    print("\n| golden | tracks | max abs dLSE-D | max abs dLSE-C | offsets changed |")
    print("| --- | ---: | ---: | ---: | ---: |")
    worst_d = worst_c = 0.0
    changed = total = 0
    for kind in recipe_of:
        for golden_path in sorted(REF.glob(f"*.{kind}.json")):
            golden = json.loads(golden_path.read_text())
            gold = golden["result"]
            stem = golden_path.name.removesuffix(f".{kind}.json")
            dets = load_detections(REF / "detections" / f"{stem}.json") if kind == "full" else None
            r = pipe.evaluate(SHARED / "media" / golden["video"], recipe_of[kind], detections=dets)
            golds = gold["tracks"] if kind == "full" else [gold]
            d = c = 0.0
            moved = 0
            for t, g in zip(r.tracks, golds, strict=False):
                d = max(d, abs(t.lse_d - g["min_dist"]))
                c = max(c, abs(t.lse_c - g["confidence"]))
                moved += t.av_offset != g["av_offset"]
            n = min(len(r.tracks), len(golds))
            if len(r.tracks) != len(golds):
                print(
                    f"| {golden_path.name} | {len(r.tracks)} vs {len(golds)} (status "
                    f"{r.status}) | - | - | - |",
                    flush=True,
                )
                continue
            worst_d, worst_c = max(worst_d, d), max(worst_c, c)
            changed, total = changed + moved, total + n
            print(f"| {golden_path.name} | {n} | {d:.4f} | {c:.4f} | {moved} |", flush=True)
    print(
        f"\nall goldens: max |dLSE-D| {worst_d:.4f}, max |dLSE-C| {worst_c:.4f}, "
        f"offsets changed {changed} of {total} tracks"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--windows", type=int, default=128)
    ap.add_argument("--goldens", action="store_true", help="print the deviation table instead")
    ap.add_argument(
        "--weights", type=Path, default=SHARED / "weights/test/syncnet_parity_test.model"
    )
    args = ap.parse_args()
    if args.goldens:
        bench_goldens(args.weights)
    else:
        bench_speed(args.repeats, args.windows)


if __name__ == "__main__":
    main()
