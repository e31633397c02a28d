"""Helpers of the batch tests (the run driver's, Parquet's, the Ray engine's): bad inputs of
every kind, a fake ffmpeg, the ``score`` arguments they share. A helpers module, so no test
module imports another."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import stat
import subprocess

import numpy as np
import pytest

__all__ = [
    "fake_ffmpeg",
    "make_bad_inputs",
    "make_bad_inputs_expectations",
    "run_ffmpeg",
    "score_args",
]


def run_ffmpeg(*args: str) -> None:
    """Run the ffmpeg CLI quietly (test media only; the package starts its own in ffmpeg.py)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, capture_output=True
    )


def make_bad_inputs(directory: Path, good: Path) -> dict[str, set[str]]:
    """One of each bad input of issue 4 in ``directory``; returns name -> accepted statuses."""
    data = good.read_bytes()
    rng = np.random.default_rng(7)
    (directory / "bad_zero_bytes.mp4").write_bytes(b"")
    (directory / "bad_truncated.mp4").write_bytes(data[: len(data) // 2])  # moov is at the end
    (directory / "bad_random_bytes.mp4").write_bytes(rng.bytes(20_000))
    (directory / "bad_text_file.mp4").write_text("not a video\n" * 100, encoding="utf-8")
    run_ffmpeg("-i", str(good), "-an", "-c", "copy", str(directory / "bad_no_audio.mp4"))
    run_ffmpeg("-i", str(good), "-vn", "-c", "copy", str(directory / "bad_audio_only.mp4"))
    unreadable = directory / "bad_unreadable.mp4"
    unreadable.write_bytes(rng.bytes(5_000))
    unreadable.chmod(0)
    (directory / "bad_directory.mp4").mkdir()
    (directory / "bad_directory.mp4" / "inside.txt").write_text("x", encoding="utf-8")
    return make_bad_inputs_expectations(directory)


def make_bad_inputs_expectations(directory: Path) -> dict[str, set[str]]:
    """Accepted statuses of ``make_bad_inputs``' files (root reads mode-000 files anyway)."""
    unreadable = directory / "bad_unreadable.mp4"
    return {
        "bad_zero_bytes.mp4": {"decode_error"},
        "bad_truncated.mp4": {"decode_error"},
        "bad_random_bytes.mp4": {"decode_error"},
        "bad_text_file.mp4": {"decode_error"},
        "bad_no_audio.mp4": {"no_audio"},
        "bad_audio_only.mp4": {"decode_error"},
        "bad_unreadable.mp4": {"decode_error"} if os.access(unreadable, os.R_OK) else {"error"},
        "bad_directory.mp4": {"error"},
    }


def fake_ffmpeg(script: Path, prelude: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point SYNCNET_EVAL_FFMPEG at a shell script: ``prelude``, then the real ffmpeg."""
    real_ffmpeg = shutil.which("ffmpeg")
    assert real_ffmpeg is not None
    script.write_text(f'#!/bin/sh\n{prelude}exec "{real_ffmpeg}" "$@"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SYNCNET_EVAL_FFMPEG", str(script))


def score_args(weights: Path, *extra: str) -> list[str]:
    """``score`` with the direct recipe, the given SyncNet weights, on the CPU, then ``extra``."""
    return [
        "score",
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(weights),
        "--device",
        "cpu",
        *extra,
    ]
