"""Offset over time: each segment's best offset and the drift line, from the window distances
the offset search already has. The oracle is a clip whose audio ffmpeg stretches (``atempo``):
its drift is known from the tempo alone; the signal embedder makes sync measurable without
trained weights."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
import subprocess
from typing import Any

import numpy as np
import pytest
import torch

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.io import CSV_COLUMNS, TRACK_CSV_COLUMNS, csv_text, load_results, write_results
from syncnet_eval.recipes.steps import track_flags
from syncnet_eval.reliability import DRIFT_MAX_MS_PER_MIN, FLAG_HELP, FLAGS, drift_exceeds
from syncnet_eval.report import ReportRun, build_report
from syncnet_eval.resync import move_audio
from syncnet_eval.scoring import (
    DRIFT_MIN_SEGMENT_LSE_C,
    distance_by_shift,
    offset_drift,
    score_offsets,
    scores_from_distances,
)
from syncnet_eval.types import TrackResult, VideoResult

from conftest import scored_result
from signal_media import SignalEmbedder, write_signal_clip

FPS = 25
CLIP_FRAMES = 750  # 30 s
TEMPO = 1.01


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 30 s signal clip in sync, its audio stretched by ``TEMPO`` and moved by 3 frames."""
    d = tmp_path_factory.mktemp("drift")
    synced = d / "synced.mkv"
    write_signal_clip(synced, num_frames=CLIP_FRAMES, seed=1)
    stretched = d / "stretched.mkv"
    _ffmpeg(
        "-i",
        str(synced),
        "-c:v",
        "copy",
        "-af",
        f"atempo={TEMPO}",
        "-c:a",
        "pcm_s16le",
        str(stretched),
    )
    moved = d / "moved.mkv"
    move_audio(synced, moved, -3 / FPS)  # the audio leads by 3 frames throughout
    return {"synced": synced, "stretched": stretched, "moved": moved}


@pytest.fixture(scope="module")
def pipe() -> SyncPipeline:
    # Scale 4: the signal's distances in SyncNet's range, where the segments' bar applies.
    return SyncPipeline(ScoreConfig(device="cpu"), embedder=SignalEmbedder(scale=4.0))


# -- the oracle -------------------------------------------------------------------------------


def test_stretched_audio_recovers_the_planted_slope_within_ten_percent(
    pipe: SyncPipeline, clips: dict[str, Path]
) -> None:
    # atempo plays the audio TEMPO times faster: what the video shows at t is heard at
    # t / TEMPO, i.e. t * (1 - 1 / TEMPO) early. Early audio is a positive offset.
    planted = (1 - 1 / TEMPO) * 60_000  # ms per minute (~594)
    result = pipe.evaluate(clips["stretched"], "direct")
    assert result.ok, result.reason
    (track,) = result.tracks
    drift = track.value("drift_ms_per_min")
    assert drift is not None
    assert abs(drift - planted) <= 0.10 * planted
    assert "offset_drift" in result.flags and planted > DRIFT_MAX_MS_PER_MIN
    offsets = [s["offset"] for s in track.value("segment_offsets") or []]
    assert offsets[0] <= 1 and offsets[-1] >= 6  # 0 at the start, ~7 frames early at the end
    assert track.value("drift_segments") == len(offsets) - (
        track.value("drift_segments_left_out") or 0
    )


@pytest.mark.parametrize("name, offset", [("synced", 0), ("moved", 3)])
def test_a_constant_offset_reports_a_slope_below_the_bound(
    name: str, offset: int, pipe: SyncPipeline, clips: dict[str, Path]
) -> None:
    result = pipe.evaluate(clips[name], "direct")
    assert result.ok and result.av_offset == offset, result.reason
    (track,) = result.tracks
    drift = track.value("drift_ms_per_min")
    assert drift is not None and abs(drift) < DRIFT_MAX_MS_PER_MIN
    assert "offset_drift" not in result.flags
    assert {s["offset"] for s in track.value("segment_offsets") or []} == {offset}
    # 30 s of video: segments from 2.58 s to the end of the windows, one a second, all clear.
    assert track.value("drift_segments") == 25 and track.value("drift_segments_left_out") == 0


