"""Speaking rules, segments, track choice and the speakers outputs (pure: no model)."""

from __future__ import annotations

import csv
from dataclasses import replace
import io

import numpy as np
import pytest

from syncnet_eval.config import PipelineConfig
from syncnet_eval.errors import ConfigError
from syncnet_eval.scoring import aggregate_tracks, selected_tracks
from syncnet_eval.speaking import (
    SYNC_SPEAKING_CONF,
    asd_timeline,
    rttm_text,
    smooth_scores,
    speakers_csv_rows,
    speakers_document,
    speaking_runs,
    sync_timeline,
)
from syncnet_eval.types import TrackResult, VideoResult


def _track(index: int, **kw: object) -> TrackResult:
    base: dict[str, object] = dict(
        index=index,
        first_frame=0,
        last_frame=99,
        av_offset=index,
        lse_d=8.0 - index,
        lse_c=3.0 + index,
        num_windows=96,
        dist_by_shift=[],
        framewise_conf=[],
    )
    base.update(kw)
    return TrackResult(**base)  # type: ignore[arg-type]


def test_smoothing_is_a_centred_mean_truncated_at_the_ends() -> None:
    x = np.array([1.0, -2.0, 4.0, 0.5, 3.0, -1.0])
    naive = [np.mean(x[max(i - 2, 0) : i + 3]) for i in range(len(x))]
    assert np.allclose(smooth_scores(x), naive)


def test_runs_and_asd_segments_in_seconds() -> None:
    mask = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert speaking_runs(mask) == [(1, 3), (5, 6), (7, 10)]
    # Scores chosen so that the 5-frame smoothing keeps frames 10..19 speaking only.
    scores = np.r_[np.full(10, -3.0), np.full(10, 3.0), np.full(10, -3.0)]
    timeline = asd_timeline(scores.tolist(), first_frame=50, fps=25)
    assert timeline.judge == "light-asd"
    assert timeline.segments == [{"start_s": 60 / 25, "end_s": 70 / 25, "mean_score": 3.0}]
    assert timeline.fraction == pytest.approx(10 / 30)


def test_sync_segments_cover_their_windows() -> None:
    conf = [0.0] * 5 + [SYNC_SPEAKING_CONF + 1] * 3 + [0.0] * 4
    timeline = sync_timeline(conf, first_frame=10, fps=25)
    # windows 5..7 start at frames 15..17; the last one ends after frame 21
    assert timeline.segments == [
        {"start_s": 15 / 25, "end_s": 22 / 25, "mean_score": SYNC_SPEAKING_CONF + 1}
    ]
    assert timeline.fraction == pytest.approx(3 / 12)


def test_track_choice_rules() -> None:
    tracks = [
        _track(0, bbox={"mean_width": 50.0, "mean_height": 60.0}, last_frame=199),
        _track(1, bbox={"mean_width": 120.0, "mean_height": 130.0}),
        _track(2, bbox={"mean_width": 80.0, "mean_height": 80.0}),
    ]
    assert selected_tracks(tracks, "best")[0].index == 2  # highest LSE-C
    assert selected_tracks(tracks, "longest")[0].index == 0
    assert selected_tracks(tracks, "largest")[0].index == 1
    assert selected_tracks(tracks, "index:1")[0].index == 1
    assert aggregate_tracks(tracks, "index:1") == (1, 7.0, 4.0)
    with pytest.raises(ValueError, match=r"no track 7; 3 tracks were found \(index 0, 1, 2\)"):
        selected_tracks(tracks, "index:7")
    with pytest.raises(ValueError, match="needs active-speaker scores"):
        selected_tracks(tracks, "asd")


def test_asd_choice_counts_speaking_frames_then_mean_score() -> None:
    def judged(index: int, scores: list[float]) -> TrackResult:
        t = asd_timeline(scores, 0, 25)
        return _track(index, asd_scores=scores, speaking_fraction=t.fraction)

    quiet_but_long = judged(0, [-1.0] * 50 + [2.0] * 30)  # 30 speaking frames
    loud_but_short = judged(1, [5.0] * 20)  # 20 speaking frames, higher scores
    assert selected_tracks([quiet_but_long, loud_but_short], "asd")[0].index == 0
    tie = judged(2, [-1.0] * 50 + [2.5] * 30)  # as many frames, a higher mean score
    assert selected_tracks([quiet_but_long, tie], "asd")[0].index == 2


def test_config_accepts_index_forms_and_asd_turns_the_model_on() -> None:
    assert PipelineConfig(track_select="index:12").track_select == "index:12"
    for bad in ("index:", "index:-1", "index:x", "first", "index:٣"):
        with pytest.raises(ConfigError, match="track_select must be one of"):
            PipelineConfig(track_select=bad)
    assert PipelineConfig(track_select="asd").asd == "light-asd"
    assert PipelineConfig().asd is None


def _result_with_segments() -> VideoResult:
    track = _track(
        3,
        first_frame=25,
        last_frame=124,
        mean_box=[10.0, 20.0, 110.0, 140.0],
        speaking_judge="light-asd",
        speaking_fraction=0.5,
        speaking_segments=[
            {"start_s": 1.0, "end_s": 2.5, "mean_score": 1.25},
            {"start_s": 3.0, "end_s": 3.2, "mean_score": 0.5},
        ],
        asd_scores=[0.1] * 100,
        asd_time_s=[(25 + k) / 25 for k in range(100)],
    )
    return VideoResult(
        path="/data/my talk.mp4",
        status="ok",
        reason=None,
        recipe="syncnet-pipeline",
        tracks=[track],
        provenance={"pipeline_config": {"asd": "light-asd", "asd_model": "ava"}},
    )


