"""Tests of syncnet_eval.crop: hand-computed crops, padding, smoothing and vectorised parity."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from syncnet_eval.crop import (
    PAD_VALUE,
    CropGeometry,
    crop_face,
    crop_track,
    smooth_boxes,
    smooth_track,
)
from syncnet_eval.tracking import Track


def _reference_crop(frame: np.ndarray, cx: float, cy: float, bs: float, cs: float) -> np.ndarray:
    """The reference's arithmetic, written out literally (pads the whole frame)."""
    bsi = int(bs * (1 + 2 * cs))
    padded = np.pad(frame, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
    my = cy + bsi
    mx = cx + bsi
    face = padded[
        int(my - bs) : int(my + bs * (1 + 2 * cs)),
        int(mx - bs * (1 + cs)) : int(mx + bs * (1 + cs)),
    ]
    return cv2.resize(face, (224, 224))


def _random_frame(rng: np.random.Generator, height: int = 100, width: int = 120) -> np.ndarray:
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_crop_by_hand_near_the_border_shows_the_padding() -> None:
    frame = _random_frame(np.random.default_rng(0))  # 100 rows x 120 cols
    cx, cy, bs = 20.3, 30.6, 50.0
    # bsi = int(50 * 1.8) = 90; my = 120.6, mx = 110.3 in padded coordinates.
    # Rows int(70.6) .. int(210.6) = 70 .. 210, cols int(40.3) .. int(180.3) = 40 .. 180, i.e.
    # rows -20 .. 120 and cols -50 .. 90 of the frame: 20 padded rows above, 20 below, 50 padded
    # columns on the left.
    window = np.full((140, 140, 3), PAD_VALUE, dtype=np.uint8)
    window[20:120, 50:140] = frame[0:100, 0:90]

    same_size = crop_face(frame, cx, cy, bs, crop_scale=0.4, out_size=140)
    np.testing.assert_array_equal(same_size, window)  # resizing to the same size is a copy

    crop = crop_face(frame, cx, cy, bs)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, cv2.resize(window, (224, 224)))
    assert (crop[:20, :] == PAD_VALUE).all() and (crop[:, :60] == PAD_VALUE).all()


def test_crop_inside_the_frame_has_no_padding() -> None:
    frame = _random_frame(np.random.default_rng(1), 400, 400)
    # bsi = 90; rows int(200.25 + 90 - 50) .. int(290.25 + 90) = 240 .. 380 -> frame 150 .. 290,
    # cols int(190.75 + 90 - 70) .. int(280.75 + 70) = 210 .. 350 -> frame 120 .. 260.
    crop = crop_face(frame, 190.75, 200.25, 50.0, out_size=140)
    np.testing.assert_array_equal(crop, frame[150:290, 120:260])


def test_crop_face_matches_literal_reference_arithmetic() -> None:
    rng = np.random.default_rng(2)
    frame = _random_frame(rng, 180, 260)
    checked = empty = 0
    for _ in range(400):
        # Centres up to 60 px off the 260 x 180 frame. A centre more than 0.4 * bs outside
        # the left/top edge makes the reference's slice start negative, which numpy wraps;
        # that either crops from the far side or gives an empty window (the reference crashes).
        cx = rng.uniform(-60, 320)
        cy = rng.uniform(-60, 240)
        bs = rng.uniform(0.5, 120)
        cs = float(rng.choice([0.4, 0.25, 0.0]))
        try:
            expected = _reference_crop(frame, cx, cy, bs, cs)
        except cv2.error:  # empty window: the reference crashes in cv2.resize
            with pytest.raises(ValueError, match="empty face crop"):
                crop_face(frame, cx, cy, bs, crop_scale=cs)
            empty += 1
            continue
        np.testing.assert_array_equal(crop_face(frame, cx, cy, bs, crop_scale=cs), expected)
        checked += 1
    assert checked > 300 and empty > 0


def test_crop_track_equals_per_frame_crop_face() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, size=(20, 120, 160, 3), dtype=np.uint8)
    geometry = CropGeometry(
        # Centres inside the frame or past its right/bottom edges (cropped with clipping).
        center_x=rng.uniform(0, 190, 20),
        center_y=rng.uniform(0, 150, 20),
        half_size=rng.uniform(10, 80, 20),
    )
    crops = crop_track(frames, geometry)
    assert crops.shape == (20, 224, 224, 3) and crops.dtype == np.uint8
    for i in range(20):
        expected = crop_face(
            frames[i], geometry.center_x[i], geometry.center_y[i], geometry.half_size[i]
        )
        np.testing.assert_array_equal(crops[i], expected)
    # A list of frames works too.
    np.testing.assert_array_equal(crop_track(list(frames), geometry), crops)


def test_crop_track_rejects_length_mismatch() -> None:
    geometry = CropGeometry(np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="frames"):
        crop_track(np.zeros((2, 10, 10, 3), np.uint8), geometry)


def test_smoothing_is_a_zero_padded_13_tap_median() -> None:
    # A box shrinking by 2 px per frame: half size 20, 19, ..., 1 (decreasing).
    sizes = np.arange(40.0, 0.0, -2.0)
    boxes = np.stack([np.full(20, 10.0), np.full(20, 5.0), 10.0 + sizes, 5.0 + sizes / 2], axis=1)
    geometry = smooth_boxes(boxes)
    half = sizes / 2
    # Interior: the median of a monotonic run is its centre value.
    np.testing.assert_array_equal(geometry.half_size[6:14], half[6:14])
    # First value: the window holds six zeros and half[0..6] = 20..14, so the median is 14.
    assert geometry.half_size[0] == 14.0
    assert (geometry.half_size[:6] < half[:6]).all()
    np.testing.assert_array_equal(geometry.center_x[6:14], 10.0 + sizes[6:14] / 2)
    assert geometry.center_x.dtype == np.float64


def test_smooth_track_uses_max_side() -> None:
    boxes = np.tile([10.0, 20.0, 110.0, 160.0], (30, 1))  # w 100, h 140
    track = Track(frames=np.arange(30), boxes=boxes)
    geometry = smooth_track(track)
    assert len(geometry) == 30
    np.testing.assert_array_equal(geometry.half_size[6:-6], 70.0)
    np.testing.assert_array_equal(geometry.center_x[6:-6], 60.0)
    np.testing.assert_array_equal(geometry.center_y[6:-6], 90.0)
    # Zero padding: with six zeros and seven equal values the median is still the value.
    assert geometry.half_size[0] == 70.0
