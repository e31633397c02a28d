"""Wav2Lip's lip-sync expert: pre-processing and model against the published code.

``tests/data/wav2lip_reference.json`` was recorded by ``scripts/record_expert_reference.py``
from Rudrabha/Wav2Lip's own code (model class, ``audio.py``, ``color_syncnet_train.py``) with
the seeded weights of ``seeded_state_dict(seed=0)``, on the first frames of a shared clip.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from syncnet_eval.config import EXPERTS, PipelineConfig, ScoreConfig
from syncnet_eval.crop import face_box_in_crop
from syncnet_eval.decode import iter_frames, read_audio
from syncnet_eval.engines.plan import BatchConfig
from syncnet_eval.engines.scorer import configuration_hash
from syncnet_eval.errors import ModelWeightsError
from syncnet_eval.measures import TrackInputs, get_measure, video_value
from syncnet_eval.models.state import seeded_state_dict
from syncnet_eval.models.wav2lip_syncnet import Wav2LipSyncNet
from syncnet_eval.pipeline import SyncPipeline
from syncnet_eval.wav2lip import (
    Wav2LipMeasure,
    face_windows,
    load_expert,
    mel_spectrogram,
    mel_windows,
    resize_faces,
    shift_similarities,
)

from conftest import MEDIA_DIR, SynthClip, invoke_cli

RECORD = json.loads((Path(__file__).parent / "data" / "wav2lip_reference.json").read_text())
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


@pytest.fixture(scope="module")
def seeded_model() -> Wav2LipSyncNet:
    model = Wav2LipSyncNet()
    model.load_state_dict(seeded_state_dict(model.state_dict(), RECORD["seed"]))
    return model.eval()


def _inputs(clip: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    frames, audio = clip
    box = tuple(RECORD["face_box"])
    n = len(RECORD["face_embeddings"])
    faces = face_windows(resize_faces(frames, box), np.arange(n))  # type: ignore[arg-type]
    mels = mel_windows(mel_spectrogram(audio), np.arange(n))
    return faces, mels


def test_mel_spectrogram_matches_wav2lip_audio_py(clip: tuple[np.ndarray, np.ndarray]) -> None:
    ours = mel_spectrogram(clip[1])
    ref = np.asarray(RECORD["mel"])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=TOL)


def test_face_windows_match_color_syncnet_train(clip: tuple[np.ndarray, np.ndarray]) -> None:
    faces, _ = _inputs(clip)
    assert faces.shape[1:] == (15, 48, 96)
    np.testing.assert_allclose(
        faces.mean(axis=(2, 3)), np.asarray(RECORD["face_window_channel_means"]), atol=TOL
    )


def test_seeded_model_matches_published_model(
    clip: tuple[np.ndarray, np.ndarray], seeded_model: Wav2LipSyncNet
) -> None:
    faces, mels = _inputs(clip)
    with torch.inference_mode():
        v = seeded_model.embed_faces(torch.from_numpy(faces)).numpy()
        a = seeded_model.embed_audio(torch.from_numpy(mels)).numpy()
    np.testing.assert_allclose(v, np.asarray(RECORD["face_embeddings"]), atol=TOL)
    np.testing.assert_allclose(a, np.asarray(RECORD["audio_embeddings"]), atol=TOL)
    np.testing.assert_allclose(a @ v.T, np.asarray(RECORD["cosine_audio_by_face"]), atol=TOL)


def test_shift_search_finds_a_planted_offset() -> None:
    # Face window f is the audio window f + 3 (the audio lags by 3 frames): the offset, in
    # SyncNet's sign (positive = audio leads), is -3.
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(40, 16))
    audio /= np.linalg.norm(audio, axis=1, keepdims=True)
    faces = audio[3:33]
    shifts, means = shift_similarities(faces, audio, vshift=5)
    assert shifts[int(np.argmax(means))] == 3
    assert means.max() == pytest.approx(1.0)


def test_face_box_in_crop_is_the_tracked_box() -> None:
    # crop_scale 0.4: the 224 crop spans 2.8 half-sides; the face's x from 0.4 to 2.4, y 0 to 2.
    assert face_box_in_crop(0.4) == (32, 0, 192, 160)
    assert face_box_in_crop(0.0) == (0, 0, 224, 224)


def test_measure_on_a_clip(
    clip: tuple[np.ndarray, np.ndarray], seeded_model: Wav2LipSyncNet, tmp_path: Path
) -> None:
    weights = tmp_path / "expert.pth"
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in seeded_model.state_dict().items()}}, weights
    )
    frames, audio = clip
    measure = Wav2LipMeasure(str(weights), "cpu")
    measure.observe(frames[:4])
    measure.observe(frames[4:8])
    inputs = TrackInputs(np.zeros((3, 3)), audio, 25.0, 0.0, None, None)
    values = measure.finish(inputs)
    assert values["wav2lip_windows"] == 4  # 8 frames: 4 windows of 5
    assert values["wav2lip_offset"] in (-1, 0, 1)
    assert values["wav2lip_best_sync"] >= values["wav2lip_sync"]


def test_other_weights_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({"netcnnaud.0.weight": torch.zeros(1)}, other)
    with pytest.raises(ModelWeightsError, match="not Wav2Lip's lip-sync expert"):
        load_expert(str(other), "cpu")


@pytest.fixture(scope="module")
def seeded_weights(tmp_path_factory: pytest.TempPathFactory, seeded_model: Wav2LipSyncNet) -> Path:
    """The seeded expert saved as Wav2Lip's training script saves a checkpoint."""
    path = tmp_path_factory.mktemp("expert") / "lipsync_expert_seeded.pth"
    torch.save({"state_dict": seeded_model.state_dict(), "global_step": 0}, path)
    return path


