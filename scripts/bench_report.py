#!/usr/bin/env python3
"""HTML report benchmark: size, build time and opening time for 10,000 generated records.

Generates pipeline-recipe records (4-20 s clips, 1-2 face tracks, scene cuts, failures, flags,
three groups), builds the report, and opens it in headless chromium (Debian's chromium and
chromium-driver, through Selenium). Baselines measured in the same run: the same records as
the JSON results file 'score -o' writes (size and write time), and opening an empty page.
The limits of issue 12: the report stays under 25 MB and opens in under 10 s on 2 cores.

    python scripts/bench_report.py --records 10000
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

from syncnet_eval.io import results_document
from syncnet_eval.report import ReportRun, build_report
from syncnet_eval.stats import summarize
from syncnet_eval.types import TrackResult, VideoResult

MAX_MB = 25.0
MAX_OPEN_S = 10.0
_PROVENANCE = {
    "syncnet_weights": "/root/.cache/syncnet-eval/syncnet_v2.model",
    "syncnet_weights_sha256": "9e6e9b3ab4b4e8e3fbdf0b3d8a2a7c9e1f6b0b9d5c2e3c1d1f4a7e8b2c6d0e1f",
    "syncnet_weights_official": True,
    "device": "cuda:0",
    "recipe": "syncnet-pipeline",
    "tool_version": "0.1.0",
    "torch": "2.13.0",
    "ffmpeg": "ffmpeg version 5.1.6-0+deb12u1",
    "opencv": "4.10.0",
    "python": "3.11.7",
    "score_config": {
        "vshift": 15,
        "batch_size": 64,
        "jpeg_roundtrip": True,
        "device": "auto",
        "fps": None,
        "precision": "fp32",
    },
    "pipeline_config": {
        "detector": "s3fd",
        "min_track": 100,
        "crop_scale": 0.4,
        "aggregate": "best",
    },
    "input_fps": 25.0,
    "input_video_codec": "h264",
    "input_audio_codec": "aac",
}


def _track(rng: np.random.Generator, index: int, first: int, windows: int) -> TrackResult:
    offset = int(rng.integers(-3, 4))
    lse_d = float(rng.uniform(6.0, 9.5))
    slope = float(rng.uniform(0.05, 0.6))
    curve = [lse_d + slope * abs(k - (15 - offset)) + float(rng.normal(0, 0.05)) for k in range(31)]
    curve[15 - offset] = lse_d
    lse_c = float(np.median(curve)) - lse_d
    conf = (lse_c + np.cumsum(rng.normal(0, 0.15, windows))).tolist()
    frames = windows + 5
    cx = (300 + np.cumsum(rng.normal(0, 0.5, frames))).tolist()
    return TrackResult(
        index=index,
        first_frame=first,
        last_frame=first + frames - 1,
        av_offset=offset,
        lse_d=lse_d,
        lse_c=lse_c,
        num_windows=windows,
        dist_by_shift=curve,
        framewise_conf=conf,
        scene_index=0,
        start_s=first / 25,
        end_s=(first + frames) / 25,
        framewise_time_s=[(first + i) / 25 for i in range(windows)],
        smoothed_center_x=cx,
        smoothed_center_y=cx,
        smoothed_half_size=[80.0] * frames,
    )


def generate(n: int, seed: int = 0) -> list[VideoResult]:
    """``n`` records: 3 % not scored, 5 % flagged, 10 % with two tracks, 4-20 s clips."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        path = f"renders/group{i % 3}/clip_{i:05d}.mp4"
        if rng.random() < 0.03:
            reason = f"{path}: no face detected in any of 250 frames"
            out.append(
                VideoResult.failure(
                    path,
                    "syncnet-pipeline",
                    "no_face",
                    reason,
                    id=path,
                    group=f"g{i % 3}",
                    provenance=_PROVENANCE,
                )
            )
            continue
        windows = int(rng.integers(100, 500))
        tracks = [_track(rng, 0, 0, windows)]
        if rng.random() < 0.1:
            tracks.append(_track(rng, 1, windows // 2, windows // 2))
        best = max(tracks, key=lambda t: t.lse_c)
        out.append(
            VideoResult(
                path=path,
                status="ok",
                reason=None,
                recipe="syncnet-pipeline",
                av_offset=best.av_offset,
                lse_d=best.lse_d,
                lse_c=best.lse_c,
                aggregate="best",
                tracks=tracks,
                scenes=[[0, windows // 2], [windows // 2, windows + 5]],
                provenance=_PROVENANCE,
                id=path,
                group=f"g{i % 3}",
                flags=["few_windows"] if rng.random() < 0.05 else [],
                av_offset_ms=best.av_offset * 40.0,
                selected_track=best.index,
            )
        )
    return out


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def open_times(pages: list[Path]) -> list[tuple[float, float, float]]:
    """(load, the page's own load-event time, first detail) seconds of each page in one
    headless chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(120)
    times = []
    try:
        for page in pages:
            t0 = time.perf_counter()
            driver.get(page.as_uri())  # returns after the load event: the table is built
            rows = driver.find_elements(By.CSS_SELECTOR, "#video-table tbody tr")
            load = time.perf_counter() - t0
            nav = driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].loadEventEnd / 1000"
            )
            detail = math.nan
            if rows:
                t0 = time.perf_counter()
                rows[0].click()
                driver.find_element(By.CSS_SELECTOR, "#detail svg.curve-chart")
                detail = time.perf_counter() - t0
            times.append((load, float(nav), detail))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="also copy the report here")
    args = ap.parse_args()

    records, t_gen = _timed(lambda: generate(args.records))
    windows = sum(t.num_windows for r in records for t in r.tracks)
    print(f"{args.records} records generated in {t_gen:.1f} s ({windows} windows in all)")
    doc, t_json = _timed(
        lambda: json.dumps(results_document(records, summarize(records)), indent=2)
    )
    page, t_build = _timed(lambda: build_report([ReportRun("bench.json", records)]))
    size_mb = len(page.encode("utf-8")) / 1e6
    json_mb = len(doc.encode("utf-8")) / 1e6
    print(
        f"report: {size_mb:.1f} MB ({len(page.encode()) / windows:.1f} bytes per window), "
        f"built in {t_build:.1f} s"
    )
    print(
        f"baseline, the JSON results of the same records: {json_mb:.1f} MB, written in "
        f"{t_json:.1f} s; report / JSON: size {size_mb / json_mb:.2f}x, "
        f"time {t_build / t_json:.2f}x"
    )
    ok = size_mb < MAX_MB
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        report.write_text(page, encoding="utf-8")
        empty = Path(tmp) / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title><p>empty")
        if args.keep:
            shutil.copy(report, args.keep)
        if shutil.which("chromium") and shutil.which("chromedriver"):
            # The first page also pays for the browser's warm-up: the baseline is the second.
            _, (t_empty, _, _), (t_open, t_nav, t_detail) = open_times([empty, empty, report])
            print(
                f"headless chromium: opened in {t_open:.2f} s (load event at {t_nav:.2f} s; "
                f"an empty page: {t_empty:.2f} s, ratio {t_open / t_empty:.1f}x); a video's "
                f"detail in {t_detail:.2f} s"
            )
            ok = ok and t_open < MAX_OPEN_S
        else:
            print("chromium/chromedriver not found: opening time not measured")
    print(
        f"limits: < {MAX_MB:.0f} MB and opened in < {MAX_OPEN_S:.0f} s: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
