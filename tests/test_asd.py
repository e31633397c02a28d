"""Light-ASD: checkpoints, the batched multi-duration scorer against a plain per-chunk loop, and
the acceptance clips (two real talking clips side by side) with the real trained weights."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess

from click.testing import CliRunner
import numpy as np
import pytest
import torch

from syncnet_eval.asd import ASD_DURATIONS_S, ActiveSpeakerScorer, asd_chunks, asd_faces
from syncnet_eval.audio import mfcc
from syncnet_eval.cli import cli
from syncnet_eval.config import PipelineConfig
from syncnet_eval.decode import iter_frames, read_audio
from syncnet_eval.errors import ModelWeightsError
from syncnet_eval.models.light_asd import LightASD, load_light_asd_state
from syncnet_eval.models.state import load_state_dict
from syncnet_eval.models.weights import OPTIONAL, verify_weights
from syncnet_eval.pipeline import SyncPipeline
from syncnet_eval.types import VideoResult

from conftest import ASD_WEIGHTS_DIR, MEDIA_DIR, PARITY_SYNCNET_WEIGHTS

CHECKPOINTS = {
    "talkset": ASD_WEIGHTS_DIR / "light_asd_finetuning_TalkSet.model",
    "ava": ASD_WEIGHTS_DIR / "light_asd_pretrain_AVA_CVPR.model",
}
LEFT_CLIP = MEDIA_DIR / "hdtf_WDA_KatieHill_000.mp4"
RIGHT_CLIP = MEDIA_DIR / "hdtf_WDA_BobMenendez_000.mp4"
FACE_CROP_CLIP = MEDIA_DIR / "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4"
HALF_PX = 256  # each clip's side in the side-by-side picture

pytestmark = pytest.mark.skipif(
    not all(p.is_file() for p in (*CHECKPOINTS.values(), LEFT_CLIP, RIGHT_CLIP, FACE_CROP_CLIP)),
    reason="../shared/weights/asd or the shared clips are missing",
)


# -- checkpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_both_published_checkpoints_load_with_every_key_matched(name: str) -> None:
    path = CHECKPOINTS[name]
    verify_weights(path, OPTIONAL[f"light-asd-{name}"])  # the registry's size and sha256
    state = load_state_dict(path)
    model = LightASD()
    assert set(model.state_dict()) == set(state)  # every key, BatchNorm counters included
    load_light_asd_state(model, state, str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_checkpoint_missing_a_key_is_refused_naming_it(tmp_path: Path) -> None:
    state = load_state_dict(CHECKPOINTS["talkset"])
    del state["model.GRU.gru_backward.bias_hh_l0"]
    broken = tmp_path / "broken.model"
    torch.save(state, broken)
    with pytest.raises(ModelWeightsError, match=r"missing keys: model\.GRU\.gru_backward\.bias_hh"):
        load_light_asd_state(LightASD(), load_state_dict(broken), str(broken))
    syncnet = load_state_dict(PARITY_SYNCNET_WEIGHTS)
    with pytest.raises(ModelWeightsError, match="SyncNet weights.*not a Light-ASD checkpoint"):
        load_light_asd_state(LightASD(), syncnet, "syncnet.model")


def test_the_cli_refuses_a_broken_asd_checkpoint_by_name(tmp_path: Path) -> None:
    state = load_state_dict(CHECKPOINTS["ava"])
    del state["lossAV.FC.bias"]
    broken = tmp_path / "broken.model"
    torch.save(state, broken)
    result = CliRunner().invoke(
        cli,
        [
            "speakers",
            str(FACE_CROP_CLIP),
            "-o",
            str(tmp_path / "s.json"),
            "--asd-weights",
            str(broken),
            "--syncnet-weights",
            str(PARITY_SYNCNET_WEIGHTS),
            "--detector",
            "hog",
        ],
    )
    assert result.exit_code == 1
    assert "missing keys: lossAV.FC.bias" in result.output
    assert "Traceback" not in result.output


# -- the scorer against a straightforward per-window evaluation -------------------------------


def _per_window_reference(model: LightASD, faces: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """The authors' loop: for each duration, each chunk through the network on its own, the
    chunks' logits concatenated; the mean over durations."""
    n = min(len(faces), len(cc) // 4)
    per_duration = []
    with torch.no_grad():
        for seconds in ASD_DURATIONS_S:
            logits = []
            for i in range(int(np.ceil(n / (25 * seconds)))):
                a, b = i * 25 * seconds, min((i + 1) * 25 * seconds, n)
                v = torch.tensor(faces[a:b], dtype=torch.float32)[None]
                m = torch.tensor(cc[4 * a : 4 * b], dtype=torch.float32)[None]
                logits.append(model(v, m)[0].numpy())
            per_duration.append(np.concatenate(logits))
    return np.mean(per_duration, axis=0)


@pytest.fixture(scope="module")
def crop_inputs() -> tuple[np.ndarray, np.ndarray]:
    frames = np.concatenate(list(iter_frames(FACE_CROP_CLIP, jpeg_roundtrip=False)))[:90]
    return asd_faces(frames), mfcc(read_audio(FACE_CROP_CLIP))


@pytest.mark.slow  # the per-window oracle: about 1 min on 2 idle cores, 2 on a busy machine
def test_batched_scores_equal_the_per_window_evaluation(
    crop_inputs: tuple[np.ndarray, np.ndarray],
) -> None:
    faces, cc = crop_inputs
    model = LightASD()
    load_light_asd_state(model, load_state_dict(CHECKPOINTS["talkset"]), "talkset")
    model.eval()
    expected = _per_window_reference(model, faces, cc)
    # batch_frames 80 splits the 25-frame chunks over two passes and leaves 90 frames alone
    got = ActiveSpeakerScorer(model, torch.device("cpu"), batch_frames=80).score(faces, cc)
    assert got.shape == (90,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    assert np.ptp(got) > 0.5  # a real signal, not a constant
    # audio shorter than the video: the frames with audio only
    assert ActiveSpeakerScorer(model, torch.device("cpu")).score(faces, cc[:203]).shape == (50,)


def test_chunks_follow_the_durations() -> None:
    spans = asd_chunks(90)
    assert spans[1] == [(0, 25), (25, 50), (50, 75), (75, 90)]
    assert spans[3] == [(0, 75), (75, 90)]
    assert spans[4] == spans[5] == spans[6] == [(0, 90)]


# -- the acceptance clips: two real talking clips side by side --------------------------------


def _side_by_side(out: Path, audio_from: str, frozen: str | None) -> Path:
    """LEFT_CLIP | RIGHT_CLIP, 5 s at 25 fps, with one clip's audio; ``frozen`` repeats the
    first frame of that side (a face whose mouth never moves)."""
    freeze = ",trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB"
    left = f"[0:v]scale={HALF_PX}:{HALF_PX}{freeze if frozen == 'left' else ''}[a]"
    right = f"[1:v]scale={HALF_PX}:{HALF_PX}{freeze if frozen == 'right' else ''}[b]"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(LEFT_CLIP),
            "-i",
            str(RIGHT_CLIP),
            "-filter_complex",
            f"{left};{right};[a][b]hstack=inputs=2[v]",
            "-map",
            "[v]",
            "-map",
            f"{0 if audio_from == 'left' else 1}:a",
            "-t",
            "5",
            "-r",
            "25",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-c:a",
            "aac",
            str(out),
        ],
        check=True,
    )
    return out