def test_the_whole_track_numbers_are_those_of_score_offsets(
    pipe: SyncPipeline, clips: dict[str, Path]
) -> None:
    """The drift rides on the offset search without changing it (parity holds the weights)."""
    rng = np.random.default_rng(0)
    video = torch.from_numpy(rng.standard_normal((300, 16)).astype(np.float32))
    audio = torch.from_numpy(rng.standard_normal((300, 16)).astype(np.float32))
    whole = score_offsets(video, audio, 15)
    split = scores_from_distances(distance_by_shift(video, audio, 15))
    assert split.av_offset == whole.av_offset and split.lse_c == whole.lse_c


def test_a_sub_frame_drift_is_not_flagged(
    pipe: SyncPipeline, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """60 ms/min over 32 s moves the audio by 32 ms in all, under one frame. Started 12 ms
    early, the segments' whole-frame offsets cross from 0 to 1 part of the way, and the line
    through them measures about 94 ms/min: the slope alone (the flag before it asked for a
    significant slope that moves a frame at the interval's end nearest zero) flagged it."""
    d = tmp_path_factory.mktemp("subframe")
    synced, early, slow = d / "synced.mkv", d / "early.mkv", d / "slow.mkv"
    write_signal_clip(synced, num_frames=800, seed=2)  # 32 s
    move_audio(synced, early, -0.012)
    tempo = 1 / (1 - 60.0 / 60_000)  # earlier by 60 ms every minute
    _ffmpeg(
        "-i",
        str(early),
        "-c:v",
        "copy",
        "-af",
        f"atempo={tempo:.6f}",
        "-c:a",
        "pcm_s16le",
        str(slow),
    )
    result = pipe.evaluate(slow, "direct")
    assert result.ok, result.reason
    (track,) = result.tracks
    slope, span = track.value("drift_ms_per_min"), track.value("drift_span_s")
    assert slope * span / 60 > 1000 / FPS  # the slope alone moves more than a frame
    assert "offset_drift" not in result.flags, track.measures
    low, high = track.value("drift_ci95_ms_per_min")
    assert low <= slope <= high and low * span / 60 < 1000 / FPS


def test_the_flag_asks_for_a_significant_slope() -> None:
    assert drift_exceeds(60.0, 120.0, (50.0, 70.0))  # the interval's nearer end moves 100 ms
    assert not drift_exceeds(60.0, 120.0, (-5.0, 125.0))  # the interval holds 0
    assert not drift_exceeds(60.0, 30.0, (55.0, 65.0))  # 27.5 ms at the nearer end
    assert drift_exceeds(-200.0, 30.0, (-260.0, -140.0))  # either sign


def test_the_slope_interval_covers_the_planted_slope_of_a_noisy_ramp() -> None:
    rng = np.random.default_rng(3)
    truth = np.round(np.arange(3000) / 500 + rng.normal(0, 0.6, 3000)).astype(int)
    drift = offset_drift(_v_matrix(np.clip(truth, -15, 15)), fps=FPS)
    assert drift.ci95 is not None and drift.ms_per_min is not None
    planted = 1 / 500 * FPS * 60 * 1000 / FPS  # frames per window -> ms per minute
    assert drift.ci95[0] < drift.ms_per_min < drift.ci95[1]
    assert drift.ci95[0] < planted < drift.ci95[1]


# -- the segments from a planted distance matrix ----------------------------------------------


def _v_matrix(true_offsets: np.ndarray, vshift: int = 15) -> np.ndarray:
    """d[i, k] = |offset of shift k - true offset of window i| + 1: a V at each window's own
    offset (shift k is offset vshift - k)."""
    offset_of_k = vshift - np.arange(2 * vshift + 1)
    return np.abs(offset_of_k[None, :] - true_offsets[:, None]).astype(np.float64) + 1.0


def test_segments_follow_a_planted_ramp_and_time_their_centres() -> None:
    n = 1500  # 60 s of windows
    frames_per_window = 0.004  # the offset grows by 6 frames (240 ms) over the minute
    truth = np.round(np.arange(n) * frames_per_window)
    drift = offset_drift(_v_matrix(truth), fps=FPS)
    assert drift.ms_per_min == pytest.approx(frames_per_window * FPS * 60 * 40, rel=0.05)
    starts = np.arange(0, n - 125 + 1, 25)
    assert np.allclose(drift.time_s, (starts + 64.5) / FPS)  # frames s..s+128, centre s+64.5
    assert drift.num_used == starts.size and drift.num_left_out == 0


def test_segments_without_a_clear_minimum_are_left_out_and_counted() -> None:
    n = 750
    d = _v_matrix(np.full(n, 2.0))
    d[300:600] = 5.0  # 12 s with a flat curve: silence, no face...
    drift = offset_drift(d, fps=FPS)
    starts = np.arange(0, n - 125 + 1, 25)
    outside = (starts + 124 < 300) | (starts >= 600)
    inside = (starts >= 300) & (starts + 124 < 600)
    assert drift.used[outside].all() and not drift.used[inside].any()
    assert (drift.confidence[inside] < DRIFT_MIN_SEGMENT_LSE_C).all()
    assert drift.num_left_out == int((~drift.used).sum()) >= int(inside.sum()) > 0
    assert set(drift.offsets[drift.used].tolist()) == {2}
    assert drift.ms_per_min == pytest.approx(0, abs=1e-6)


def test_a_track_shorter_than_a_segment_has_no_slope() -> None:
    drift = offset_drift(_v_matrix(np.zeros(100)), fps=FPS)
    assert drift.time_s.size == 0 and drift.ms_per_min is None and drift.num_used == 0


def test_zero_padding_does_not_pull_the_end_segments() -> None:
    """A segment at a track's end averages only the pairs that exist: padded rows (far from
    everything, here 100) would otherwise push its minimum to the shifts that avoid them."""
    n = 200
    d = _v_matrix(np.full(n, 6.0))
    partner = np.arange(n)[:, None] + np.arange(31)[None, :] - 15
    d[(partner < 0) | (partner >= n)] = 100.0
    drift = offset_drift(d, fps=FPS)
    assert set(drift.offsets.tolist()) == {6}


# -- the flag ---------------------------------------------------------------------------------


def test_the_flag_needs_a_steep_slope_that_moves_by_a_frame() -> None:
    assert "offset_drift" in FLAGS and FLAG_HELP["offset_drift"]
    assert drift_exceeds(60.0, 120.0)  # 1.5 frames/min over 2 min
    assert not drift_exceeds(30.0, 600.0)  # under one frame a minute, however long
    assert not drift_exceeds(60.0, 30.0)  # 30 ms across the segments: under a frame
    assert drift_exceeds(-200.0, 30.0)  # either sign
    assert not drift_exceeds(None, None)


def test_track_flags_flag_a_drifting_track() -> None:
    track = scored_result("a.mp4").tracks[0]
    steady = replace(track, measures={"drift_ms_per_min": 5.0, "drift_span_s": 100.0})
    drifting = replace(track, measures={"drift_ms_per_min": 300.0, "drift_span_s": 100.0})
    assert "offset_drift" not in track_flags([steady], 15)
    assert "offset_drift" in track_flags([steady, drifting], 15)


# -- records ----------------------------------------------------------------------------------


def _drifting_record() -> VideoResult:
    r = scored_result("a.mp4", tracks=2)
    segments = [
        {"time_s": 2.58 + k, "offset": k // 4, "confidence": 6.0 - (k == 3) * 4, "used": k != 3}
        for k in range(10)
    ]
    t0 = replace(
        r.tracks[0],
        measures={
            "segment_offsets": segments,
            "drift_ms_per_min": 612.5,
            "drift_segments": 9,
            "drift_segments_left_out": 1,
            "drift_span_s": 9.0,
        },
    )
    t1 = replace(
        r.tracks[1],
        measures={
            "segment_offsets": [],
            "drift_segments": 0,
            "drift_segments_left_out": 0,
        },
    )
    return replace(r, tracks=[t0, t1], flags=["offset_drift"])


def test_drift_fields_round_trip_through_json_csv_and_parquet(tmp_path: Path) -> None:
    r = _drifting_record()
    assert TrackResult.from_dict(json.loads(json.dumps(r.tracks[0].to_dict()))) == r.tracks[0]
    paths = {ext: tmp_path / f"out.{ext}" for ext in ("json", "csv", "parquet")}
    write_results(paths["json"], [r])
    write_results(paths["csv"], [r], per_track=True)
    pytest.importorskip("pyarrow")
    write_results(paths["parquet"], [r])
    assert load_results(paths["json"])[0] == r and load_results(paths["parquet"])[0] == r
    back = load_results(paths["csv"])[0]
    assert [t.value("drift_ms_per_min") for t in back.tracks] == [612.5, None]
    assert [t.value("drift_segments") for t in back.tracks] == [9, 0]
    assert [t.value("drift_segments_left_out") for t in back.tracks] == [1, 0]
    assert back.flags == ["offset_drift"]


# The per-video CSV columns before the measures registry (the contract: later columns are
# added at the end, so these keep their positions).
_COLUMNS_BEFORE = (
    "path",
    "id",
    "group",
    "status",
    "reason",
    "recipe",
    "aggregate",
    "av_offset",
    "lse_d",
    "lse_c",
    "num_tracks",
    "warnings",
    "flags",
    "reason_code",
    "av_offset_ms",
    "selected_track",
    "track_select",
    "reference_dataset",
    "input_video_codec",
    "input_video_profile",
    "input_pix_fmt",
    "input_video_bit_rate",
    "input_fps",
    "input_audio_codec",
    "input_audio_profile",
    "input_audio_bit_rate",
    "input_audio_rate_hz",
    "input_container",
    "drift_ms_per_min",
)


def test_csv_columns_are_added_at_the_end() -> None:
    r = _drifting_record()
    assert CSV_COLUMNS[: len(_COLUMNS_BEFORE)] == _COLUMNS_BEFORE
    added = ("track_drift_ms_per_min", "track_drift_segments", "track_drift_segments_left_out")
    assert set(added) <= set(TRACK_CSV_COLUMNS)
    header, row = csv_text([r]).splitlines()
    at = header.split(",").index("drift_ms_per_min")
    assert row.split(",")[at] == "612.500"  # the selected track's
    # Under --track-select mean the video's drift is the mean over the tracks that have one
    # (VideoResult.tracks_behind: the one rule every output uses).
    mean = replace(r, selected_track=None, track_select="mean")
    assert csv_text([mean]).splitlines()[1].split(",")[at] == "612.500"


# -- shown ------------------------------------------------------------------------------------


def _report_track(page: str, n: int) -> dict[str, Any]:
    start = page.index('id="report-data">') + len('id="report-data">')
    data = json.loads(page[start : page.index("</script>", start)])
    track: dict[str, Any] = data["videos"][0]["t"][n]
    return track


def test_the_report_carries_each_segment_and_the_drift_as_written_everywhere() -> None:
    r = _drifting_record()
    page = build_report([ReportRun("run.json", [r])])
    track = _report_track(page, 0)
    assert track["dr"] == "+612 ms/min (9 segments, 1 left out)"
    segments = r.tracks[0].value("segment_offsets") or []
    assert [s[1] for s in track["seg"]] == [s["offset"] for s in segments]
    assert [s[2] for s in track["seg"]] == [int(s["used"]) for s in segments]
    assert _report_track(page, 1)["dr"] == "– (0 segments)"


def test_the_plot_draws_the_segments_and_the_drift_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from syncnet_eval.plots import plot_drift, render_video_plot

    r = _drifting_record()
    ax = Figure().subplots()
    plot_drift(r.tracks, ax, selected={0})
    lines = ax.get_lines()
    segments = r.tracks[0].value("segment_offsets") or []
    used = [s for s in segments if s["used"]]
    assert list(lines[0].get_ydata()) == [s["offset"] for s in used]
    assert list(lines[1].get_xdata()) == [s["time_s"] for s in segments if not s["used"]]
    x, y = lines[2].get_xdata(), lines[2].get_ydata()
    slope_frames_per_s = (y[1] - y[0]) / (x[1] - x[0])
    assert slope_frames_per_s * 60 * 40 == pytest.approx(612.5)
    assert render_video_plot(r, "png").startswith(b"\x89PNG")
