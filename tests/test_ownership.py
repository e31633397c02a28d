"""Whose lips own the audio (the ``owner`` measure, :mod:`syncnet_eval.ownership`).

Oracles:
- planted window confidences (fast): a track whose confidence is high before a known frame
  and one that is high after it; equal confidences;
- a two-face composite of shared media (two clips side by side) scored through the face-track
  recipe with the ``signal`` embedder, whose sync is known by construction: the left face's
  brightness follows the audio for the first 6 s, the right face's for the next 6 s, both for
  the last 6 s (tests/signal_media.write_owner_composite);
- the untrained parity weights: the command says that ownership cannot be judged.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.checks import Thresholds, run_checks
from syncnet_eval.config import PipelineConfig
from syncnet_eval.errors import InputError
from syncnet_eval.inputs import read_manifest
from syncnet_eval.io import load_results, write_results
from syncnet_eval.ownership import (
    JUDGED,
    OWNER_MIN_MARGIN,
    judgement,
    owner_matrix,
    owner_rttm_text,
    owner_runs,
    owner_segments,
    owner_switches,
    owner_values,
)
from syncnet_eval.report import ReportRun, build_report
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult

from conftest import MEDIA_DIR, console_errors, invoke_cli, needs_chromium, open_page
from signal_media import OWNER_MIN_FACE_PX, SignalEmbedder, write_owner_composite

FPS = 25
LEFT = MEDIA_DIR / "syncnet_example.avi"
RIGHT = MEDIA_DIR / "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4"
CHANGE_S = 6.0  # the left face owns the audio before, the right one after
PHASE = int(CHANGE_S * FPS)


@dataclass(frozen=True)
class _Track:
    index: int
    first_frame: int
    framewise_conf: list[float]


# -- planted confidences (fast) ----------------------------------------------------------------


def _planted(change: int, n: int = 500, high: float = 6.0, low: float = 1.0) -> list[_Track]:
    """Track 0 confident before window ``change``, track 1 after (noise added)."""
    rng = np.random.default_rng(0)
    a = np.where(np.arange(n) < change, high, low) + rng.normal(0, 0.3, n)
    b = np.where(np.arange(n) < change, low, high) + rng.normal(0, 0.3, n)
    return [_Track(0, 0, a.tolist()), _Track(1, 0, b.tolist())]


def test_planted_owners_and_the_switch_time() -> None:
    change = 250  # 10 s
    segments = owner_segments(_planted(change))
    decided = [s for s in segments if s["decision"] == "owner"]
    for s in decided:
        first, last = s["start_s"] * FPS, s["end_s"] * FPS - 4  # window starts it covers
        if last <= change:
            assert s["owner"] == 0, s
        elif first >= change:
            assert s["owner"] == 1, s
    (switch,) = owner_switches(segments)
    assert (switch["from"], switch["to"]) == (0, 1)
    assert abs(switch["time_s"] - change / FPS) <= 1.0  # the hop


def test_equal_tracks_are_undecided_and_one_track_is_alone() -> None:
    rng = np.random.default_rng(1)
    same = (5.0 + rng.normal(0, 0.3, 300)).tolist()
    segments = owner_segments([_Track(0, 0, same), _Track(1, 0, same)])
    assert segments and {s["decision"] for s in segments} == {"undecided"}
    assert all(s["owner"] is None and s["margin"] == 0 for s in segments)
    assert owner_switches(segments) == []
    # Track 1 starts at frame 200: before it, track 0 is alone (not judged).
    late = owner_segments([_Track(0, 0, same), _Track(1, 200, (np.array(same) - 3).tolist())])
    assert late[0]["decision"] == "alone" and late[0]["margin"] is None
    assert any(s["decision"] == "owner" and s["owner"] == 0 for s in late)  # both present
    assert late[-1]["decision"] == "alone" and late[-1]["leader"] == 1  # track 0 has ended


def test_the_grid_is_the_videos_and_a_short_video_is_one_segment() -> None:
    # Two tracks starting at different frames are cut at the same times (multiples of 1 s).
    segments = owner_segments([_Track(0, 10, [3.0] * 300), _Track(1, 40, [1.0] * 300)])
    assert all(round(s["start_s"] * FPS) % FPS == 0 for s in segments)
    short = owner_segments([_Track(0, 0, [4.0] * 50), _Track(1, 0, [1.0] * 50)])
    assert len(short) == 1 and short[0]["owner"] == 0 and short[0]["margin"] == 3.0


def test_the_margin_threshold_decides() -> None:
    just = owner_segments([_Track(0, 0, [1.0 + OWNER_MIN_MARGIN] * 130), _Track(1, 0, [1.0] * 130)])
    below = owner_segments(
        [_Track(0, 0, [0.99 + OWNER_MIN_MARGIN] * 130), _Track(1, 0, [1.0] * 130)]
    )
    assert just[0]["decision"] == "owner" and below[0]["decision"] == "undecided"


def test_unofficial_syncnet_weights_cannot_judge_and_an_embedder_can() -> None:
    unofficial = {
        "syncnet_weights": "/w/syncnet_parity_test.model",
        "syncnet_weights_sha256": "ab" * 32,
        "syncnet_weights_official": False,
    }
    assert judgement(unofficial).startswith("not judged: the SyncNet weights")
    assert judgement({**unofficial, "syncnet_weights_official": True}) == JUDGED
    custom = {"syncnet_weights": "custom embedder X", "syncnet_weights_sha256": None}
    assert judgement({**custom, "syncnet_weights_official": False}) == JUDGED


def test_the_matrix_names_each_audios_owner_and_each_faces_audio() -> None:
    def result(c0: float, c1: float, owner: int) -> Any:
        from conftest import scored_result

        r = scored_result("v.mp4", tracks=2)
        tracks = [replace(r.tracks[0], lse_c=c0), replace(r.tracks[1], lse_c=c1)]
        return replace(r, tracks=tracks, measures={"owner_track": owner})

    matrix = owner_matrix([("a.wav", result(7.0, 1.5, 0)), ("b.wav", result(2.0, 6.5, 1))])
    assert matrix["lse_c"] == [[7.0, 2.0], [1.5, 6.5]]
    assert matrix["owner"] == [0, 1] and matrix["follows"] == [0, 1]


# -- records with the measure: check, manifest, RTTM, report (fast) ----------------------------


def _owned_record(path: str, owners: list[int | None], **measures: Any) -> VideoResult:
    """An ok two-track record whose owner measure has one segment per second owned as given."""
    from conftest import scored_result

    segments = [
        {
            "start_s": float(k),
            "end_s": k + 5.16,
            "time_s": k + 2.58,
            "confidence": {"0": 5.0 if o == 0 else 1.0, "1": 5.0 if o == 1 else 1.0},
            "leader": 0 if o is None else o,
            "margin": 0.0 if o is None else 4.0,
            "owner": o,
            "decision": "undecided" if o is None else "owner",
        }
        for k, o in enumerate(owners)
    ]
    values = {**owner_values(segments), "owner_judgement": JUDGED, **measures}
    return replace(scored_result(path, tracks=2, num_windows=300), measures=values)


def test_require_owner_passes_fails_and_cannot_judge() -> None:
    good = _owned_record("good.mp4", [0, 0, None, 0])
    swapped = _owned_record("swapped.mp4", [0, 0, 1, 1])
    unjudged = _owned_record("parity.mp4", [0, 0], owner_judgement="not judged: weights X")
    passed = run_checks([good], Thresholds(require_owner="0"))
    assert passed.passed, passed.markdown()
    failed = run_checks([good, swapped, unjudged], Thresholds(require_owner="0"))
    (outcome,) = failed.checks
    assert not outcome.passed and "2 of 3 videos fail (1 cannot be judged)" in outcome.message
    assert any(
        "swapped.mp4: owned by another track than 0: track 1 4.1-8.2 s" in d
        for d in outcome.details
    )
    assert any("ownership cannot be judged: weights X" in d for d in outcome.details)
    # The track the manifest names (owner_expected, stamped by the driver).
    named = replace(swapped, measures={**swapped.measures, "owner_expected": 1})
    assert not run_checks([named], Thresholds(require_owner="manifest")).passed
    right = _owned_record("right.mp4", [1, 1], owner_expected=1)
    assert run_checks([right], Thresholds(require_owner="manifest")).passed
    unnamed = run_checks([good], Thresholds(require_owner="manifest"))
    assert "no owner named" in unnamed.checks[0].details[0]


def test_require_owner_on_the_command_line(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    recs = [_owned_record("a.mp4", [0, 0, 0]), _owned_record("b.mp4", [1, 1, 0])]
    write_results(results, recs)
    failing = invoke_cli(["check", str(results), "--require-owner", "0", "--include-flagged"])
    assert failing.exit_code == 1 and "b.mp4: owned by another track than 0" in failing.output
    bad = invoke_cli(["check", str(results), "--require-owner", "left"])
    assert bad.exit_code == 2 and "manifest" in bad.output


def test_the_manifest_owner_column(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,owner\na.mp4,1\nb.mp4,\n")
    a, b = read_manifest(manifest)
    assert a.owner == 1 and b.owner is None
    manifest.write_text("path,owner\na.mp4,left\n")
    with pytest.raises(InputError, match=r"m.csv:2: the 'owner' column must be a track index"):
        read_manifest(manifest)


@pytest.mark.slow
def test_the_driver_stamps_the_manifest_owner_into_the_record(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,owner\n{batch_clips[0]},1\n")
    out = tmp_path / "r.json"
    args = ["score", "--manifest", str(manifest), "--recipe", "direct", "-q", "-o", str(out)]
    scored = invoke_cli([*args, "--syncnet-weights", str(syncnet_parity_weights)])
    assert scored.exit_code == 0, scored.output
    (record,) = json.loads(out.read_text())["results"]
    assert record["owner_expected"] == 1
    # One face (the direct recipe's one track): no ownership to hold it to.
    gated = invoke_cli(["check", str(out), "--require-owner", "manifest"])
    assert gated.exit_code == 1 and "no ownership measured" in gated.output


def test_rttm_has_one_line_per_run_of_one_owner() -> None:
    record = _owned_record("v.mp4", [0, 0, None, 1, 1])
    text = owner_rttm_text("v", record.measures)
    lines = text.splitlines()
    assert [line.split()[7] for line in lines] == ["track0", "track1"]
    onset, duration = float(lines[1].split()[3]), float(lines[1].split()[4])
    assert onset == pytest.approx((1 + 2.58 + 3 + 2.58) / 2, abs=1e-3)  # midpoint of centres
    assert onset + duration == pytest.approx(4 + 5.16, abs=1e-3)
    unjudged = {**record.measures, "owner_judgement": "not judged: x"}
    assert owner_rttm_text("v", unjudged) == "" and owner_runs(unjudged) == []


@needs_chromium
def test_the_report_shows_the_owner_on_the_timeline(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    record = _owned_record("two.mp4", [0, 0, 1, 1])
    page = tmp_path / "report.html"
    page.write_text(build_report([ReportRun("run", [record])]))
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")
    owned = browser.find_elements(By.CSS_SELECTOR, "#detail svg rect.owner")
    titles = sorted(
        r.find_element(By.TAG_NAME, "title").get_attribute("textContent") for r in owned
    )
    assert titles == ["track 0 owns the audio 0.00–4.08 s", "track 1 owns the audio 4.08–8.16 s"]
    lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#detail p.measure")]
    assert any(line.startswith("owner: track 0 owns 50% of 4 segments") for line in lines), lines
    assert console_errors(browser) == []


# -- the composite oracle through the face-track recipe ----------------------------------------


@pytest.fixture(scope="module")
def composite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    if not (LEFT.is_file() and RIGHT.is_file()):
        pytest.skip("shared media not found")
    path = tmp_path_factory.mktemp("owner") / "two_faces.mkv"
    owners = ["left"] * PHASE + ["right"] * PHASE + ["both"] * PHASE
    return path, write_owner_composite(path, LEFT, RIGHT, owners)


@pytest.fixture(scope="module")
def composite_result(composite: tuple[Path, list[np.ndarray]]) -> VideoResult:
    path, boxes = composite
    pipe = SyncPipeline(
        ScoreConfig(device="cpu"),
        PipelineConfig(min_face_size=OWNER_MIN_FACE_PX),
        embedder=SignalEmbedder(scale=4.0),  # the signal's distances in SyncNet's range
    )
    result = pipe.evaluate(path, "syncnet-pipeline", detections=boxes)
    assert result.ok, result.reason
    return result


@pytest.mark.slow
def test_the_composite_owner_per_segment_and_the_change_time(
    composite_result: VideoResult,
) -> None:
    r = composite_result
    assert [t.index for t in r.tracks] == [0, 1]  # left, right: one scene, two tracks
    assert r.measures["owner_judgement"] == JUDGED
    segments = r.measures["owner_segments"]
    for s in segments:
        lo, hi = round(s["start_s"] * FPS), round(s["end_s"] * FPS)  # frames it covers
        if hi <= PHASE:
            assert s["owner"] == 0, s  # all left
        elif lo >= PHASE and hi <= 2 * PHASE:
            assert s["owner"] == 1, s  # all right
        elif lo >= 2 * PHASE:
            assert s["decision"] == "undecided", s  # both faces follow the audio equally
    (switch,) = r.measures["owner_switches"]
    assert (switch["from"], switch["to"]) == (0, 1)
    assert abs(switch["time_s"] - CHANGE_S) <= 1.0  # the hop: the grid's resolution
    assert any(s["start_s"] * FPS >= 2 * PHASE for s in segments)  # the equal part is judged


@pytest.mark.slow
def test_the_composite_owner_reaches_csv_parquet_and_the_summary(
    composite_result: VideoResult, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "r.csv"
    write_results(out, [composite_result])
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert int(row["owner_track"]) == composite_result.measures["owner_track"]
    assert row["owner_judgement"] == JUDGED
    from syncnet_eval.parquet import write_parquet

    pq = tmp_path / "r.parquet"
    write_parquet(pq, [composite_result.to_dict()])
    (back,) = load_results(pq)
    assert back.measures["owner_segments"] == composite_result.measures["owner_segments"]
    doc = tmp_path / "r.json"
    write_results(doc, [composite_result], summarize([composite_result]))
    data = json.loads(doc.read_text())
    assert data["results"][0]["provenance"]["measures"]["owner"].startswith("syncnet-eval's own")
    assert data["summary"]["owner_undecided_share"]["n"] == 1


@pytest.mark.slow
def test_parity_weights_say_ownership_cannot_be_judged(
    tmp_path: Path, syncnet_parity_weights: Path
) -> None:
    if not (LEFT.is_file() and RIGHT.is_file()):
        pytest.skip("shared media not found")
    clip = tmp_path / "short.mkv"
    # 24 frames: SyncNet on the CPU is the cost; two tracks with a window each are enough.
    boxes = write_owner_composite(clip, LEFT, RIGHT, ["left"] * 12 + ["right"] * 12)
    from syncnet_eval.io import save_detections

    dets = tmp_path / "dets.json"
    save_detections(dets, boxes)
    out = tmp_path / "owner.json"
    result = invoke_cli(
        [
            "owner",
            str(clip),
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "--detections",
            str(dets),
            "--min-track",
            "12",
            "--min-face-size",
            str(OWNER_MIN_FACE_PX),
            "--audio",  # two audio files: the faces x audio matrix
            str(LEFT),
            "--audio",
            str(RIGHT),
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 1, result.output
    assert "ownership cannot be judged: the SyncNet weights syncnet_parity_test.model" in (
        result.output
    )
    doc = json.loads(out.read_text())
    assert [r["owner_judgement"][:10] for r in doc["runs"]] == ["not judged"] * 2
    # The record says it too, among the warnings score prints.
    assert any("ownership cannot be judged" in w for w in doc["runs"][0]["warnings"])
    matrix = doc["matrix"]
    assert matrix["audio"] == [str(LEFT), str(RIGHT)] and matrix["tracks"] == [0, 1]
    assert all(isinstance(c, float) for row in matrix["lse_c"] for c in row)


def test_the_recorded_definition_names_the_threshold_in_force() -> None:
    from syncnet_eval.measures import get_measure

    assert (
        f">= {OWNER_MIN_MARGIN:.1f} (ownership.OWNER_MIN_MARGIN)" in get_measure("owner").definition
    )
