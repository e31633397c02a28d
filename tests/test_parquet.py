"""Parquet results: rows read back as the records written, odd names and later fields
included; written atomically; ``score -o FILE.parquet`` with the local engine; readers."""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any

from batch_helpers import score_args
from click.testing import CliRunner
import pytest

from syncnet_eval.cli import cli
from syncnet_eval.errors import OutputError
from syncnet_eval.io import load_results
from syncnet_eval.parquet import (
    ParquetSink,
    iter_parquet_records,
    record_row,
    row_record,
    write_parquet,
)
from syncnet_eval.types import TrackResult, VideoResult

from conftest import assert_same_records

pytest.importorskip("pyarrow")


def _record(path: str, **extra: Any) -> dict[str, Any]:
    track = TrackResult(
        index=0,
        first_frame=0,
        last_frame=9,
        av_offset=-2,
        lse_d=7.5,
        lse_c=3.25,
        num_windows=5,
        dist_by_shift=[1.0, 2.5],
        framewise_conf=[0.5] * 5,
        start_s=0.0,
        end_s=0.4,
        framewise_time_s=[0.0, 0.04, 0.08, 0.12, 0.16],
    )
    result = VideoResult(
        path=path,
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=-2,
        lse_d=7.5,
        lse_c=3.25,
        aggregate="best",
        tracks=[track],
        warnings=[f"{path}: a warning"],
        provenance={"device": "cpu", "score_config": {"vshift": 15}},
        timings_s={"total": 1.5},
        id=Path(path).name,
        group="g",
        flags=["few_windows"],
        av_offset_ms=-80.0,
        selected_track=0,
    )
    return {
        **result.to_dict(),
        "input_identity": {"path": path, "size": 10, "mtime_ns": 5},
        "config_hash": "abc",
        "from_log": False,
        **extra,
    }


def test_a_row_reads_back_as_the_record_it_was_written_from() -> None:
    rec = _record("/data/clip.mp4")
    assert row_record(record_row(rec)) == rec
    assert isinstance(row_record(record_row(rec))["av_offset"], int)
    mean = {**rec, "aggregate": "mean", "av_offset": 2.0}
    assert row_record(record_row(mean))["av_offset"] == 2.0
    assert isinstance(row_record(record_row(mean))["av_offset"], float)
    failed = VideoResult.failure("/x.mp4", "direct", "no_audio", "/x.mp4: no audio").to_dict()
    assert row_record(record_row(failed)) == failed


def test_names_that_are_not_utf8_and_fields_added_later_survive(tmp_path: Path) -> None:
    odd = "/data/caf\udce9.mp4"  # a Latin-1 byte in a file name, as Python holds it
    rec = _record(odd, added_later={"x": [1, 2]})
    path = tmp_path / "r.parquet"
    write_parquet(path, [rec, _record("/data/plain.mp4")])
    back = list(iter_parquet_records(path))
    assert back[0] == rec and back[1] == _record("/data/plain.mp4")
    assert load_results(path)[0].path == odd


def test_a_sink_commits_whole_files_only(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    sink = ParquetSink(path, rows_per_group=2)
    for k in range(5):
        sink.append(_record(f"/d/{k}.mp4"))
    assert not path.exists()  # row groups go to a temporary file until close
    sink.close()
    assert [r["id"] for r in iter_parquet_records(path)] == [f"{k}.mp4" for k in range(5)]
    failing = ParquetSink(path)
    failing.append(_record("/d/new.mp4"))
    failing.discard()
    assert len(list(iter_parquet_records(path))) == 5  # the earlier file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet"]
    with pytest.raises(OutputError):
        ParquetSink(tmp_path / "r.parquet" / "under_a_file.parquet")


def test_not_a_results_file_is_an_input_error(tmp_path: Path) -> None:
    from syncnet_eval.errors import InputError

    bogus = tmp_path / "x.parquet"
    bogus.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="not a syncnet-eval results file"):
        load_results(bogus)


def test_the_local_engine_writes_parquet_equal_to_its_json(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    args = score_args(
        syncnet_parity_weights,
        str(batch_clips[0]),
        str(batch_clips[1]),
        "-q",
        "-o",
        str(tmp_path / "r.json"),
        "-o",
        str(tmp_path / "r.parquet"),
    )
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert_same_records(list(iter_parquet_records(tmp_path / "r.parquet")), doc["results"])


def test_parquet_without_pyarrow_is_one_line_and_exit_1(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    args = score_args(
        syncnet_parity_weights, str(batch_clips[0]), "-o", str(tmp_path / "r.parquet")
    )
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        'Error: Parquet files need pyarrow: pip install "syncnet-eval[parquet]" (or pip install '
        "pyarrow)"
    ]
