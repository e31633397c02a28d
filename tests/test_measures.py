"""The measures registry: a measure registered here, in this test module only, appears in every
output (JSON, CSV per video and per track, Parquet, the summary, the report in a browser,
``check --limit`` and ``filter --limit``) with no edit anywhere else; and the built-in measures
are registry entries whose values match the functions they wrap.

The toy measure's values are known by construction: ``toy_min_distance`` is the minimum of the
mean window-distance curve, which is the track's LSE-D by definition; ``toy_frames`` counts the
frames it was shown, which is the track's frame count.
"""

from __future__ import annotations

from collections.abc import Iterator
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from syncnet_eval import measures
from syncnet_eval.io import csv_columns, load_results
from syncnet_eval.measures import Field, MeasureSpec, TrackInputs, VideoInputs
from syncnet_eval.types import VideoResult

from conftest import console_errors, invoke_cli, needs_chromium, open_page, scored_result


class ToyMeasure:
    """Counts the frames it sees; reads the minimum of the mean distance curve."""

    def __init__(self) -> None:
        self.frames = 0

    def observe(self, frames: Any) -> None:
        self.frames += len(frames)

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        curve = np.asarray(inputs.distances, dtype=np.float64).mean(axis=0)
        return {"toy_min_distance": float(curve.min()), "toy_frames": self.frames}


TOY = MeasureSpec(
    name="toy",
    help="a test's measure",
    definition="the minimum of the mean window-distance curve (LSE-D by another road)",
    level="track",
    fields=(
        Field(
            "toy_min_distance", "float", "toy distance", better="lower", summary="mean", digits=6
        ),
        Field("toy_frames", "int", "toy frames", unit="frames", summary="sum", combine="sum"),
    ),
    needs=frozenset({"window_distances", "track_frames"}),
    compute=ToyMeasure,
)


@pytest.fixture()
def toy() -> Iterator[MeasureSpec]:
    measures.register(TOY)
    try:
        yield TOY
    finally:
        measures.unregister("toy")


