"""Mouth motion in silence (syncnet_eval.silence): the voice-activity rule, the motion measure,
and constructed clips whose mouth moves, or stays still, while the audio is silent."""

from __future__ import annotations

from fractions import Fraction
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.constants import AUDIO_SAMPLES_PER_FRAME, FPS, SAMPLE_RATE_HZ
from syncnet_eval.io import load_results, write_results
from syncnet_eval.report import ReportRun, build_report
from syncnet_eval.silence import (
    MIN_SILENCE_FRAMES,
    SILENCE_MARGIN_FRAMES,
    MouthMotion,
    frame_levels_dbfs,
    measure_silence_motion,
    silent_frames,
    speech_level_dbfs,
    video_silence_motion,
)
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult

from signal_media import SignalEmbedder

SPEAK_FRAMES = 100  # 4 s of speech, then silence
SILENT_FRAMES = 75  # 3 s
SIZE = 224


def _tone(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Syllable-like bursts: noise under a 4 Hz envelope that never quite closes (-12 dB)."""
    n = num_frames * AUDIO_SAMPLES_PER_FRAME
    t = np.arange(n) / SAMPLE_RATE_HZ
    envelope = 0.25 + 0.75 * np.abs(np.sin(2 * np.pi * 2 * t))
    return rng.standard_normal(n) * envelope * 6000


def test_voice_activity_finds_the_planted_pause() -> None:
    rng = np.random.default_rng(1)
    # speech 0-49, a 20-frame pause (room tone 40 dB down) 50-69, speech 70-119, a 4-frame gap
    # 120-123 (between words: too short to count), speech to 150.
    parts = [
        _tone(50, rng),
        rng.standard_normal(20 * AUDIO_SAMPLES_PER_FRAME) * 60,
        _tone(50, rng),
        np.zeros(4 * AUDIO_SAMPLES_PER_FRAME),
        _tone(26, rng),
    ]
    audio = np.clip(np.concatenate(parts), -32767, 32767).astype(np.int16)
    levels = frame_levels_dbfs(audio)
    assert levels.shape == (150,)
    silent, counted = silent_frames(levels, speech_level_dbfs(levels))
    assert set(np.flatnonzero(silent)) == set(range(50, 70)) | set(range(120, 124))
    m = SILENCE_MARGIN_FRAMES
    assert set(np.flatnonzero(counted)) == set(range(50 + m, 70 - m))
    assert 4 < MIN_SILENCE_FRAMES <= 20  # the two gaps fall on either side of the rule


def test_digital_silence_throughout_has_no_baseline() -> None:
    motion = np.ones(100)
    found = measure_silence_motion(np.zeros(100 * AUDIO_SAMPLES_PER_FRAME, np.int16), motion)
    assert found.silent_frames > 0 and found.baseline is None and found.fraction is None


def test_motion_is_the_mouth_regions_and_does_not_depend_on_chunking() -> None:
    rng = np.random.default_rng(2)
    frames = np.repeat(rng.integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8), 12, axis=0)
    frames[:, :100] = rng.integers(0, 256, (12, 100, SIZE, 3), dtype=np.uint8)  # eyes, brow
    frames[:, :, :50] = rng.integers(0, 256, (12, SIZE, 50, 3), dtype=np.uint8)  # background
    still = MouthMotion()
    still.add(frames)
    assert np.isnan(still.values()[0]) and np.all(still.values()[1:] == 0)

    frames[6:, 150:200, 80:150] = 255 - frames[6:, 150:200, 80:150]  # the mouth changes once
    whole, pieces = MouthMotion(), MouthMotion()
    whole.add(frames)
    for chunk in (frames[:5], frames[5:7], frames[7:]):
        pieces.add(chunk)
    assert whole.values().shape == pieces.values().shape == (12,)
    np.testing.assert_allclose(whole.values()[1:], pieces.values()[1:])
    assert np.flatnonzero(whole.values()[1:] > 0).tolist() == [5]  # frame 6 against frame 5


def _face(opening: float) -> np.ndarray:
    """A 224x224 face crop (as the lip stream sees it) with a mouth open by ``opening`` px."""
    image = np.full((SIZE, SIZE, 3), (90, 120, 170), np.uint8)
    cv2.ellipse(image, (112, 80), (80, 100), 0, 0, 360, (120, 160, 215), -1)
    cv2.circle(image, (80, 60), 9, (40, 40, 40), -1)
    cv2.circle(image, (144, 60), 9, (40, 40, 40), -1)
    cv2.ellipse(image, (112, 140), (30, max(1, round(opening))), 0, 0, 360, (30, 20, 60), -1)
    return image


def _write_clip(path: Path, mouth_in_silence: str) -> None:
    """Speech with a talking mouth, then silence with the mouth ``moving`` on or ``frozen``."""
    rng = np.random.default_rng(3)
    total = SPEAK_FRAMES + SILENT_FRAMES
    # A mouth that opens with each syllable (2 Hz envelope, 12.5 frames per opening).
    talking = 2 + 16 * np.abs(np.sin(2 * np.pi * 2 * np.arange(total) / FPS))
    opening = talking.copy()
    if mouth_in_silence == "frozen":
        opening[SPEAK_FRAMES:] = 3.0  # closed and still
    speech = _tone(SPEAK_FRAMES, rng)
    room = rng.standard_normal(SILENT_FRAMES * AUDIO_SAMPLES_PER_FRAME) * 30  # -60 dB down
    samples = np.clip(np.concatenate([speech, room]), -32767, 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18", "preset": "ultrafast"}
        audio = container.add_stream("pcm_s16le", rate=SAMPLE_RATE_HZ, layout="mono")
        for f in range(total):
            frame = av.VideoFrame.from_ndarray(_face(opening[f]), format="bgr24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, samples.size, 1024):
            chunk = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format="s16", layout="mono"
            )
            chunk.sample_rate, chunk.pts = SAMPLE_RATE_HZ, start
            chunk.time_base = Fraction(1, SAMPLE_RATE_HZ)
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VideoResult]:
    directory = tmp_path_factory.mktemp("silence")
    # Any embedder serves: the silence measure never looks at SyncNet's numbers.
    pipe = SyncPipeline(ScoreConfig(device="cpu"), embedder=SignalEmbedder())
    results = {}
    for kind in ("moving", "frozen"):
        path = directory / f"{kind}.mkv"
        _write_clip(path, kind)
        results[kind] = pipe.evaluate(path, "direct")
        assert results[kind].ok, results[kind].reason
    return results


def test_a_mouth_moving_through_silence_scores_high_and_a_still_one_low(
    scored: dict[str, VideoResult],
) -> None:
    moving, frozen = scored["moving"].tracks[0], scored["frozen"].tracks[0]
    counted = SILENT_FRAMES - 2 * SILENCE_MARGIN_FRAMES
    assert moving.value("silent_frames") == frozen.value("silent_frames") == counted
    moving_share = moving.value("silent_motion_fraction")
    frozen_share = frozen.value("silent_motion_fraction")
    assert moving_share is not None and frozen_share is not None
    # Moving on as while speaking: about half its frames move more than the speaking median
    # (the rule's bar); the still mouth: none.
    assert moving_share >= 0.35
    assert frozen_share <= 0.05


def test_silence_motion_reaches_records_summary_and_report(
    scored: dict[str, VideoResult], tmp_path: Path
) -> None:
    results = [scored["moving"], scored["frozen"]]
    for name, per_track in (("r.json", False), ("r.csv", True)):
        write_results(tmp_path / name, results, per_track=per_track)
        back = load_results(tmp_path / name)
        for original, read in zip(results, back, strict=True):
            assert read.tracks[0].value("silent_frames") == original.tracks[0].value(
                "silent_frames"
            )
            assert read.tracks[0].value("silent_motion_fraction") == pytest.approx(
                original.tracks[0].value("silent_motion_fraction"), abs=1e-4
            )
    summary = summarize(results).to_dict()
    fractions = [video_silence_motion(r)[1] for r in results]
    assert summary["silent_motion_fraction"]["n"] == 2
    assert summary["silent_motion_fraction"]["mean"] == pytest.approx(np.mean(fractions))
    assert summary["silent_frames"] == sum(r.tracks[0].value("silent_frames") or 0 for r in results)
    json.dumps(summary)
    page = build_report([ReportRun("run", results)])
    assert "mouth moving in silence" in page
