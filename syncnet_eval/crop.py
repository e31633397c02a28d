"""Face crops of a track, reproducing syncnet_python ``run_pipeline.py:crop_video``.

Spec section 4.2. Per frame of a track the box gives a half size ``s = max(h, w) / 2`` and a
centre; the three series are median-filtered (13 taps, zero-padded ends, so the first and last 6
values are biased low). Each frame is then padded by ``bsi = int(s * (1 + 2 * crop_scale))`` px of
constant 110 on all sides and the square

    rows int(my - s) .. int(my + s * (1 + 2 * crop_scale)),
    cols int(mx - s * (1 + crop_scale)) .. int(mx + s * (1 + crop_scale))

(``my = cy + bsi``, ``mx = cx + bsi``, padded coordinates, end exclusive) is resized to 224 x 224
with ``cv2.resize`` (INTER_LINEAR). All arithmetic is float64 with ``int()`` truncation, in the
reference's operation order, so the crops are bit-exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging

import cv2
import numpy as np
from scipy.signal import medfilt

from .tracking import Track

__all__ = [
    "CROP_SIZE_PX",
    "DEFAULT_CROP_SCALE",
    "PAD_VALUE",
    "CropGeometry",
    "crop_face",
    "crop_track",
    "smooth_boxes",
    "smooth_track",
]

logger = logging.getLogger(__name__)

DEFAULT_CROP_SCALE = 0.4  # run_pipeline.py --crop_scale default: margin around the face
CROP_SIZE_PX = 224  # the lip stream's input size
PAD_VALUE = 110  # grey the reference pads frames with (np.pad constant_values)
MEDIAN_KERNEL = 13  # scipy.signal.medfilt kernel_size used on s, x and y


@dataclass(frozen=True, eq=False)
class CropGeometry:
    """Smoothed crop geometry of a track, one value per frame.

    Attributes:
        center_x: (F,) float64 box centre x, px, after the 13-tap median filter.
        center_y: (F,) float64 box centre y, px, after the median filter.
        half_size: (F,) float64 half of ``max(width, height)``, px, after the median filter.
    """

    center_x: np.ndarray
    center_y: np.ndarray
    half_size: np.ndarray

    def __len__(self) -> int:
        return int(self.half_size.shape[0])


def smooth_boxes(boxes: np.ndarray, kernel_size: int = MEDIAN_KERNEL) -> CropGeometry:
    """Crop centre and half size per frame, median-filtered like ``crop_video``.

    Args:
        boxes: (F, 4) ``[x1, y1, x2, y2]`` px, one box per frame.
        kernel_size: odd median filter length (reference 13); edges are zero-padded.

    Returns:
        The :class:`CropGeometry` (float64 arrays of length F).
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be (F, 4), got {b.shape}")
    half = np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    cx = (b[:, 0] + b[:, 2]) / 2
    return CropGeometry(
        center_x=medfilt(cx, kernel_size=kernel_size),
        center_y=medfilt(cy, kernel_size=kernel_size),
        half_size=medfilt(half, kernel_size=kernel_size),
    )


def smooth_track(track: Track, kernel_size: int = MEDIAN_KERNEL) -> CropGeometry:
    """Smoothed crop geometry of a track (see :func:`smooth_boxes`).

    Args:
        track: a :class:`~syncnet_eval.tracking.Track` with (F, 4) interpolated boxes.
        kernel_size: odd median filter length (reference 13).

    Returns:
        The :class:`CropGeometry`, aligned with ``track.frames``.
    """
    return smooth_boxes(track.boxes, kernel_size=kernel_size)


def _crop_bounds(
    cx: float, cy: float, bs: float, crop_scale: float
) -> tuple[int, int, int, int, int]:
    """``(bsi, row0, row1, col0, col1)`` in padded coordinates, in the reference's float order."""
    bsi = int(bs * (1 + 2 * crop_scale))
    my = cy + bsi
    mx = cx + bsi
    row0 = int(my - bs)
    row1 = int(my + bs * (1 + 2 * crop_scale))
    col0 = int(mx - bs * (1 + crop_scale))
    col1 = int(mx + bs * (1 + crop_scale))
    return bsi, row0, row1, col0, col1