def _side(result: VideoResult, index: int | None) -> str:
    track = next(t for t in result.tracks if t.index == index)
    assert track.mean_box is not None
    return "left" if (track.mean_box[0] + track.mean_box[2]) / 2 < HALF_PX else "right"


def _fractions(result: VideoResult) -> dict[str, float]:
    return {_side(result, t.index): t.speaking_fraction or 0.0 for t in result.tracks}


@pytest.fixture(scope="module")
def pipeline() -> SyncPipeline:
    return SyncPipeline(
        pipeline_config=PipelineConfig(detector="hog", track_select="asd"),
        syncnet_weights=PARITY_SYNCNET_WEIGHTS,
        asd_weights=CHECKPOINTS["talkset"],
        progress=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("speaker", ["left", "right"])
def test_the_speaking_face_is_chosen_and_a_frozen_mouth_is_not_speaking(
    pipeline: SyncPipeline, tmp_path: Path, speaker: str
) -> None:
    listener = "right" if speaker == "left" else "left"
    clip = _side_by_side(tmp_path / f"{speaker}.mp4", audio_from=speaker, frozen=listener)
    result = pipeline.evaluate(clip)
    assert result.ok, result.reason
    fractions = _fractions(result)
    assert sorted(fractions) == ["left", "right"]
    print(f"{speaker} speaks, {listener} frozen: speaking fractions {fractions}")
    assert fractions[speaker] > 0.5  # speaking for most frames
    assert fractions[listener] < 0.1  # the frozen mouth is not speaking
    assert result.track_select == "asd" and _side(result, result.selected_track) == speaker
    chosen = next(t for t in result.tracks if t.index == result.selected_track)
    assert (result.av_offset, result.lse_d, result.lse_c) == (
        chosen.av_offset,
        chosen.lse_d,
        chosen.lse_c,
    )
    assert result.provenance["asd_weights_official"] is True
    for t in result.tracks:
        assert t.speaking_judge == "light-asd"
        assert t.asd_scores is not None and len(t.asd_scores) == t.num_frames
        assert t.asd_time_s is not None and t.asd_time_s[0] == pytest.approx(t.first_frame / 25)


@pytest.mark.slow
def test_the_ava_checkpoint_hears_silence(tmp_path: Path) -> None:
    """The audio reaches the network: with the AVA checkpoint a talking face is speaking with
    its own audio and not speaking when the audio is silent (the TalkSet checkpoint calls it
    speaking either way, a property of that model measured in the README)."""
    silence = tmp_path / "silence.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=16000:cl=mono",
            "-t",
            "8",
            "-c:a",
            "pcm_s16le",
            str(silence),
        ],
        check=True,
    )
    ava = SyncPipeline(
        pipeline_config=PipelineConfig(detector="hog", asd="light-asd", asd_model="ava"),
        syncnet_weights=PARITY_SYNCNET_WEIGHTS,
        asd_weights=CHECKPOINTS["ava"],
        progress=False,
    )
    own, silent = ava.evaluate(LEFT_CLIP), ava.evaluate(LEFT_CLIP, audio_path=silence)
    assert own.ok and silent.ok and len(own.tracks) == len(silent.tracks) == 1
    heard, unheard = own.tracks[0].speaking_fraction, silent.tracks[0].speaking_fraction
    print(f"AVA speaking fraction: own audio {heard}, silent audio {unheard}")
    assert heard is not None and heard > 0.5
    assert unheard is not None and unheard < 0.1
    assert "silent_audio" in silent.flags