@pytest.fixture()
def scored_with_toy(
    toy: MeasureSpec, batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> dict[str, Path]:
    """Two clips scored through the command line with the toy measure registered."""
    out = {ext: tmp_path / f"r.{ext}" for ext in ("json", "csv", "parquet")}
    args = [
        "score",
        *map(str, batch_clips[:2]),
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(syncnet_parity_weights),
        "--include-flagged",
        "-q",
    ]
    for path in out.values():
        args += ["-o", str(path)]
    result = invoke_cli(args)
    assert result.exit_code == 0, result.output
    out["tracks.csv"] = tmp_path / "tracks.csv"
    again = invoke_cli([*args[: args.index("-q") + 1], "--per-track", "-o", str(out["tracks.csv"])])
    assert again.exit_code == 0, again.output
    return out


def test_a_registered_measure_reaches_json_csv_parquet_and_the_summary(
    scored_with_toy: dict[str, Path],
) -> None:
    pytest.importorskip("pyarrow")
    doc = json.loads(scored_with_toy["json"].read_text())
    for record in doc["results"]:
        (track,) = record["tracks"]
        # The oracle: the toy's minimum is LSE-D; it saw every frame of the track.
        assert track["toy_min_distance"] == pytest.approx(track["lse_d"], rel=1e-6)
        assert track["toy_frames"] == track["last_frame"] - track["first_frame"] + 1
    # Each record names the definition of every measure it carries.
    assert doc["results"][0]["provenance"]["measures"]["toy"] == TOY.definition
    summary = doc["summary"]
    lse_d = [r["lse_d"] for r in doc["results"]]
    assert summary["toy_min_distance"]["n"] == 2
    assert summary["toy_min_distance"]["mean"] == pytest.approx(float(np.mean(lse_d)), rel=1e-6)
    assert summary["toy_frames"] == sum(r["tracks"][0]["toy_frames"] for r in doc["results"])

    rows = list(csv.DictReader(io.StringIO(scored_with_toy["csv"].read_text())))
    assert [float(r["toy_min_distance"]) for r in rows] == pytest.approx(lse_d, abs=1e-6)
    track_rows = list(csv.DictReader(io.StringIO(scored_with_toy["tracks.csv"].read_text())))
    assert [float(r["track_toy_min_distance"]) for r in track_rows] == pytest.approx(
        lse_d, abs=1e-6
    )
    assert list(track_rows[0]) == list(csv_columns(per_track=True))

    import pyarrow.parquet as pq

    table = pq.read_table(scored_with_toy["parquet"])
    assert table.column("toy_min_distance").to_pylist() == pytest.approx(lse_d, rel=1e-6)
    for path in (scored_with_toy["json"], scored_with_toy["parquet"], scored_with_toy["csv"]):
        back = load_results(path)
        assert [measures.video_value(r, "toy_min_distance") for r in back] == pytest.approx(
            lse_d, abs=1e-6
        )


def test_a_registered_measure_is_a_check_and_filter_rule(
    scored_with_toy: dict[str, Path], tmp_path: Path
) -> None:
    doc = json.loads(scored_with_toy["json"].read_text())
    lse_d = sorted(r["lse_d"] for r in doc["results"])
    results = str(scored_with_toy["json"])
    passing = invoke_cli(
        ["check", results, "--include-flagged", "--limit", f"toy_min_distance<={lse_d[1] + 0.01}"]
    )
    assert passing.exit_code == 0, passing.output
    assert "toy_min_distance" in passing.output
    failing = invoke_cli(
        [
            "check",
            results,
            "--include-flagged",
            "--per-video",
            "--limit",
            f"toy_min_distance<={(lse_d[0] + lse_d[1]) / 2}",
        ]
    )
    assert failing.exit_code == 1, failing.output
    assert "1 of 2 videos have toy_min_distance above" in failing.output
    manifest = tmp_path / "kept.csv"
    middle = (lse_d[0] + lse_d[1]) / 2
    kept = invoke_cli(
        [
            "filter",
            results,
            "--keep-flagged",
            "--limit",
            f"toy_min_distance>={middle}",
            "-o",
            str(manifest),
        ]
    )
    assert kept.exit_code == 0, kept.output
    rows = list(csv.DictReader(io.StringIO(manifest.read_text())))
    assert len(rows) == 1
    bad = invoke_cli(["check", results, "--limit", "no_such_field<=1"])
    assert bad.exit_code == 2 and "no_such_field" in bad.output


@needs_chromium
def test_a_registered_measure_is_in_the_report(
    scored_with_toy: dict[str, Path], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    made = invoke_cli(["report", str(scored_with_toy["json"]), "-o", str(page)])
    assert made.exit_code == 0, made.output
    doc = json.loads(scored_with_toy["json"].read_text())
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")
    cell = browser.find_element(By.CSS_SELECTOR, '#detail td[data-measure="toy_min_distance"]')
    assert float(cell.text) == pytest.approx(doc["results"][0]["lse_d"], abs=1e-6)
    heading = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#detail table.tracks th")]
    assert "toy distance" in heading
    lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#detail p.measure")]
    assert any(line.startswith("toy: toy distance") for line in lines), lines
    assert console_errors(browser) == []


# -- the registry itself -----------------------------------------------------------------------


def test_a_field_name_may_not_shadow_a_core_key_or_another_measure() -> None:
    for name in ("lse_d", "silent_motion_fraction"):
        clash = MeasureSpec(
            "clash", "", "", "track", (Field(name, "float", "x"),), frozenset(), ToyMeasure
        )
        with pytest.raises(ValueError, match="taken"):
            measures.register(clash)
    assert "clash" not in measures.REGISTRY
    with pytest.raises(ValueError, match="unknown needs"):
        MeasureSpec("n", "", "", "track", (), frozenset({"telepathy"}), ToyMeasure)


def test_the_built_in_measures_are_registry_entries_with_definitions() -> None:
    assert list(measures.REGISTRY)[:5] == ["codec", "drift", "silence", "lmd", "decoder"]
    for spec in measures.REGISTRY.values():
        assert spec.definition and spec.help and spec.fields
        assert spec.needs <= set(measures.NEEDS)


def test_a_track_value_comes_from_the_tracks_behind_the_numbers_under_every_rule() -> None:
    """One rule for every output: the selected track, or all tracks under mean (combined by
    each field's rule), none for a video that was not scored."""
    r = scored_result("a.mp4", tracks=2)
    tracks = [
        t.__class__(**{**t.__dict__, "measures": {"silent_frames": n, "drift_ms_per_min": d}})
        for t, n, d in zip(r.tracks, (10, 30), (100.0, 300.0), strict=True)
    ]
    chosen = r.__class__(**{**r.__dict__, "tracks": tracks, "selected_track": 1})
    assert measures.video_value(chosen, "silent_frames") == 30
    mean = chosen.__class__(**{**chosen.__dict__, "selected_track": None, "track_select": "mean"})
    assert measures.video_value(mean, "silent_frames") == 40  # summed
    assert measures.video_value(mean, "drift_ms_per_min") == pytest.approx(200.0)  # mean
    failed = VideoResult.failure("a.mp4", "direct", "error", "x", tracks=tracks)
    assert measures.video_value(failed, "silent_frames") is None


def test_a_video_measure_in_provenance_round_trips_through_json() -> None:
    from syncnet_eval.decode import probe_media

    from conftest import MEDIA_DIR

    info = probe_media(MEDIA_DIR / "syncnet_example.avi")
    values = measures.get_measure("codec").compute_video(VideoInputs("x", media=info))
    assert values["input_video_codec"] == info.video_codec
    assert values["input_audio_rate_hz"] == info.audio_rate_hz
    r = scored_result("a.mp4", provenance=values)
    back = VideoResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert measures.video_values(back, measures.get_measure("codec")) == values
