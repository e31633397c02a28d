"""Tests of syncnet_eval.tracking: unit cases with gaps, and parity with the reference goldens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from syncnet_eval.crop import smooth_track
from syncnet_eval.tracking import Track, iou, track_faces, track_scenes

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOLDENS = sorted((SHARED / "reference").glob("*.full.json"))


def _empty() -> np.ndarray:
    return np.zeros((0, 5))


def _detections(num_frames: int, faces: dict[int, list[list[float]]]) -> list[np.ndarray]:
    """Per-frame (K, 5) arrays from {frame: [[x1, y1, x2, y2, score], ...]}."""
    return [
        np.asarray(faces[f], dtype=np.float64) if f in faces else _empty()
        for f in range(num_frames)
    ]


def _box(x: float = 100.0, y: float = 50.0, size: float = 150.0, score: float = 1.0) -> list[float]:
    return [x, y, x + size, y + size, score]


# ----------------------------------------------------------------------------- unit cases


def test_iou_without_plus_one() -> None:
    assert iou([0, 0, 300, 100], [100, 0, 400, 100]) == 0.5
    assert iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert iou([5, 5, 5, 5], [5, 5, 5, 5]) == 0.0  # degenerate boxes do not divide by zero


def test_gap_of_num_failed_det_joins_and_is_interpolated() -> None:
    # Detections on frames 0..59 and 84..150; 84 - 59 = 25 frames is still allowed.
    faces = {f: [_box(x=100.0 + f)] for f in [*range(60), *range(84, 151)]}
    result = track_faces(_detections(151, faces), (0, 151))
    assert len(result.tracks) == 1
    track = result.tracks[0]
    assert (track.first_frame, track.last_frame) == (0, 150)
    np.testing.assert_array_equal(track.frames, np.arange(151))
    # Linear interpolation across the gap: x1 = 100 + f on every frame.
    np.testing.assert_allclose(track.boxes[:, 0], 100.0 + np.arange(151), atol=1e-9)
    np.testing.assert_allclose(track.boxes[:, 2] - track.boxes[:, 0], 150.0, atol=1e-9)
    assert result.longest_rejected == 0


def test_gap_longer_than_num_failed_det_ends_track() -> None:
    # Frames 0..119, then 145..259: 145 - 119 = 26 > 25 frames.
    faces = {f: [_box()] for f in [*range(120), *range(145, 260)]}
    result = track_faces(_detections(260, faces), (0, 260))
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(0, 119), (145, 259)]


def test_num_failed_det_is_configurable() -> None:
    faces = {f: [_box()] for f in [*range(120), *range(145, 260)]}
    result = track_faces(_detections(260, faces), (0, 260), num_failed_det=26)
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(0, 259)]


def test_two_faces_far_apart_give_two_tracks_in_list_order() -> None:
    faces = {f: [_box(x=100.0, score=0.99), _box(x=600.0, score=0.95)] for f in range(150)}
    result = track_faces(_detections(150, faces), (0, 150))
    assert len(result.tracks) == 2
    assert [t.boxes[0, 0] for t in result.tracks] == [100.0, 600.0]
    for track in result.tracks:
        assert (track.first_frame, track.last_frame) == (0, 149)
        assert track.scene == (0, 150)


def test_short_track_is_discarded_and_its_length_reported() -> None:
    faces = {f: [_box()] for f in range(10, 90)}  # 80 detections
    result = track_faces(_detections(200, faces), (0, 200))
    assert result.tracks == []
    assert result.longest_rejected == 80
    assert result.num_rejected_short == 1
    assert result.num_rejected_small == 0


def test_min_track_needs_more_than_min_track_detections() -> None:
    exactly = track_faces(_detections(200, {f: [_box()] for f in range(100)}), (0, 200))
    assert exactly.tracks == [] and exactly.longest_rejected == 100
    one_more = track_faces(_detections(200, {f: [_box()] for f in range(101)}), (0, 200))
    assert len(one_more.tracks) == 1 and one_more.longest_rejected == 0


def test_min_face_size_needs_a_larger_mean_side() -> None:
    small = track_faces(_detections(150, {f: [_box(size=100.0)] for f in range(150)}), (0, 150))
    assert small.tracks == []
    assert small.num_rejected_small == 1
    assert small.largest_rejected_face_px == 100.0
    big = track_faces(_detections(150, {f: [_box(size=100.5)] for f in range(150)}), (0, 150))
    assert len(big.tracks) == 1


def test_iou_must_exceed_threshold() -> None:
    # Box A on frames 0..74, then box B shifted by 100 px: IoU(A, B) = 0.5 exactly, not > 0.5.
    a, b = [0.0, 0.0, 300.0, 200.0, 1.0], [100.0, 0.0, 400.0, 200.0, 1.0]
    faces = {f: [a if f < 75 else b] for f in range(201)}
    result = track_faces(_detections(201, faces), (0, 201))
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(75, 200)]
    assert result.longest_rejected == 75
    # A 99 px shift overlaps a bit more and the two runs form one track.
    b = [99.0, 0.0, 399.0, 200.0, 1.0]
    faces = {f: [a if f < 75 else b] for f in range(201)}
    result = track_faces(_detections(201, faces), (0, 201))
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(0, 200)]


def test_detection_after_a_taken_one_is_skipped_like_the_reference() -> None:
    # The reference removes taken faces from the list it iterates over, so the face that follows
    # a taken one in the same frame is not examined in that pass, even if it overlaps.
    a = _box()
    a_near = _box(x=102.0)
    faces = {0: [a], 1: [a, a_near], 2: [a]}
    result = track_faces(_detections(3, faces), (0, 3), min_track=1, min_face_size=0)
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(0, 2)]
    # a_near was left for a second pass, where it formed a 1-detection candidate.
    assert result.num_rejected_short == 1
    assert result.longest_rejected == 1


def test_scene_bounds_limit_the_frames_read() -> None:
    faces = {f: [_box()] for f in range(300)}
    result = track_faces(_detections(300, faces), (50, 250))
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(50, 249)]


def test_track_scenes_skips_short_scenes_and_keeps_scene_order() -> None:
    faces = {f: [_box()] for f in range(400)}
    scenes = [(0, 150), (150, 240), (240, 400)]
    result = track_scenes(_detections(400, faces), scenes)
    assert [(t.first_frame, t.last_frame) for t in result.tracks] == [(0, 149), (240, 399)]
    assert [t.scene for t in result.tracks] == [(0, 150), (240, 400)]
    assert result.skipped_scenes == [(150, 240)]


def test_track_properties() -> None:
    track = Track(frames=np.arange(5, 10), boxes=np.zeros((5, 4)))
    assert (track.first_frame, track.last_frame, track.num_frames, len(track)) == (5, 9, 5, 5)


# ----------------------------------------------------------------------------- golden parity


def _load_golden(path: Path) -> dict:
    return json.loads(path.read_text())["result"]


@pytest.mark.parametrize("golden", GOLDENS, ids=[p.name.split(".")[0] for p in GOLDENS])
def test_tracks_and_smoothing_match_reference(golden: Path) -> None:
    ref = _load_golden(golden)
    detections = [
        np.asarray(d, dtype=np.float64).reshape(-1, 5) for d in ref["detections_per_frame"]
    ]
    assert len(detections) == ref["num_frames_dumped"]
    scenes = [tuple(s) for s in ref["scenes"]]
    # The reference only tracks scenes of at least min_track (100) frames.
    tracks = []
    for scene in scenes:
        if scene[1] - scene[0] >= 100:
            tracks.extend(track_faces(detections, scene).tracks)
    assert [t.first_frame for t in track_scenes(detections, scenes).tracks] == [
        t.first_frame for t in tracks
    ]

    expected = ref["tracks"]
    assert len(tracks) == len(expected)
    for track, exp in zip(tracks, expected, strict=True):
        assert (track.first_frame, track.last_frame) == (exp["first_frame"], exp["last_frame"])
        np.testing.assert_array_equal(
            track.frames, np.arange(exp["first_frame"], exp["last_frame"] + 1)
        )
        np.testing.assert_allclose(
            track.boxes, np.asarray(exp["bbox_interpolated"]), atol=1e-6, rtol=0
        )
        geometry = smooth_track(track)
        for values, key in (
            (geometry.center_x, "smoothed_center_x"),
            (geometry.center_y, "smoothed_center_y"),
            (geometry.half_size, "smoothed_half_size"),
        ):
            np.testing.assert_allclose(values, np.asarray(exp[key]), atol=1e-6, rtol=0, err_msg=key)
