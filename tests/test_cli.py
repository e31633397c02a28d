"""``syncnet-eval score`` through click: single file, outputs, manifests, progress, usage."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
import shutil
import stat
import subprocess
from typing import Any

from click.testing import CliRunner
import pytest

from syncnet_eval.cli import cli, main
from syncnet_eval.io import TRACK_CSV_COLUMNS
from syncnet_eval.models import weights as wm
from syncnet_eval.types import VideoResult


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, capture_output=True
    )


def _score(weights: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        cli,
        [
            "score",
            "--recipe",
            "direct",
            "--syncnet-weights",
            str(weights),
            "--device",
            "cpu",
            *args,
        ],
    )
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_single_file_prints_a_table_and_writes_json_and_csv(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = _score(
        syncnet_parity_weights,
        str(batch_clips[0]),
        "-o",
        str(out_json),
        "-o",
        str(out_csv),
        "--per-track",
    )
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["file", "status", "AV", "offset", "LSE-D", "LSE-C", "tracks", "flags"]
    assert row.startswith(str(batch_clips[0])) and " ok " in row
    assert "ms)" in row and "few_windows" in row  # offset with its unit; a 1 s clip is flagged
    assert "positive: the audio leads the video" in result.stdout  # the sign, said once
    assert "summary:" not in result.stdout  # one video: no summary table
    # One video: its stages on stderr, one line each (not a terminal), and the notice that the
    # parity weights are not the official ones.
    stages = [ln for ln in result.stderr.splitlines() if " done in " in ln]
    assert [ln.split(": ")[1].split()[0] for ln in stages] == [
        "decode",
        "mfcc",
        "embeddings",
        "scoring",
    ]
    others = [ln for ln in result.stderr.splitlines() if ln not in stages]
    assert len(others) == 1 and "not the official syncnet_v2.model" in others[0]
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    (rec,) = doc["results"]
    assert VideoResult.from_dict(rec).to_dict() == {
        k: v for k, v in rec.items() if k not in ("input_identity", "config_hash", "from_log")
    }
    assert rec["from_log"] is False and rec["flags"] == ["few_windows"]
    assert rec["av_offset_ms"] == rec["av_offset"] * 40
    assert rec["status"] == "ok" and rec["input_identity"]["size"] == batch_clips[0].stat().st_size
    assert len(rec["config_hash"]) == 16
    assert doc["summary"]["num_ok"] == 1
    with open(out_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(TRACK_CSV_COLUMNS) and len(rows) == len(rec["tracks"])
    assert rows[0]["track_index"] == "0" and rows[0]["status"] == "ok"


def test_output_dash_prints_the_json_document(
    batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    result = _score(syncnet_parity_weights, str(batch_clips[1]), "-o", "-")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["results"][0]["status"] == "ok"
    assert doc["summary"]["num_inputs"] == 1


def test_single_failure_is_one_error_line_and_exit_1(
    tmp_path: Path, syncnet_parity_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "score",
                "--recipe",
                "direct",
                "--syncnet-weights",
                str(syncnet_parity_weights),
                "--device",
                "cpu",
                "-q",
                str(text),
            ]
        )
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [captured.err.strip()]
    assert captured.err.startswith(f"Error: {text}: not a readable media file")
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "args",
    [
        [],  # nothing to score
        ["{clip}", "-o", "{tmp}/out.txt"],  # unknown output format
        ["{clip}", "-o", "{tmp}/a.jsonl", "-o", "{tmp}/b.jsonl"],  # two logs
        ["{clip}", "{clip}", "--audio", "{clip}"],  # --audio takes one video
        ["{clip}", "--resume"],  # no log to resume from
        ["{clip}", "--workers", "0"],
        ["{clip}", "--timeout", "0"],
        ["{clip}", "--recipe", "nope"],
        ["--manifest", "{tmp}/missing.csv"],
        ["--manifest", "{tmp}/no_path_column.csv"],
        ["{tmp}/empty_dir"],  # no videos found
    ],
)
def test_bad_usage_exits_2_before_loading_models(
    args: list[str], batch_clips: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "no_path_column.csv").write_text("file\na.mp4\n", encoding="utf-8")
    (tmp_path / "empty_dir").mkdir()
    filled = [a.format(clip=batch_clips[0], tmp=tmp_path) for a in args]
    weights = tmp_path / "not_loaded.model"  # never read: usage is checked first
    weights.write_bytes(b"")
    result = CliRunner().invoke(cli, ["score", "--syncnet-weights", str(weights), *filled])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.txt").exists()


def test_an_empty_manifest_is_named_as_such(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,id\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["score", "--manifest", str(manifest)])
    assert result.exit_code == 2, result.output
    line = " ".join(result.output.split())
    assert f"{manifest}" in line and "no rows" in line, line
    assert "found in (" not in line


def test_a_write_that_fails_after_scoring_has_its_own_exit_status(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "r.json"

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the disk fills while the results are written
    result = _score(syncnet_parity_weights, str(batch_clips[0]), "-o", str(out))
    assert result.exit_code == 74, result.output  # EX_IOERR, not the usage status 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {out}: cannot write it (No space left on device)"]
    assert not out.exists() and not list(tmp_path.glob(".r.json.*.tmp"))


def test_temporary_files_left_by_a_killed_write_are_removed_at_the_next_start(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    log = tmp_path / "r.jsonl"
    left = [tmp_path / ".r.json.k2j4_x9a.tmp", tmp_path / ".r.jsonl.ab12cd34.tmp"]
    others = [
        tmp_path / ".r.json.note.txt",
        tmp_path / ".other.json.k2j4_x9a.tmp",
        tmp_path / "r.json.k2j4_x9a.tmp",
    ]
    for path in [*left, *others]:
        path.write_bytes(b"half a file")
    result = _score(syncnet_parity_weights, str(batch_clips[0]), "-o", str(out), "-o", str(log))
    assert result.exit_code == 0, result.output
    assert [p for p in left if p.exists()] == []  # ours, of these outputs: gone
    assert all(p.exists() for p in others)  # not ours or not of these outputs: kept


def test_an_option_with_one_allowed_value_says_so(batch_clips: list[Path]) -> None:
    result = CliRunner().invoke(cli, ["score", str(batch_clips[0]), "--fps", "30"])
    assert result.exit_code == 2, result.output
    assert "--fps': only 25 is supported, got 30" in result.output
    assert "<=x<=" not in result.output
    assert "--fps 25 " in CliRunner().invoke(cli, ["score", "--help"]).output
    typo = CliRunner().invoke(cli, ["score", str(batch_clips[0]), "--fps", "2x"])
    assert typo.exit_code == 2 and "'2x' is not a valid integer" in typo.output


def test_speakers_offers_only_the_face_track_recipe_it_runs(tmp_path: Path) -> None:
    shown = " ".join(CliRunner().invoke(cli, ["speakers", "--help"]).output.split())
    for refused in ("direct", "wav2lip-lrs", "--recipe", "Whole-frame", "--fps"):
        assert refused not in shown, refused
    out = str(tmp_path / "s.json")
    result = CliRunner().invoke(cli, ["speakers", "x.mp4", "-o", out, "--recipe", "direct"])
    assert result.exit_code == 2 and "'direct' is not 'syncnet-pipeline'" in result.output


def test_a_stage_that_fails_is_not_reported_done(
    syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.mp4"
    result = _score(syncnet_parity_weights, str(missing))
    assert result.exit_code == 1
    assert " done in " not in result.stderr, result.stderr
    assert f"Error: {missing}: file not found" in result.stderr


def test_audio_option_scores_a_video_against_a_separate_track(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    silent = tmp_path / "silent.mp4"
    wav = tmp_path / "voice.wav"
    _ffmpeg("-i", str(batch_clips[2]), "-an", "-c", "copy", str(silent))
    _ffmpeg("-i", str(batch_clips[2]), "-vn", "-ac", "1", "-ar", "16000", str(wav))
    assert _score(syncnet_parity_weights, str(silent)).exit_code == 1  # no_audio on its own
    result = _score(syncnet_parity_weights, str(silent), "--audio", str(wav), "-o", "-")
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["results"][0]
    assert rec["status"] == "ok"
    assert rec["provenance"]["audio_path"] == str(wav)
    assert rec["input_identity"]["audio"]["path"] == str(wav.resolve())


def test_manifest_rows_with_audio_ids_and_groups(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    shutil.copy2(batch_clips[0], data / "clips" / "a.mp4")
    _ffmpeg("-i", str(batch_clips[1]), "-an", "-c", "copy", str(data / "clips" / "b_silent.mp4"))
    _ffmpeg("-i", str(batch_clips[1]), "-vn", "-c:a", "aac", str(data / "b_voice.m4a"))
    manifest = data / "list.csv"
    manifest.write_text(
        "path,audio,id,group\n"
        "clips/a.mp4,,A,real\n"
        "clips/b_silent.mp4,b_voice.m4a,B,dubbed\n"
        "clips/nowhere.mp4,,C,dubbed\n",
        encoding="utf-8",
    )
    out = tmp_path / "m.json"
    result = _score(syncnet_parity_weights, "--manifest", str(manifest), "-o", str(out))
    assert result.exit_code == 1  # the row pointing nowhere
    doc = json.loads(out.read_text(encoding="utf-8"))
    got = [(r["id"], r["group"], r["status"]) for r in doc["results"]]
    assert got == [("A", "real", "ok"), ("B", "dubbed", "ok"), ("C", "dubbed", "error")]
    assert doc["results"][1]["provenance"]["audio_path"] == str(data / "b_voice.m4a")
    groups = doc["summary"]["groups"]
    assert groups["real"]["num_ok"] == 1
    assert (groups["dubbed"]["num_ok"], groups["dubbed"]["num_not_scored"]) == (1, 1)
    assert "group" in result.stdout and "dubbed" in result.stdout  # per-group table
    assert "summary: 3 inputs, 2 ok, 1 not scored (error 1)" in result.stdout
    assert result.stderr.count("Error:") == 1
    assert "nowhere.mp4: file not found" in result.stderr


def test_progress_lines_when_stderr_is_not_a_terminal_and_quiet(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for clip in batch_clips[:2]:
        shutil.copy2(clip, clips / clip.name)
    log_path = tmp_path / "r.jsonl"
    result = _score(syncnet_parity_weights, str(clips), "-o", str(log_path))
    assert result.exit_code == 0
    progress = [ln for ln in result.stderr.splitlines() if ln.startswith("[")]
    assert [ln.split()[0:2] for ln in progress] == [["[1/2]", "ok"], ["[2/2]", "ok"]]
    assert "left)" in progress[-1]
    assert "summary: 2 inputs, 2 ok" in result.stdout
    # Resumed from the log, quietly: no table, no progress, nothing scored again.
    quiet = _score(syncnet_parity_weights, str(clips), "-o", str(log_path), "-q")
    assert quiet.exit_code == 0
    assert quiet.stdout == "" and quiet.stderr == ""
    assert len(log_path.read_text(encoding="utf-8").splitlines()) == 2


def test_library_config_errors_are_one_line(
    batch_clips: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_weights = tmp_path / "garbage.model"
    bad_weights.write_bytes(b"not a state dict")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "score",
                "--recipe",
                "direct",
                "--syncnet-weights",
                str(bad_weights),
                "--workers",
                "2",
                str(batch_clips[0]),
                str(batch_clips[1]),
            ]
        )
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "garbage.model" in errors[0]


@pytest.mark.parametrize(
    "target",
    ["/proc/x.json", "{file}/x.json", "{tmp}/out.json/", "{tmp}", "{tmp}/x.csv/"],
    ids=["proc", "under-a-file", "trailing-slash", "a-directory.json", "trailing-slash-csv"],
)
def test_unwritable_outputs_exit_2_before_any_model_loads(
    target: str, batch_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "existing_file"
    existing.write_text("x", encoding="utf-8")
    out = target.format(file=existing, tmp=tmp_path)
    if out == str(tmp_path):
        out = str(tmp_path / "adir.json")
        (tmp_path / "adir.json").mkdir()
    weights = tmp_path / "never_read.model"  # empty: loading it would fail with exit 1
    weights.write_bytes(b"")
    # Every model load starts by resolving its weight file: record any that does.
    resolved: list[str] = []
    real_resolve = wm.resolve_weights

    def resolve_weights(name: str, *args: Any, **kwargs: Any) -> Path:
        resolved.append(name)
        return real_resolve(name, *args, **kwargs)

    monkeypatch.setattr(wm, "resolve_weights", resolve_weights)
    result = CliRunner().invoke(
        cli, ["score", "--syncnet-weights", str(weights), str(batch_clips[0]), "-o", out]
    )
    assert resolved == []  # refused before any weights were looked up, let alone loaded
    assert result.exit_code == 2, result.output
    assert out.rstrip("/") in result.output or Path(out).name in result.output
    assert "Traceback" not in result.output


def test_output_files_get_the_umask_mode_and_odd_names_survive_csv(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    odd = os.fsdecode(b"caf\xe9 \xff.mp4")  # not UTF-8: a Latin-1 name from an old archive
    shutil.copy2(batch_clips[0], clips / odd)
    old = os.umask(0o022)
    try:
        result = _score(
            syncnet_parity_weights,
            str(clips),
            "-o",
            str(tmp_path / "r.csv"),
            "-o",
            str(tmp_path / "r.json"),
            "-o",
            str(tmp_path / "r.jsonl"),
        )
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for name in ("r.csv", "r.json", "r.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    raw = (tmp_path / "r.csv").read_bytes()
    assert b"caf\xe9 \xff.mp4" in raw  # the name's own bytes
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert os.fsencode(doc["results"][0]["path"]).endswith(b"caf\xe9 \xff.mp4")


def test_a_newline_in_a_file_name_keeps_the_error_on_one_line(
    syncnet_parity_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "two\nlines.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "score",
                "--recipe",
                "direct",
                "--syncnet-weights",
                str(syncnet_parity_weights),
                "--device",
                "cpu",
                "-q",
                str(bad),
            ]
        )
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two\\nlines.mp4" in err


@pytest.mark.parametrize("recipe", ["direct", "wav2lip-lrs"])
def test_a_whole_frame_recipe_warns_that_track_select_does_nothing(
    recipe: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.mp4")  # fails after the options are read
    args = ["score", missing, "--recipe", recipe, "--track-select", "index:1"]
    result = CliRunner().invoke(cli, args)
    warned = [line for line in result.output.splitlines() if "--track-select" in line]
    assert len(warned) == 1, result.output
    assert warned[0].startswith("Warning: --track-select index:1 does nothing with --recipe")
    assert "syncnet-pipeline" in warned[0]
    tracked = CliRunner().invoke(cli, ["score", missing, "--track-select", "index:1"])
    assert "Warning: --track-select" not in tracked.output


def test_speakers_has_no_track_select(tmp_path: Path) -> None:
    """speakers writes every track's segments: no option chooses one track's numbers there."""
    shown = CliRunner().invoke(cli, ["speakers", "--help"]).output
    assert "--track-select," not in shown and "--aggregate" not in shown
    out = str(tmp_path / "s.json")
    args = ["speakers", "x.mp4", "-o", out, "--track-select", "index:1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "No such option '--track-select'" in result.output


@pytest.mark.parametrize("command", ["report", "check", "compare", "filter"])
def test_commands_that_read_results_name_every_format_they_read(command: str) -> None:
    out = CliRunner().invoke(cli, [command, "--help"]).output
    usage = " ".join(out.split("Options:")[0].split())
    assert all(ext in usage for ext in (".json", ".jsonl", ".csv", ".parquet")), usage


def test_a_batch_says_each_kind_of_warning_once_with_a_count_and_the_first_files(
    synth_30fps_clip: Any, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a", "b", "c", "d", "e"):
        shutil.copy2(synth_30fps_clip.path, clips / f"{name}.mp4")
    result = _score(syncnet_parity_weights, str(clips), "--recipe", "wav2lip-lrs")
    assert result.exit_code == 0, result.output
    said = [ln for ln in result.stderr.splitlines() if "fps, not 25" in ln]
    assert len(said) == 1, result.stderr
    assert said[0].startswith("Warning: 5 inputs: video is 30")
    assert all(f"{n}.mp4" in said[0] for n in "abc") and "d.mp4" not in said[0]
    assert "and 2 more" in said[0]
    # One input: its own line, as it was.
    one = _score(syncnet_parity_weights, str(clips / "a.mp4"), "--recipe", "wav2lip-lrs")
    alone = [ln for ln in one.stderr.splitlines() if "fps, not 25" in ln]
    assert alone == [
        f"Warning: {clips / 'a.mp4'}: video is 30.0 fps, not 25; scored "
        "unconverted as the reference does (numbers are not meaningful; use --fps 25 "
        "to convert it first)"
    ]