@pytest.mark.slow
def test_score_with_expert_writes_its_measure_and_definition(
    batch_short_clip: Path, syncnet_parity_weights: Path, seeded_weights: Path, tmp_path: Path
) -> None:
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = invoke_cli(
        [
            "score",
            str(batch_short_clip),
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--expert",
            "wav2lip",
            "--expert-weights",
            str(seeded_weights),
            "-o",
            str(out_json),
            "-o",
            str(out_csv),
        ]
    )
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(out_json.read_text(encoding="utf-8"))["results"]
    assert rec["status"] == "ok"
    track = rec["tracks"][0]
    # 12 frames: 8 face windows of 5; 12 * 640 samples give 49 mel columns, 10 windows of 16.
    assert track["wav2lip_windows"] == 8
    assert -1.0 <= track["wav2lip_sync"] <= track["wav2lip_best_sync"] <= 1.0
    assert rec["provenance"]["measures"]["wav2lip"].startswith("Wav2Lip lip-sync expert")
    sha = hashlib.sha256(seeded_weights.read_bytes()).hexdigest()
    assert rec["provenance"]["expert_weights_sha256"] == sha
    with open(out_csv, newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert float(row["wav2lip_sync"]) == pytest.approx(track["wav2lip_sync"], abs=1e-4)


def test_expert_without_weights_is_one_line(batch_short_clip: Path) -> None:
    result = invoke_cli(
        ["score", str(batch_short_clip), "--recipe", "direct", "--expert", "wav2lip"]
    )
    assert result.exit_code != 0
    assert "--expert-weights" in result.output


def test_every_expert_is_a_model_measure() -> None:
    for name in EXPERTS:
        spec = get_measure(name)
        assert "model" in spec.needs and spec.level == "track" and not spec.default


def test_expert_weights_content_enters_the_configuration_hash(tmp_path: Path) -> None:
    weights = tmp_path / "expert.pth"
    weights.write_bytes(b"first")
    score = ScoreConfig(expert="wav2lip", expert_weights=str(weights))
    config = BatchConfig("direct", score_config=score)
    first = configuration_hash(config, "syncnet-sha")
    weights.write_bytes(b"other weights, same path")
    assert configuration_hash(config, "syncnet-sha") != first
    assert configuration_hash(BatchConfig("direct"), "syncnet-sha") != first


@pytest.mark.slow
def test_face_track_recipe_shows_the_expert_each_track(
    synth_short_clip: SynthClip, syncnet_parity_weights: Path, seeded_weights: Path
) -> None:
    score = ScoreConfig(device="cpu", expert="wav2lip", expert_weights=str(seeded_weights))
    pipe = SyncPipeline(
        score,
        PipelineConfig(min_track=50),
        syncnet_weights=syncnet_parity_weights,
        offline=True,
        progress=False,
    )
    result = pipe.evaluate(synth_short_clip.path, detections=synth_short_clip.boxes)
    assert result.status == "ok", result.reason
    for track in result.tracks:
        # Every frame of the track with audio gives a window: frames - 4.
        frames = track.last_frame - track.first_frame + 1
        assert track.value("wav2lip_windows") == frames - 4
        assert track.value("wav2lip_offset") is not None
    assert video_value(result, "wav2lip_sync") is not None
