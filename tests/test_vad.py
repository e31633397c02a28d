"""Speech-defined silence (syncnet_eval.vad, silence.detect_silence): silero-vad against the
energy rule on speech with gaps of known times (the speech of a REAL shared clip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from syncnet_eval import ScoreConfig
from syncnet_eval.config import config_hash
from syncnet_eval.constants import AUDIO_SAMPLES_PER_FRAME
from syncnet_eval.errors import ConfigError
from syncnet_eval.silence import (
    SILENCE_MARGIN_FRAMES,
    detect_silence,
    frame_levels_dbfs,
    speech_level_dbfs,
)

from conftest import MEDIA_DIR

pytest.importorskip("silero_vad")

FRAME = AUDIO_SAMPLES_PER_FRAME
GAP_FRAMES = 30  # 1.2 s


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from syncnet_eval.decode import read_audio

    return read_audio(Path(MEDIA_DIR) / "syncnet_example.avi")[: 250 * FRAME].astype(np.float64)


def _with_gap(speech: np.ndarray, fill: np.ndarray) -> tuple[np.ndarray, slice]:
    """Speech, a 1.2 s gap filled with ``fill`` (no speech), speech: int16, and the gap's
    frames less the rule's margins (what a perfect detector counts)."""
    half = 100 * FRAME
    audio = np.concatenate([speech[:half], fill, speech[half : 2 * half]])
    inner = slice(100 + SILENCE_MARGIN_FRAMES, 100 + GAP_FRAMES - SILENCE_MARGIN_FRAMES)
    return np.clip(audio, -32768, 32767).astype(np.int16), inner


def test_digital_silence_counts_for_both_detectors(speech: np.ndarray) -> None:
    audio, inner = _with_gap(speech, np.zeros(GAP_FRAMES * FRAME))
    for detector in ("energy", "silero"):
        _, counted = detect_silence(audio, None, detector)
        assert counted[inner].mean() >= 0.9, detector


def test_loud_noise_without_speech_is_silence_for_silero_only(speech: np.ndarray) -> None:
    # White noise 10 dB below the speech's level through the gap: no speech, but loud.
    level = speech_level_dbfs(frame_levels_dbfs(speech.astype(np.int16)))
    rms = 32768.0 * 10 ** ((level - 10) / 20)
    noise = np.random.default_rng(0).standard_normal(GAP_FRAMES * FRAME) * rms
    audio, inner = _with_gap(speech, noise)
    _, energy = detect_silence(audio, None, "energy")
    _, silero = detect_silence(audio, None, "silero")
    assert energy[inner].mean() == 0.0  # 10 dB below speech is voiced for the level rule
    # silero-vad hears the speech on a few frames into the gap (its 30 ms padding and the
    # model's own lag when noise follows speech): most of the gap, not all of it.
    assert silero[inner].mean() >= 0.6


def test_silero_leaves_torch_threads_as_they_were(speech: np.ndarray) -> None:
    import torch

    before = torch.get_num_threads()
    detect_silence(speech[: 50 * FRAME].astype(np.int16), None, "silero")
    assert torch.get_num_threads() == before  # silero-vad's import sets 1


def test_an_unknown_detector_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="silence_detector"):
        ScoreConfig(silence_detector="webrtc")
    with pytest.raises(ConfigError, match="silence detector"):
        detect_silence(np.zeros(6400, np.int16), None, "webrtc")


def test_the_default_detector_keeps_every_configuration_hash() -> None:
    from dataclasses import field, fields, make_dataclass

    # ScoreConfig as it was before the option: the same fields, defaults and values.
    before = make_dataclass(
        "ScoreConfig",
        [
            (f.name, f.type, field(default=f.default))
            for f in fields(ScoreConfig)
            if f.name != "silence_detector"
        ],
    )
    assert config_hash(ScoreConfig()) == config_hash(before())
    assert config_hash(ScoreConfig(silence_detector="silero")) != config_hash(before())


def test_a_scored_record_names_the_detector_that_defined_silence() -> None:
    from syncnet_eval.pipeline import SyncPipeline

    from signal_media import SignalEmbedder

    pipe = SyncPipeline(
        ScoreConfig(device="cpu", silence_detector="silero"), embedder=SignalEmbedder()
    )
    result = pipe.evaluate(Path(MEDIA_DIR) / "syncnet_example.avi", "direct")
    assert result.ok, result.reason
    assert result.provenance["score_config"]["silence_detector"] == "silero"
    assert "silence defined by silero" in result.provenance["measures"]["silence"]
    assert result.tracks[0].measures["silent_frames"] is not None


def test_without_silero_vad_the_run_stops_before_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    from syncnet_eval import vad
    from syncnet_eval.engines.plan import BatchConfig
    from syncnet_eval.engines.scorer import prepare_run
    from syncnet_eval.errors import DependencyError

    monkeypatch.setattr(vad, "silero_version", lambda: None)
    config = BatchConfig("direct", ScoreConfig(device="cpu", silence_detector="silero"))
    with pytest.raises(DependencyError, match=r"pip install 'syncnet-eval\[vad\]'"):
        prepare_run(config, progress=False)
