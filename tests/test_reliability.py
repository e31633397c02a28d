"""Reliability flags, non-finite scores, --fps 25 and times in seconds (issue: numbers a user
can trust)."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
from typing import Any

import av
from click.testing import CliRunner
import numpy as np
import pytest
import torch

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.cli import cli
from syncnet_eval.reliability import (
    FLAGS,
    audio_level_dbfs,
    frames_missing,
    min_reliable_windows,
)
from syncnet_eval.stats import summarize

from conftest import SynthFace, write_synth_clip

FACE = (SynthFace(112, 112),)


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """224x224 clips: 0.5 s, 4.4 s (110 frames: 105 windows), the 4.4 s one with silent audio,
    and a 30 fps one."""
    d = tmp_path_factory.mktemp("reliability")
    short = write_synth_clip(d / "short.mp4", num_frames=12, size=(224, 224), faces=FACE).path
    long = write_synth_clip(d / "long.mp4", num_frames=110, size=(224, 224), faces=FACE, seed=5)
    silent = d / "silent.mp4"
    _ffmpeg("-i", str(long.path), "-af", "volume=0", "-c:v", "copy", "-c:a", "aac", str(silent))
    fps30 = write_synth_clip(
        d / "fps30.mp4", num_frames=150, fps=30, size=(224, 224), faces=FACE, seed=6
    ).path
    return {"short": short, "long": long.path, "silent": silent, "fps30": fps30}


@pytest.fixture(scope="module")
def pipe(syncnet_parity_weights: Path) -> SyncPipeline:
    return SyncPipeline(
        ScoreConfig(device="cpu"), syncnet_weights=syncnet_parity_weights, offline=True
    )


def test_the_few_windows_threshold_follows_the_search_range() -> None:
    assert min_reliable_windows(15) == 100  # the median shift (8) pads at most 8 % of them
    assert min_reliable_windows(30) > min_reliable_windows(15) > min_reliable_windows(5)
    assert FLAGS[:4] == ("few_windows", "silent_audio", "non_25fps", "decode_incomplete")


def test_a_half_second_clip_is_flagged_and_left_out_of_the_mean(
    pipe: SyncPipeline, clips: dict[str, Path]
) -> None:
    short = pipe.evaluate(clips["short"], "direct")
    long = pipe.evaluate(clips["long"], "direct")
    assert short.ok and long.ok
    assert short.tracks[0].num_windows == 7 and short.flags == ["few_windows"]
    assert long.tracks[0].num_windows == 105 and long.flags == []
    summary = summarize([short, long])
    assert (summary.num_ok, summary.num_scored, summary.num_flagged) == (2, 1, 1)
    assert summary.lse_c.mean == pytest.approx(long.lse_c)  # the short clip's LSE-C is not in it
    assert summary.flag_counts["few_windows"] == 1
    kept = summarize([short, long], include_flagged=True)
    assert kept.num_scored == 2
    assert kept.lse_c.mean == pytest.approx((short.lse_c + long.lse_c) / 2)


def test_silent_audio_is_flagged(pipe: SyncPipeline, clips: dict[str, Path]) -> None:
    result = pipe.evaluate(clips["silent"], "direct")
    assert result.ok and result.flags == ["silent_audio"]
    assert audio_level_dbfs(np.zeros(100, np.int16)) == float("-inf")
    tone = (1000 * np.sin(np.arange(16000) / 10)).astype(np.int16)
    assert -40 < audio_level_dbfs(tone) < -30  # 1000 / 32768 peak: about -33 dBFS RMS


def test_non_25fps_is_flagged_unless_converted_and_times_are_in_seconds(
    syncnet_parity_weights: Path, clips: dict[str, Path]
) -> None:
    native = SyncPipeline(
        ScoreConfig(device="cpu"), syncnet_weights=syncnet_parity_weights, offline=True
    ).evaluate(clips["fps30"], "direct")
    assert "non_25fps" in native.flags
    (track,) = native.tracks
    assert track.num_frames == 150 and track.end_s == pytest.approx(5.0)  # 150 frames at 30 fps
    assert track.framewise_time_s[1] == pytest.approx(1 / 30)
    assert native.av_offset_ms == pytest.approx(native.av_offset * 1000 / 30)
    assert not any("15.2" in w or "6.000" in w for w in native.warnings)  # lengths at 30 fps

    converted = SyncPipeline(
        ScoreConfig(device="cpu", fps=25), syncnet_weights=syncnet_parity_weights, offline=True
    ).evaluate(clips["fps30"], "direct")
    assert "non_25fps" not in converted.flags and "decode_incomplete" not in converted.flags
    (track,) = converted.tracks
    # 5 s at 25 fps; like the pipeline's transcode, ffmpeg's -r 25 may repeat a frame or two.
    assert 125 <= track.num_frames <= 127 and track.end_s == pytest.approx(5.0, abs=0.1)
    assert track.framewise_time_s[1] == pytest.approx(0.04)
    assert converted.provenance["scored_fps"] == 25


def test_frames_missing_counts_against_the_declared_frames() -> None:
    assert not frames_missing(75, 75) and not frames_missing(73, 75)
    assert frames_missing(15, 75)  # a file cut at 25 % whose index survived
    assert not frames_missing(125, 150, declared_fps=30)  # 150 frames at 30 fps = 125 at 25
    assert not frames_missing(10, None)


def test_a_truncated_file_with_its_index_is_flagged_decode_incomplete(
    pipe: SyncPipeline, clips: dict[str, Path], tmp_path: Path
) -> None:
    fast = tmp_path / "faststart.mp4"
    _ffmpeg("-i", str(clips["long"]), "-c", "copy", "-movflags", "+faststart", str(fast))
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 4])  # the moov (index) is at the start and survives
    declared = _declared_frames(cut)
    result = pipe.evaluate(cut, "direct")
    # The index still promises all 110 frames; about a quarter of them decode: enough windows
    # to score, far fewer frames than declared.
    assert declared == 110
    assert result.ok, result.reason
    assert result.tracks[0].num_windows < declared // 2
    assert "decode_incomplete" in result.flags
    assert any("incomplete decode" in w for w in result.warnings)


def _declared_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames)


def _nan_weights(src: Path, dst: Path) -> Path:
    state = torch.load(src, map_location="cpu", weights_only=True)
    torch.save({k: torch.full_like(v, float("nan")) for k, v in state.items()}, dst)
    return dst


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_nan_weights_give_error_records_and_valid_json(
    syncnet_parity_weights: Path, clips: dict[str, Path], tmp_path: Path
) -> None:
    weights = _nan_weights(syncnet_parity_weights, tmp_path / "nan.model")
    out, log = tmp_path / "r.json", tmp_path / "r.jsonl"
    run = CliRunner().invoke(
        cli,
        [
            "score",
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(weights),
            "--device",
            "cpu",
            str(clips["short"]),
            "-o",
            str(out),
            "-o",
            str(log),
            "-q",
        ],
    )
    assert run.exit_code == 1
    doc = _strict_json(out.read_text(encoding="utf-8"))
    (rec,) = doc["results"]
    assert (rec["status"], rec["reason_code"]) == ("error", "non_finite_scores")
    assert rec["lse_d"] is None and "NaN" in rec["reason"]
    assert doc["summary"]["num_ok"] == 0 and doc["summary"]["status_counts"]["ok"] == 0
    for line in log.read_text(encoding="utf-8").splitlines():
        _strict_json(line)


def test_a_drifting_video_is_counted_but_never_leaves_the_means() -> None:
    """A generator whose outputs drift must not look better for it: ``offset_drift`` is a
    finding, the other flags doubt the numbers and keep a video out of the means."""
    from syncnet_eval.reliability import DOUBTING_FLAGS, FLAGS
    from syncnet_eval.stats import in_means, summarize

    from conftest import scored_result

    drifting = scored_result("drift.mp4", lse_d=9.0, flags=["offset_drift"])
    clean = scored_result("clean.mp4", lse_d=7.0)
    assert in_means(drifting)
    summary = summarize([drifting, clean])
    assert summary.num_scored == 2 and summary.flag_counts["offset_drift"] == 1
    assert summary.lse_d.n == 2 and summary.lse_d.mean == pytest.approx(8.0)
    assert set(FLAGS) - DOUBTING_FLAGS == {"offset_drift"}
    for flag in DOUBTING_FLAGS:
        assert not in_means(scored_result("x.mp4", flags=[flag]))
