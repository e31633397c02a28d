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
import os
from pathlib import Path

import cv2
import numpy as np
from scipy.signal import medfilt

from . import ffmpeg
from .constants import CROP_SCALE, FPS, LIP_SIZE_PX, SAMPLE_RATE_HZ
from .errors import InputError
from .tracking import Track

__all__ = [
    "PAD_VALUE",
    "CropGeometry",
    "CropVideoWriter",
    "crop_face",
    "crop_track",
    "face_box_in_crop",
    "save_crop_video",
    "smooth_boxes",
    "smooth_track",
]

logger = logging.getLogger(__name__)

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
    crop_scale: float = CROP_SCALE,
    out_size: int = LIP_SIZE_PX,
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
    crop_scale: float = CROP_SCALE,
    out_size: int = LIP_SIZE_PX,
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


class CropVideoWriter:
    """An XVID AVI encoder bit-exact with the reference's ``cv2.VideoWriter`` (OpenCV 4.8.1).

    OpenCV 4.8.1 bundles FFmpeg 5.1 and sets bit_rate = bit_rate_tolerance = 2 * fps * w * h,
    qmin 3, gop 12, one thread, BGR24 -> YUV420P through swscale. The same settings on the ffmpeg
    5.1 CLI reproduce its packets exactly, whereas OpenCV 5's own writer (newer swscale) moves
    pixels by up to 27 levels (scripts/studies/study_xvid_writer.py).

    Args:
        path: the ``.avi`` to write.
        source: the user's video the crops come from (for error messages).
        size_px: side of the square frames.
        fps: frame rate.
    """

    def __init__(
        self, path: Path, *, source: str | Path, size_px: int = LIP_SIZE_PX, fps: int = FPS
    ) -> None:
        bitrate = str(2 * fps * size_px * size_px)
        self.path = path
        self._writer = ffmpeg.Writer(
            [
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-s",
                f"{size_px}x{size_px}",
                "-r",
                str(fps),
                "-i",
                "pipe:0",
                "-c:v",
                "mpeg4",
                "-vtag",
                "XVID",
                "-pix_fmt",
                "yuv420p",
                "-b:v",
                bitrate,
                "-bt",
                bitrate,
                "-qmin",
                "3",
                "-g",
                "12",
                "-threads",
                "1",
                "-filter_threads",
                "1",
                str(path),
            ],
            source=source,
            action="encode the face crops",
        )

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one (size, size, 3) uint8 BGR frame."""
        self._writer.write(np.ascontiguousarray(frame_bgr).tobytes())

    def close(self) -> None:
        """Finish the file (raises ``DecodeError`` if the encoder failed)."""
        self._writer.close()

    def kill(self) -> None:
        """Abandon the file."""
        self._writer.kill()


def save_crop_video(crop_avi: Path, audio: np.ndarray, dest: Path, *, source: str | Path) -> None:
    """Mux a crop video with its 16 kHz int16 audio slice into ``dest``, atomically.

    Raises:
        InputError: when ffmpeg cannot write ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_name(f".{dest.name}.tmp.avi")
    args = [
        *ffmpeg.input_args(crop_avi),
        "-f",
        "s16le",
        "-ar",
        str(SAMPLE_RATE_HZ),
        "-ac",
        "1",
        "-i",
        "pipe:0",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        str(tmp_dest),
    ]
    done = ffmpeg.run(args, stdin=audio.astype("<i2").tobytes())
    done.check(source, f"write the crop {dest}", error=InputError)
    os.replace(tmp_dest, dest)


def face_box_in_crop(crop_scale: float, size: int = 224) -> tuple[int, int, int, int]:
    """Where the track's face box lies in the face-track recipe's ``size`` crops.

    ``crop.py`` (run_pipeline.py's ``crop_video``) cuts ``[cy - bs, cy + bs (1 + 2 cs)]`` by
    ``[cx - bs (1 + cs), cx + bs (1 + cs)]`` around the smoothed box of half-side ``bs``, and
    resizes it to ``size``: the face box ``cx +- bs``, ``cy +- bs`` is a fixed square of it.
    """
    side = 2.0 * (1.0 + crop_scale)  # the crop's side, in units of bs
    x1 = size * crop_scale / side
    x2 = size * (2.0 + crop_scale) / side
    y2 = size * 2.0 / side
    return round(x1), 0, round(x2), round(y2)
