"""filter: a view over score records that splits them into kept and rejected manifests."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner
import pytest

from syncnet_eval.cli import cli
from syncnet_eval.filtering import PRESETS, filter_records
from syncnet_eval.inputs import read_manifest
from syncnet_eval.io import JsonlLog
from syncnet_eval.rules import Rules
from syncnet_eval.types import TrackResult, VideoResult


def _track(windows: int) -> TrackResult:
    return TrackResult(
        index=0,
        first_frame=0,
        last_frame=windows + 4,
        av_offset=0,
        lse_d=7.0,
        lse_c=5.0,
        num_windows=windows,
        dist_by_shift=[],
        framewise_conf=[],
    )


def _record(tmp: Path, name: str, status: str = "ok", **kw: Any) -> dict[str, Any]:
    video = tmp / "clips" / f"{name}.mp4"
    fields: dict[str, Any] = {
        "path": str(video),
        "status": status,
        "recipe": "direct",
        "id": name,
        "group": kw.pop("group", "g1"),
    }
    if status == "ok":
        fields.update(
            reason=None,
            av_offset=kw.pop("offset", 0),
            lse_d=kw.pop("lse_d", 7.0),
            lse_c=kw.pop("lse_c", 5.0),
            selected_track=0,
            tracks=[_track(kw.pop("windows", 200))],
        )
    else:
        fields.update(reason=f"{video}: broken")
    rec = VideoResult(**fields, **kw).to_dict()
    audio = {"path": str(tmp / "audio" / f"{name}.wav")} if name == "dubbed" else None
    rec["input_identity"] = {"path": str(video), **({"audio": audio} if audio else {})}
    return rec


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    records = [
        _record(tmp_path, "good"),
        _record(tmp_path, "dubbed", group="g2"),
        _record(tmp_path, "low_conf", lse_c=2.0),
        _record(tmp_path, "far_off", offset=-8),
        _record(tmp_path, "both_bad", lse_c=1.0, offset=9),
        _record(tmp_path, "short", windows=20, flags=["few_windows"]),
        _record(tmp_path, "silent", flags=["silent_audio"]),
        _record(tmp_path, "noface", "no_face"),
        _record(tmp_path, "broken", "decode_error"),
        _record(tmp_path, "toolong", "error", reason_code="timeout"),
    ]
    path = tmp_path / "scores.jsonl"
    with JsonlLog(path) as log:
        for rec in records:
            log.append(rec)
    return path


def test_every_input_lands_in_one_list_with_its_reasons(results: Path, tmp_path: Path) -> None:
    kept, rejected = tmp_path / "kept.csv", tmp_path / "rejected.csv"
    run = CliRunner().invoke(
        cli,
        [
            "filter",
            str(results),
            "--preset",
            "latentsync",
            "-o",
            str(kept),
            "--rejected",
            str(rejected),
        ],
    )
    assert run.exit_code == 0, run.output
    assert "10 inputs: 2 kept, 8 rejected" in run.output
    kept_rows = list(csv.DictReader(kept.open(encoding="utf-8")))
    rejected_rows = list(csv.DictReader(rejected.open(encoding="utf-8")))
    assert [r["id"] for r in kept_rows] == ["good", "dubbed"]
    why = {r["id"]: r["rejected_by"] for r in rejected_rows}
    assert len(kept_rows) + len(rejected_rows) == 10 and all(why.values())
    assert why["low_conf"] == "lse_c 2.000 < 3"
    assert why["far_off"] == "|av_offset| 8 > 6"
    assert why["both_bad"] == "lse_c 1.000 < 3; |av_offset| 9 > 6"
    assert why["short"] == "flags few_windows" and why["silent"] == "flags silent_audio"
    assert why["noface"].startswith("status no_face: ")
    assert why["toolong"].startswith("status error: ")
    # Counts per rule, a rejection counted under every rule it failed.
    assert "lse_c" in run.output and "status decode_error" in run.output


def test_the_outputs_re_enter_score_as_manifests(results: Path, tmp_path: Path) -> None:
    kept, rejected = tmp_path / "kept.csv", tmp_path / "rejected.csv"
    CliRunner().invoke(
        cli,
        ["filter", str(results), "--min-lse-c", "3", "-o", str(kept), "--rejected", str(rejected)],
    )
    items = read_manifest(kept) + read_manifest(rejected)
    assert len(items) == 10
    by_id = {i.id: i for i in items}
    assert by_id["dubbed"].audio_path == tmp_path / "audio" / "dubbed.wav"  # carried over
    assert by_id["dubbed"].group == "g2" and by_id["good"].group == "g1"
    assert by_id["good"].path == tmp_path / "clips" / "good.mp4"  # absolute: works anywhere


def test_rules_presets_and_keep_flagged() -> None:
    assert PRESETS["latentsync"].rules == Rules(min_lse_c=3.0, max_abs_offset=6)
    merged = PRESETS["latentsync"].rules.merged(Rules(max_abs_offset=1))
    assert (merged.min_lse_c, merged.max_abs_offset) == (3.0, 1)
    flagged = VideoResult(
        path="x",
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=0,
        lse_d=7.0,
        lse_c=5.0,
        flags=["non_25fps"],
    ).to_dict()
    assert len(filter_records([flagged], Rules()).rejected) == 1
    assert len(filter_records([flagged], Rules(include_flagged=True)).kept) == 1
    few = filter_records([flagged], Rules(include_flagged=True, min_windows=10))
    assert few.rejected[0][1] == "num_windows None < 10"


def test_unreadable_results_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    run = CliRunner().invoke(cli, ["filter", str(bad), "-o", str(tmp_path / "k.csv")])
    assert run.exit_code == 2 and not (tmp_path / "k.csv").exists()


def test_relative_paths_stay_relative_to_the_new_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scored from tmp_path with `--manifest data/m.csv` (rows relative to data/): the records
    # say data/clips/a.mp4, relative to where the run started. The kept manifest is written
    # elsewhere (out/) and must find the same files from its own folder, still relatively.
    (tmp_path / "data" / "clips").mkdir(parents=True)
    (tmp_path / "data" / "audio").mkdir()
    video, audio = tmp_path / "data" / "clips" / "a.mp4", tmp_path / "data" / "audio" / "a.wav"
    video.write_bytes(b"v")
    audio.write_bytes(b"a")
    with_identity = VideoResult(
        path="data/clips/a.mp4",
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=0,
        lse_d=7.0,
        lse_c=5.0,
        id="a",
        provenance={"audio_path": "data/audio/a.wav"},
    ).to_dict()
    with_identity["input_identity"] = {"path": str(video), "audio": {"path": str(audio)}}
    without_identity = {**with_identity, "id": "b"}  # as read back from a results CSV
    del without_identity["input_identity"]
    results = tmp_path / "scores.jsonl"
    with JsonlLog(results) as log:
        log.append(with_identity)
        log.append(without_identity)
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "out" / "kept.csv"
    run = CliRunner().invoke(cli, ["filter", str(results), "-o", "out/kept.csv"])
    assert run.exit_code == 0, run.output
    rows = list(csv.DictReader(kept.open(encoding="utf-8")))
    assert [r["path"] for r in rows] == [os.path.join("..", "data", "clips", "a.mp4")] * 2
    assert [r["audio"] for r in rows] == [os.path.join("..", "data", "audio", "a.wav")] * 2
    monkeypatch.chdir("/")  # the manifest resolves against its folder, from anywhere
    for item in read_manifest(kept):
        assert item.audio_path is not None
        assert item.path.samefile(video) and item.audio_path.samefile(audio)


def test_filter_help_names_every_results_format() -> None:
    out = CliRunner().invoke(cli, ["filter", "--help"]).output
    usage = out.split("Options:")[0]
    assert all(ext in usage for ext in (".json", ".jsonl", ".csv", ".parquet"))


def test_the_manifests_keep_each_records_dataset(tmp_path: Path) -> None:
    from syncnet_eval.bands import band_record

    path = tmp_path / "scores.jsonl"
    with JsonlLog(path) as log:
        log.append(_record(tmp_path, "banded", reference_band=band_record("lrs2")))
        log.append(_record(tmp_path, "unbanded", lse_c=1.0))
    kept, rejected = tmp_path / "kept.csv", tmp_path / "rejected.csv"
    run = CliRunner().invoke(
        cli, ["filter", str(path), "--min-lse-c", "3", "-o", str(kept), "--rejected", str(rejected)]
    )
    assert run.exit_code == 0, run.output
    by_id = {i.id: i for i in read_manifest(kept) + read_manifest(rejected)}
    assert by_id["banded"].dataset == "lrs2"  # score --manifest scores it against its band again
    assert by_id["unbanded"].dataset is None
