"""Tests of syncnet_eval.scenes: synthetic cuts, and parity with the reference goldens."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import subprocess

import cv2
import numpy as np
import pytest

from syncnet_eval.scenes import SceneCutDetector, detect_scenes, downscale_factor, scenes_from_cuts

from conftest import SHARED_DIR

SHARED = SHARED_DIR
FFMPEG = "/usr/bin/ffmpeg"


def _clip(colours: list[tuple[int, int, int]], size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """(F, H, W, 3) uint8 BGR clip, one flat colour per frame."""
    return np.array([np.full((*size, 3), c, dtype=np.uint8) for c in colours])


def _segments(*runs: tuple[int, tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    return [colour for length, colour in runs for _ in range(length)]


# Pairwise HSV scores: red/blue 46.7, blue/grey 178.3, grey/red 145 (all cuts).
RED, BLUE, GREY = (0, 0, 220), (200, 0, 0), (40, 40, 40)


# ----------------------------------------------------------------------------- synthetic


def test_hard_cut_gives_two_scenes() -> None:
    clip = _clip(_segments((20, RED), (25, BLUE)))
    assert detect_scenes(clip) == [(0, 20), (20, 45)]


def test_no_cut_gives_one_scene() -> None:
    assert detect_scenes(_clip(_segments((30, GREY)))) == [(0, 30)]


def test_no_frames_gives_no_scene() -> None:
    assert detect_scenes(iter([])) == []


def test_cuts_closer_than_min_scene_len_are_merged() -> None:
    # Cuts at 20 and 30 (10 frames apart): the second is dropped; the cut at 45 is kept.
    clip = _clip(_segments((20, RED), (10, BLUE), (15, GREY), (10, RED)))
    assert detect_scenes(clip) == [(0, 20), (20, 45), (45, 55)]
    assert detect_scenes(clip, min_scene_len=10) == [(0, 20), (20, 30), (30, 45), (45, 55)]


def test_first_cut_has_no_distance_from_frame_zero() -> None:
    clip = _clip(_segments((3, RED), (30, BLUE)))
    assert detect_scenes(clip) == [(0, 3), (3, 33)]


def test_threshold_is_inclusive_on_exact_hsv_scores() -> None:
    # Grey frames have H = S = 0, so a grey step of 90 scores exactly (0 + 0 + 90) / 3 = 30.
    black = np.zeros((10, 10, 3), np.uint8)
    detector = SceneCutDetector()
    detector.feed([black, np.full_like(black, 90)])
    assert detector.scores == [0.0, 30.0]
    assert detector.cuts == [1]
    assert detect_scenes([black, np.full_like(black, 89)]) == [(0, 2)]


def test_frames_are_subsampled_not_filtered() -> None:
    # 400 px wide -> factor 2: only pixels (2i, 2j) are compared. Changing every other pixel
    # leaves the subsampled frames identical, however large the full-frame change.
    assert downscale_factor(400) == 2
    first = np.zeros((100, 400, 3), np.uint8)
    second = first.copy()
    second[1::2, :] = 255
    second[:, 1::2] = 255
    assert detect_scenes([first, second]) == [(0, 2)]
    third = first.copy()
    third[::2, ::2] = 255
    assert detect_scenes([first, third]) == [(0, 1), (1, 2)]


@pytest.mark.parametrize(
    ("width", "factor"),
    [
        (100, 1),
        (399, 1),
        (400, 2),
        (599, 2),
        (600, 3),
        (900, 4),
        (1200, 5),
        (1280, 5),
        (1700, 6),
        (1920, 6),
        (2100, 8),
        (3200, 12),
        (7680, 12),
    ],
)
def test_downscale_factor_table(width: int, factor: int) -> None:
    assert downscale_factor(width) == factor


def test_streaming_in_chunks_equals_one_pass() -> None:
    clip = _clip(_segments((20, RED), (16, BLUE), (5, GREY), (30, RED)))
    detector = SceneCutDetector()
    for start in range(0, len(clip), 7):
        detector.feed(clip[start : start + 7])
    assert detector.num_frames == len(clip)
    assert detector.scenes() == detect_scenes(iter(list(clip)))


def test_shape_change_is_rejected() -> None:
    detector = SceneCutDetector()
    detector.add_frame(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        detector.add_frame(np.zeros((10, 12, 3), np.uint8))


def test_scenes_from_cuts() -> None:
    assert scenes_from_cuts([], 5) == [(0, 5)]
    assert scenes_from_cuts([2, 4], 5) == [(0, 2), (2, 4), (4, 5)]
    assert scenes_from_cuts([], 0) == []


# ----------------------------------------------------------------------------- golden parity

# wav2lip: 8 scenes, with above-threshold frames that min_scene_len suppresses; KatieHill: one
# scene, 512 px (factor 2); retalking_face_1: variable frame rate source, OpenCV reads 135 frames
# where the reference dumped 154 JPEGs.
PARITY_CASES = ["wav2lip_pr600_test_scenecuts", "hdtf_WDA_KatieHill_000", "retalking_face_1"]


def _opencv_frames(path: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield frame
    finally:
        capture.release()


@pytest.mark.skipif(not Path(FFMPEG).exists(), reason=f"{FFMPEG} not installed")
@pytest.mark.parametrize("stem", PARITY_CASES)
def test_scenes_match_reference_on_25fps_transcode(stem: str, tmp_path: Path) -> None:
    golden = SHARED / "reference" / f"{stem}.full.json"
    if not golden.exists():
        pytest.skip(f"{golden} not available")
    data = json.loads(golden.read_text())
    source = SHARED / "media" / data["video"]
    ref = data["result"]

    # The reference's transcode (run_pipeline.py), then OpenCV decoding as VideoManager does.
    avi = tmp_path / "video.avi"
    subprocess.run(
        [FFMPEG, "-y", "-i", str(source), "-qscale:v", "2", "-async", "1", "-r", "25", str(avi)],
        check=True,
        capture_output=True,
    )
    detector = SceneCutDetector()
    detector.feed(_opencv_frames(avi))

    assert detector.scenes() == [tuple(s) for s in ref["scenes"]]
    # Scene bounds count OpenCV-decoded frames; the JPEG dump that detection indices count
    # holds the transcode's duplicated frames too, so it is never shorter.
    assert detector.num_frames == ref["scenes"][-1][1]
    assert detector.num_frames <= ref["num_frames_dumped"]