def _padded_window(
    frame: np.ndarray, cx: float, cy: float, bs: float, crop_scale: float
) -> np.ndarray:
    """The crop window of the 110-padded frame, before resizing."""
    bsi, row0, row1, col0, col1 = _crop_bounds(float(cx), float(cy), float(bs), crop_scale)
    height, width = frame.shape[:2]
    padded_h, padded_w = height + 2 * bsi, width + 2 * bsi
    if 0 <= row0 <= row1 <= padded_h and 0 <= col0 <= col1 <= padded_w:
        # Fast path: fill only the window instead of padding the whole frame.
        window = np.full((row1 - row0, col1 - col0, *frame.shape[2:]), PAD_VALUE, frame.dtype)
        src_r0, src_r1 = max(row0 - bsi, 0), min(row1 - bsi, height)
        src_c0, src_c1 = max(col0 - bsi, 0), min(col1 - bsi, width)
        if src_r0 < src_r1 and src_c0 < src_c1:
            window[
                src_r0 + bsi - row0 : src_r1 + bsi - row0,
                src_c0 + bsi - col0 : src_c1 + bsi - col0,
            ] = frame[src_r0:src_r1, src_c0:src_c1]
        return window
    # Bounds outside the padded frame (a box far off-screen): keep numpy's slicing semantics
    # (negative starts count from the end) exactly as the reference does.
    pad = ((bsi, bsi), (bsi, bsi)) + ((0, 0),) * (frame.ndim - 2)
    padded = np.pad(frame, pad, mode="constant", constant_values=(PAD_VALUE, PAD_VALUE))
    return padded[row0:row1, col0:col1]


def crop_face(
    frame_bgr: np.ndarray,
    cx: float,
    cy: float,
    bs: float,
    crop_scale: float = DEFAULT_CROP_SCALE,
    out_size: int = CROP_SIZE_PX,
) -> np.ndarray:
    """Crop one face like ``crop_video``: pad with 110, cut the square, resize INTER_LINEAR.

    Args:
        frame_bgr: (H, W, 3) uint8 BGR frame.
        cx: smoothed box centre x, px.
        cy: smoothed box centre y, px.
        bs: smoothed half size ``max(w, h) / 2``, px.
        crop_scale: margin (reference 0.4): the crop spans ``bs`` above to
            ``bs * (1 + 2 * crop_scale)`` below the centre and ``bs * (1 + crop_scale)`` to
            either side.
        out_size: output side, px.

    Returns:
        (out_size, out_size, 3) uint8 BGR crop.

    Raises:
        ValueError: if the crop window is empty (zero half size or a box far off the frame).
    """
    window = _padded_window(frame_bgr, cx, cy, bs, crop_scale)
    if window.shape[0] == 0 or window.shape[1] == 0:
        raise ValueError(
            f"empty face crop for centre ({cx:.1f}, {cy:.1f}), half size {bs:.1f} in a "
            f"{frame_bgr.shape[1]}x{frame_bgr.shape[0]} frame"
        )
    return cv2.resize(window, (out_size, out_size), interpolation=cv2.INTER_LINEAR)


def crop_track(
    frames: np.ndarray | Sequence[np.ndarray],
    geometry: CropGeometry,
    crop_scale: float = DEFAULT_CROP_SCALE,
    out_size: int = CROP_SIZE_PX,
) -> np.ndarray:
    """Crop every frame of a track (bit-exact with :func:`crop_face` per frame).

    Args:
        frames: (F, H, W, 3) uint8 BGR frames, or a sequence of F such frames, where
            ``frames[i]`` is the video frame at ``track.frames[i]``.
        geometry: the track's :class:`CropGeometry` (length F).
        crop_scale: margin, as in :func:`crop_face`.
        out_size: output side, px.

    Returns:
        (F, out_size, out_size, 3) uint8 BGR crops.

    Raises:
        ValueError: if the frame count differs from the geometry length, or a crop is empty.
    """
    num = len(geometry)
    if len(frames) != num:
        raise ValueError(f"{len(frames)} frames for a track geometry of {num} frames")
    out = np.empty((num, out_size, out_size, 3), dtype=np.uint8)
    for i in range(num):
        out[i] = crop_face(
            frames[i],
            geometry.center_x[i],
            geometry.center_y[i],
            geometry.half_size[i],
            crop_scale=crop_scale,
            out_size=out_size,
        )
    return out