def test_rttm_has_one_speaker_line_per_segment() -> None:
    lines = rttm_text(_result_with_segments()).splitlines()
    assert lines == [
        "SPEAKER my_talk 1 1.000 1.500 <NA> <NA> track3 <NA> <NA>",
        "SPEAKER my_talk 1 3.000 0.200 <NA> <NA> track3 <NA> <NA>",
    ]
    assert all(len(line.split()) == 10 for line in lines)  # the RTTM field count


def test_speakers_json_and_csv() -> None:
    result = _result_with_segments()
    doc = speakers_document(result)
    (track,) = doc["tracks"]
    assert doc["path"] == result.path and doc["model"]["checkpoint"] == "ava"
    assert track["index"] == 3 and track["mean_box"] == [10.0, 20.0, 110.0, 140.0]
    assert track["first_frame"] == 25 and track["last_frame"] == 124
    assert track["speaking_fraction"] == 0.5 and len(track["segments"]) == 2
    assert len(track["asd_scores"]) == len(track["asd_time_s"]) == 100
    rows = speakers_csv_rows(result)
    assert [r["duration_s"] for r in rows] == ["1.500", "0.200"]
    failed = VideoResult.failure("x.mp4", "syncnet-pipeline", "no_face", "x.mp4: no face")
    assert rttm_text(failed) == "" and speakers_document(failed)["status"] == "no_face"


def test_the_speakers_csv_is_safe_to_open_in_a_spreadsheet() -> None:
    from syncnet_eval.cli.speakers import speakers_csv_text

    result = replace(_result_with_segments(), path='=HYPERLINK("http://evil.example","x").mp4')
    rows = list(csv.DictReader(io.StringIO(speakers_csv_text(result))))
    assert len(rows) == 2
    for row in rows:
        assert row["path"] == "'" + result.path  # shown as text, never run as a formula
        assert row["duration_s"] in ("1.500", "0.200")  # numbers stay numbers


def _two_tracks_with_asd() -> VideoResult:
    """A pipeline record: track 0 speaks in frames 0-49 only, track 1 never (ASD scores)."""
    tracks = []
    for index, scores in ((0, [2.0] * 50 + [-2.0] * 50), (1, [-2.0] * 100)):
        timeline = asd_timeline(scores, 0, 25)
        tracks.append(
            _track(
                index,
                framewise_conf=[1.0] * 96,
                asd_scores=scores,
                speaking_judge=timeline.judge,
                speaking_fraction=timeline.fraction,
                speaking_segments=timeline.segments,
                smoothed_center_x=[60.0 + 150 * index] * 100,
                smoothed_center_y=[100.0] * 100,
                smoothed_half_size=[40.0] * 100,
            )
        )
    return VideoResult(
        path="two.mp4",
        status="ok",
        reason=None,
        recipe="syncnet-pipeline",
        tracks=tracks,
        selected_track=0,
        track_select="asd",
    )


def test_annotated_video_colours_boxes_by_speaking_state() -> None:
    from syncnet_eval.visualise import (
        BOX_THICKNESS_PX,
        SILENT_BGR,
        SPEAKING_BGR,
        draw_frame,
        track_overlays,
    )

    overlays = track_overlays(_two_tracks_with_asd(), 100, (320, 240))
    for frame, expected in ((10, (SPEAKING_BGR, SILENT_BGR)), (80, (SILENT_BGR, SILENT_BGR))):
        image = np.zeros((480, 640, 3), dtype=np.uint8)  # room for both labels off the boxes
        draw_frame(image, overlays, frame)
        for overlay, colour in zip(overlays, expected, strict=True):
            box = overlay.boxes[frame]
            assert box is not None
            x1, _, _, y2 = box  # the left edge, near the bottom (clear of the label)
            assert tuple(image[y2 - 2, x1 + BOX_THICKNESS_PX // 2]) == colour, (frame, overlay)


def test_report_carries_the_speaking_state() -> None:
    import json
    import re

    from syncnet_eval.report import ReportRun, build_report

    page = build_report([ReportRun("run", [_two_tracks_with_asd()])])
    blob = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert blob is not None
    (video,) = json.loads(blob.group(1))["videos"]
    assert [t["sf"] for t in video["t"]] == [0.5, 0.0]
    assert video["t"][0]["sp"] == [[0.0, 2.0]] and video["t"][1]["sp"] == []


def test_config_hash_is_unchanged_for_runs_without_the_new_options() -> None:
    from dataclasses import asdict
    import hashlib
    import json

    from syncnet_eval.config import ScoreConfig, config_hash

    def old_style(config: PipelineConfig) -> dict[str, object]:
        """The fields as hashed before track_select and the ASD options existed."""
        fields = asdict(config)
        fields["aggregate"] = fields.pop("track_select")
        del fields["asd"], fields["asd_model"]
        return fields

    def old_score(config: ScoreConfig) -> dict[str, object]:
        """The fields as hashed before the --expert and --silence-detector options existed."""
        fields = asdict(config)
        del fields["expert"], fields["expert_weights"], fields["silence_detector"]
        return fields

    for rule in ("best", "mean", "longest"):
        score, pipe = ScoreConfig(), PipelineConfig(track_select=rule)
        blob = json.dumps([old_score(score), old_style(pipe)], sort_keys=True).encode()
        assert config_hash(score, pipe) == hashlib.sha256(blob).hexdigest()[:16]
    with_asd = PipelineConfig(asd="light-asd")
    assert config_hash(ScoreConfig(), with_asd) != config_hash(ScoreConfig(), PipelineConfig())
    ava = PipelineConfig(asd="light-asd", asd_model="ava")
    assert config_hash(ScoreConfig(), ava) != config_hash(ScoreConfig(), with_asd)