@pytest.mark.slow
def test_asd_changes_no_syncnet_number_and_best_stays_the_default(
    pipeline: SyncPipeline, tmp_path: Path
) -> None:
    clip = _side_by_side(tmp_path / "both.mp4", audio_from="left", frozen="right")
    with_asd = pipeline.evaluate(clip)
    plain = SyncPipeline(
        pipeline_config=PipelineConfig(detector="hog"),
        syncnet_weights=PARITY_SYNCNET_WEIGHTS,
        progress=False,
    ).evaluate(clip)
    assert plain.track_select == "best" and plain.aggregate == "best"
    assert plain.selected_track is not None
    for a, b in zip(with_asd.tracks, plain.tracks, strict=True):
        assert (a.av_offset, a.lse_d, a.lse_c, a.dist_by_shift) == (
            b.av_offset,
            b.lse_d,
            b.lse_c,
            b.dist_by_shift,
        )
        assert b.asd_scores is None and b.speaking_judge == "syncnet"


@pytest.mark.slow
def test_speakers_cli_writes_rttm_json_and_csv(tmp_path: Path) -> None:
    clip = _side_by_side(tmp_path / "right.mp4", audio_from="right", frozen="left")
    rttm, doc_path, csv_path = tmp_path / "s.rttm", tmp_path / "s.json", tmp_path / "s.csv"
    args = [
        "speakers",
        str(clip),
        "-o",
        str(rttm),
        "-o",
        str(doc_path),
        "-o",
        str(csv_path),
        "--syncnet-weights",
        str(PARITY_SYNCNET_WEIGHTS),
        "--detector",
        "hog",
        "--asd-weights",
        str(CHECKPOINTS["talkset"]),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    assert doc["status"] == "ok" and len(doc["tracks"]) == 2
    by_side = {
        ("left" if (t["mean_box"][0] + t["mean_box"][2]) / 2 < HALF_PX else "right"): t
        for t in doc["tracks"]
    }
    assert by_side["right"]["speaking_fraction"] > 0.5 > 0.1 > by_side["left"]["speaking_fraction"]
    lines = rttm.read_text(encoding="utf-8").splitlines()
    segments = [s for t in doc["tracks"] for s in t["segments"]]
    assert len(lines) == len(segments) >= 1
    for line in lines:
        fields = line.split()
        assert len(fields) == 10 and fields[0] == "SPEAKER" and fields[1] == "right"
        onset, duration = float(fields[3]), float(fields[4])
        assert onset >= 0 and duration > 0 and onset + duration <= 5.0 + 1e-6
        assert fields[7] == f"track{by_side['right']['index']}"  # only the speaker speaks
    assert csv_path.read_text(encoding="utf-8").count("\n") == len(segments) + 1


def test_speakers_bad_input_is_one_line_and_a_status(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    doc_path = tmp_path / "s.json"
    result = CliRunner().invoke(
        cli,
        [
            "speakers",
            str(bad),
            "-o",
            str(doc_path),
            "--syncnet-weights",
            str(PARITY_SYNCNET_WEIGHTS),
            "--detector",
            "hog",
            "--asd-weights",
            str(CHECKPOINTS["talkset"]),
        ],
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "Traceback" not in result.output
    assert json.loads(doc_path.read_text(encoding="utf-8"))["status"] == "decode_error"


def test_asd_options_need_the_pipeline_recipe(tmp_path: Path) -> None:
    for extra in (["--asd", "light-asd"], ["--track-select", "asd"]):
        result = CliRunner().invoke(
            cli,
            [
                "score",
                str(FACE_CROP_CLIP),
                "--recipe",
                "direct",
                "--syncnet-weights",
                str(PARITY_SYNCNET_WEIGHTS),
                *extra,
            ],
        )
        assert result.exit_code == 2, result.output
        assert "need face tracks" in result.output
    old_name = CliRunner().invoke(cli, ["score", "x.mp4", "--aggregate", "index:x"])
    assert old_name.exit_code == 2 and "'index:x' is not one of" in old_name.output
    assert "--track-select, --aggregate" in CliRunner().invoke(cli, ["score", "--help"]).output


def test_progress_adds_up_to_the_frames_scored_and_changes_no_score(
    crop_inputs: tuple[np.ndarray, np.ndarray],
) -> None:
    """ASD is a long stage: it reports frames of the track as its chunks are scored."""
    faces, cc = crop_inputs
    torch.manual_seed(0)
    scorer = ActiveSpeakerScorer(LightASD(), torch.device("cpu"))
    told: list[int] = []
    with_progress = scorer.score(faces, cc, on_frames=told.append)
    assert sum(told) == len(faces) == 90
    assert len(told) > 3 and all(t > 0 for t in told)  # along the way, not once at the end
    np.testing.assert_array_equal(with_progress, scorer.score(faces, cc))
