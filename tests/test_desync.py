"""DeSync (Synchformer): pre-processing against the published code, and the measure's rule.

``tests/data/desync_reference.json`` was recorded by ``scripts/record_expert_reference.py``
from hkchengrex/av-benchmark's own definitions (MMAudio's DeSync), run on the first 24 frames of
a shared 600x480 clip with a stand-in network that returns its inputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from syncnet_eval import desync
from syncnet_eval.decode import iter_frames, read_audio
from syncnet_eval.measures import TrackInputs

from conftest import MEDIA_DIR, invoke_cli

RECORD = json.loads((Path(__file__).parent / "data" / "desync_reference.json").read_text())
TOL = 1e-4


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, np.ndarray]:
    path = MEDIA_DIR / RECORD["clip"]
    if not path.exists():
        pytest.skip(f"{path} not found")
    n = RECORD["frames"]
    frames = np.concatenate(list(iter_frames(path, jpeg_roundtrip=False)))[:n]
    audio = read_audio(path)[: n * 640]
    assert _digest(frames) == RECORD["frames_sha256"], "the decoder gave other pixels"
    assert _digest(audio) == RECORD["audio_sha256"], "the decoder gave other samples"
    return frames, audio


def test_video_segments_match_av_benchmark(clip: tuple[np.ndarray, np.ndarray]) -> None:
    frames = desync.video_frames(clip[0])
    np.testing.assert_allclose(
        frames.mean(dim=(2, 3)).numpy(), np.asarray(RECORD["video_frame_channel_means"]), atol=TOL
    )
    segments = desync.video_segments(frames)
    assert list(segments.shape) == RECORD["video_shape"]
    values = segments.numpy()[tuple(RECORD["video_index"])]
    np.testing.assert_allclose(values, np.asarray(RECORD["video_values"]), atol=TOL)


def test_audio_segments_match_av_benchmark(clip: tuple[np.ndarray, np.ndarray]) -> None:
    segments = desync.audio_segments(clip[1])
    assert list(segments.shape) == RECORD["audio_shape"]
    values = segments.numpy()[tuple(RECORD["audio_index"])]
    np.testing.assert_allclose(values, np.asarray(RECORD["audio_values"]), atol=TOL)
    np.testing.assert_allclose(
        segments.mean(dim=-1).reshape(len(segments), -1).numpy(),
        np.asarray(RECORD["audio_band_means"]),
        atol=TOL,
    )


def test_offset_classes_and_scored_length() -> None:
    assert desync.OFFSET_GRID_S[0] == -2.0 and desync.OFFSET_GRID_S[-1] == 2.0
    assert np.allclose(np.diff(desync.OFFSET_GRID_S), 0.2)
    assert desync.SCORED_FRAMES == 120  # 14 segments of 16 frames every 8: 4.8 s at 25 fps
    assert desync.segment_starts(120, 16, 8) == list(range(0, 105, 8))


class _PlantedModel:
    """Logits peaked at a known class for each stretch: +0.4 s first, -0.2 s last."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def offset_logits(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        self.calls.append((tuple(video.shape), tuple(audio.shape)))
        target = 0.4 if len(self.calls) == 1 else -0.2
        return -torch.from_numpy(np.abs(desync.OFFSET_GRID_S - target))


@pytest.fixture
def planted() -> Any:
    model = _PlantedModel()
    desync.use_model(lambda weights, device: model)
    yield model
    desync.use_model(None)


def test_desync_is_the_mean_absolute_offset_of_both_stretches(planted: _PlantedModel) -> None:
    measure = desync.DesyncMeasure("planted.pt", "cpu")
    frames = np.zeros((130, 224, 224, 3), np.uint8)  # 5.2 s: both stretches, overlapping
    measure.observe(frames[:70])
    measure.observe(frames[70:])
    audio = np.zeros(130 * 640, np.int16)
    values = measure.finish(TrackInputs(None, audio, 25.0, 0.0, None, None))
    assert values["desync_offsets_s"] == [0.4, -0.2]
    assert values["desync_s"] == pytest.approx(0.3)
    assert planted.calls == [((14, 16, 3, 224, 224), (14, 1, 128, 66))] * 2


def test_desync_needs_4_8_seconds(planted: _PlantedModel) -> None:
    measure = desync.DesyncMeasure("planted.pt", "cpu")
    measure.observe(np.zeros((119, 32, 32, 3), np.uint8))
    values = measure.finish(TrackInputs(None, np.zeros(119 * 640, np.int16), 25.0, 0, None, None))
    assert values == {"desync_s": None, "desync_offsets_s": None}
    assert planted.calls == []


@pytest.mark.slow
def test_without_the_network_the_command_says_so_in_one_line(
    batch_short_clip: Path, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "synchformer_state_dict.pth"
    weights.write_bytes(b"not read")
    result = invoke_cli(
        [
            "score",
            str(batch_short_clip),
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--expert",
            "desync",
            "--expert-weights",
            str(weights),
        ]
    )
    assert result.exit_code == 1
    assert "the Synchformer network is not part of this version" in result.output
