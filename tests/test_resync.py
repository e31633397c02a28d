"""fix and selftest: audio moved by known amounts, checked by independent oracles and by an
embedder whose embeddings carry a known audio-visual signal (the parity weights cannot judge
sync: their distance curve is a V at offset 0 whatever the audio)."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
import subprocess

import av
from click.testing import CliRunner
import numpy as np
import pytest
from scipy.signal import correlate

from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline
from syncnet_eval.cli import cli
from syncnet_eval.decode import read_audio
from syncnet_eval.engines import create_executor
from syncnet_eval.engines.plan import BatchConfig, LocalOptions
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.engines.scorer import configuration_hash
from syncnet_eval.errors import ConfigError
from syncnet_eval.inputs import BatchInput
from syncnet_eval.resync import fix_video, move_audio
from syncnet_eval.selftest import run_selftest

from conftest import (
    MEDIA_DIR,
    OFFICIAL_SYNCNET_AVAILABLE,
    PARITY_S3FD_WEIGHTS,
    SynthClip,
    invoke_cli,
)
from signal_media import SignalEmbedder, write_signal_clip

FPS = 25
RATE = 16000


def _ffmpeg(*args: str) -> str:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _lag(moved: np.ndarray, original: np.ndarray) -> int:
    """Samples by which ``moved`` is later than ``original`` (cross-correlation peak)."""
    n = min(moved.size, original.size)
    c = correlate(moved[:n].astype(float), original[:n].astype(float), mode="full", method="fft")
    return int(np.argmax(c)) - (n - 1)


def _video_packet_hashes(path: Path) -> list[str]:
    text = _ffmpeg("-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-")
    return [line.split(",")[-1].strip() for line in text.splitlines() if not line.startswith("#")]


# -- the oracle: ffmpeg shifts a clip, fix shifts it back ------------------------------------


@pytest.mark.parametrize(
    "frames",
    [3, -3, pytest.param(6, marks=pytest.mark.slow), pytest.param(-6, marks=pytest.mark.slow)],
)
def test_fix_moves_the_audio_back_sample_accurately_and_copies_the_video(
    frames: int, tmp_path: Path, syncnet_parity_weights: Path
) -> None:
    src = MEDIA_DIR / "syncnet_example_h264.mp4"
    shifted = tmp_path / "shifted.mp4"
    n = round(abs(frames) / FPS * RATE)  # the clip's audio is 16 kHz
    # Positive: the audio made to lead by `frames` (its start trimmed); negative: delayed.
    graph = (
        f"atrim=start_sample={n},asetpts=PTS-STARTPTS"
        if frames > 0
        else f"adelay=delays={n}S:all=1"
    )
    _ffmpeg("-i", str(src), "-c:v", "copy", "-af", graph, "-c:a", "aac", str(shifted))
    original = read_audio(src)
    assert _lag(read_audio(shifted), original) == -round(frames / FPS * RATE)

    fixed = tmp_path / "fixed.mp4"
    result = CliRunner().invoke(
        cli,
        [
            "fix",
            str(shifted),
            "-o",
            str(fixed),
            "--offset",
            str(frames),
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--device",
            "cpu",
            "-q",
        ],
    )
    assert fixed.is_file(), result.output
    assert _lag(read_audio(fixed), original) == 0  # the documented sign, to the sample
    assert _video_packet_hashes(fixed) == _video_packet_hashes(shifted)  # never re-encoded
    with av.open(str(fixed)) as a, av.open(str(shifted)) as b:
        assert abs(a.duration - b.duration) < 50_000  # microseconds: the length is kept


def test_move_audio_keeps_the_length_and_refuses_its_input(tmp_path: Path) -> None:
    src = MEDIA_DIR / "syncnet_example.avi"  # pcm audio: stays pcm
    out = tmp_path / "moved.avi"
    move_audio(src, out, 0.2)
    assert read_audio(out).size == read_audio(src).size
    assert _lag(read_audio(out), read_audio(src)) == round(0.2 * RATE)
    with pytest.raises(Exception, match="overwrite the input"):
        move_audio(out, out, 0.1)


# -- a known signal through decode, windows, scorer and fix -----------------------------------


@pytest.fixture(scope="module")
def signal_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signal") / "signal.mkv"
    write_signal_clip(path)
    return path


@pytest.fixture(scope="module")
def signal_pipe() -> SyncPipeline:
    return SyncPipeline(ScoreConfig(device="cpu"), embedder=SignalEmbedder())


@pytest.fixture(scope="module")
def signal_config() -> BatchConfig:
    """The signal embedder as a configuration: scored through the run driver."""
    return BatchConfig("direct", ScoreConfig(device="cpu"), embedder="signal")


def test_the_signal_clip_measures_in_sync(signal_pipe: SyncPipeline, signal_clip: Path) -> None:
    result = signal_pipe.evaluate(signal_clip, "direct")
    assert result.ok and result.av_offset == 0, result.reason
    assert result.provenance["syncnet_weights"] == "custom embedder SignalEmbedder"


@pytest.mark.parametrize("planted", [-6, -3, 3, 6])
def test_planted_shifts_are_measured_with_their_sign_and_fixed_back_to_zero(
    planted: int,
    signal_pipe: SyncPipeline,
    signal_config: BatchConfig,
    signal_clip: Path,
    tmp_path: Path,
) -> None:
    shifted = tmp_path / f"shift{planted:+d}.mkv"
    move_audio(signal_clip, shifted, -planted / FPS)  # audio advanced: it leads by `planted`
    measured = signal_pipe.evaluate(shifted, "direct")
    assert measured.av_offset == planted  # positive: the audio leads the video
    assert measured.av_offset_ms == planted * 40
    report = fix_video(signal_config, shifted, tmp_path / "fixed.mkv")
    assert report.offset_frames == planted and report.delay_s == pytest.approx(planted / FPS)
    assert report.residual == 0 and report.passed


def test_selftest_recovers_every_shift_with_a_working_embedder(
    signal_config: BatchConfig, signal_clip: Path, tmp_path: Path
) -> None:
    report = run_selftest(signal_config, signal_clip, tmp_path)
    assert report.passed, report.to_dict()
    assert [s.recovered for s in report.shifts] == [-6, -3, 3, 6]


def test_score_fix_and_selftest_record_one_hash_for_one_configuration(
    syncnet_parity_weights: Path, synth_two_face_clip: SynthClip, tmp_path: Path
) -> None:
    """One configuration (face tracks with S3FD: its weights are part of the hash), three
    commands: the records of ``score``, ``fix VIDEO`` and ``selftest`` carry one hash."""
    if not PARITY_S3FD_WEIGHTS.is_file():
        pytest.skip(f"{PARITY_S3FD_WEIGHTS} not found")
    clip = synth_two_face_clip.path
    config = BatchConfig(
        "syncnet-pipeline",
        ScoreConfig(device="cpu"),
        PipelineConfig(min_track=20),
        syncnet_weights=syncnet_parity_weights,
        s3fd_weights=PARITY_S3FD_WEIGHTS,
    )
    scored = run_inputs([BatchInput(clip)], config).config_hash
    fixed = fix_video(config, clip, tmp_path / "fixed.mp4", offset=0.0).config_hash
    selftest = run_selftest(config, clip, tmp_path, shifts=(3,)).config_hash
    assert len(scored) == 16
    assert fixed == scored and selftest == scored


def test_a_registered_embedder_is_one_more_configuration_hashed_by_name(
    signal_config: BatchConfig, signal_clip: Path, tmp_path: Path
) -> None:
    """The signal embedder runs through the driver in this process and in worker processes
    (which never registered it), with a hash that names it and no SyncNet weights looked for."""
    alone = run_inputs([BatchInput(signal_clip)], signal_config)
    two = create_executor("local", LocalOptions(workers=2))
    workers = run_inputs([BatchInput(signal_clip)], signal_config, executor=two)
    assert alone.records[0].result.av_offset == 0 == workers.records[0].result.av_offset
    assert alone.config_hash == workers.config_hash
    assert alone.records[0].result.provenance["syncnet_weights_sha256"] is None
    assert alone.config_hash == configuration_hash(signal_config, None)
    assert alone.config_hash != configuration_hash(replace(signal_config, embedder="syncnet"), None)


def test_an_unknown_embedder_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown embedder 'nope'; choose one of syncnet"):
        BatchConfig("direct", embedder="nope")


def test_selftest_says_the_parity_weights_recover_nothing(
    syncnet_parity_weights: Path, signal_clip: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "selftest",
            str(signal_clip),
            "--recipe",
            "direct",
            "--shifts",
            "-3,3",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 1
    assert "MISSED" in result.stdout and "not the official syncnet_v2.model" in result.stdout
    assert "untrained or wrong weights" in result.stderr


def test_selftest_offline_without_the_demo_clip_says_what_it_is_and_how_to_get_it(
    syncnet_parity_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SYNCNET_EVAL_WEIGHTS", raising=False)
    result = invoke_cli(["selftest", "--offline", "--syncnet-weights", str(syncnet_parity_weights)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    line = lines[0]
    assert "example.avi (the SyncNet demo clip)" in line and "weights" not in line
    assert "https://www.robots.ox.ac.uk/" in line  # where to fetch it by hand
    assert str(tmp_path / "xdg" / "syncnet-eval" / "example.avi") in line  # and where to put it
    assert "syncnet-eval selftest VIDEO" in line
    assert "of your own FILE" not in line


@pytest.mark.weights
@pytest.mark.skipif(
    not OFFICIAL_SYNCNET_AVAILABLE, reason="the official syncnet_v2.model is absent"
)
def test_selftest_on_the_demo_clip_recovers_every_shift_with_the_official_weights() -> None:
    result = CliRunner().invoke(
        cli, ["selftest", str(MEDIA_DIR / "syncnet_example.avi"), "--recipe", "direct", "--offline"]
    )
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout


# -- bad input: one line, nothing written -----------------------------------------------------


def test_fix_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, syncnet_parity_weights: Path, batch_clips: list[Path]
) -> None:
    silent = tmp_path / "silent.mp4"
    _ffmpeg("-i", str(batch_clips[0]), "-an", "-c", "copy", str(silent))
    base = [
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(syncnet_parity_weights),
        "--device",
        "cpu",
        "-q",
    ]
    cases = [
        ([str(silent), "-o", str(tmp_path / "a.mp4")], 1, "no audio stream"),
        ([str(silent), "-o", str(tmp_path / "b.mp4"), "--offset", "3"], 1, "no audio"),
        ([str(batch_clips[0]), "-o", "/proc/x.mp4"], 2, "/proc"),
        ([str(batch_clips[0]), "-o", str(batch_clips[0])], 2, "is the input video"),
    ]
    for args, code, needle in cases:
        result = CliRunner().invoke(cli, ["fix", *args, *base])
        assert result.exit_code == code, (args, result.output)
        errors = [ln for ln in result.output.splitlines() if "Error" in ln]
        assert len(errors) == 1 and needle in result.output, result.output
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.mp4"]
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    result = CliRunner().invoke(cli, ["fix", str(batch_clips[0]), "-o", str(existing), *base])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert existing.read_bytes() == b"x"


@pytest.mark.slow  # a batch of fixes, each scored twice
def test_fix_batch_writes_copies_and_a_summary(
    tmp_path: Path, signal_clip: Path, syncnet_parity_weights: Path
) -> None:
    clips = _shifted_clips(tmp_path / "in", signal_clip)
    out = tmp_path / "fixed"
    args = [
        "fix",
        str(clips),
        "--out-dir",
        str(out),
        "--offset",
        "3",
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(syncnet_parity_weights),
        "--device",
        "cpu",
        "-q",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads((out / "fix.json").read_text(encoding="utf-8"))
    assert sorted(Path(f["output"]).name for f in doc["fixes"]) == ["s+3.mkv", "s-3.mkv"]
    assert all(f["offset_frames"] == 3 for f in doc["fixes"])
    again = CliRunner().invoke(cli, args)  # a rerun keeps its own copies instead of refusing
    assert "exists" not in again.output, again.output


@pytest.mark.slow  # scores the clip three times
def test_fix_from_results_shows_the_numbers_of_the_file_as_before(
    tmp_path: Path, signal_clip: Path, syncnet_parity_weights: Path
) -> None:
    base = [
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(syncnet_parity_weights),
        "--device",
        "cpu",
    ]
    results = tmp_path / "r.jsonl"
    scored = CliRunner().invoke(cli, ["score", str(signal_clip), "-q", "-o", str(results), *base])
    assert scored.exit_code == 0, scored.output
    record = json.loads(results.read_text(encoding="utf-8").splitlines()[0])
    result = CliRunner().invoke(
        cli,
        [
            "fix",
            str(signal_clip),
            "-o",
            str(tmp_path / "f.mkv"),
            "--from",
            str(results),
            "--tolerance",
            "30",
            *base,
        ],
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith(str(signal_clip)))
    cells = row[len(str(signal_clip)) :].split()
    # offset before, moved audio (2 cells), offset after, LSE-D before/after, LSE-C before/after
    assert cells[4] == f"{record['lse_d']:.3f}" and cells[6] == f"{record['lse_c']:.3f}", row


@pytest.mark.slow  # two clips measured, fixed and measured again
def test_a_batch_fix_shows_progress_of_both_measurements(
    tmp_path: Path, signal_clip: Path, syncnet_parity_weights: Path
) -> None:
    clips = _shifted_clips(tmp_path / "in", signal_clip)
    result = CliRunner().invoke(
        cli,
        [
            "fix",
            str(clips),
            "--out-dir",
            str(tmp_path / "out"),
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--device",
            "cpu",
            "--tolerance",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("scoring 2 inputs") == 2  # the inputs, then their copies
    assert result.stderr.count("[2/2]") == 2


def test_fix_help_names_its_own_logs_for_resume() -> None:
    text = CliRunner().invoke(cli, ["fix", "--help"], terminal_width=200).output
    assert "FILE.jsonl" not in text  # fix writes no -o log: it resumes from its own
    resume = text[text.index("--resume") : text.index("--retry-failed")]
    assert "before.jsonl and after.jsonl in --out-dir" in resume
    assert "written.jsonl" in text and "lock" in text
    score_help = CliRunner().invoke(cli, ["score", "--help"], terminal_width=200).output
    assert "FILE.parquet" in score_help


def _shifted_clips(directory: Path, signal_clip: Path) -> Path:
    """``directory`` with copies of the signal clip whose audio leads by 3 and lags by 3."""
    directory.mkdir()
    for planted in (3, -3):
        move_audio(signal_clip, directory / f"s{planted:+d}.mkv", -planted / FPS)
    return directory


def test_fix_with_weights_that_are_not_official_says_its_measurement_cannot_be_trusted(
    tmp_path: Path, signal_clip: Path, syncnet_parity_weights: Path
) -> None:
    """The parity weights measure +0 on any clip, here one delayed 120 ms: 'pass' alone would
    say the clip is in sync."""
    delayed = tmp_path / "delayed.mkv"
    move_audio(signal_clip, delayed, 0.12)
    result = CliRunner().invoke(
        cli,
        [
            "fix",
            str(delayed),
            "-o",
            str(tmp_path / "fixed.mkv"),
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--device",
            "cpu",
        ],
    )
    assert "pass" in result.stdout, result.output
    notes = [ln for ln in result.stdout.splitlines() if ln.startswith("Note:")]
    assert len(notes) == 1, result.output
    assert "not the official syncnet_v2.model" in notes[0] and "cannot be trusted" in notes[0]
