"""dlib's HOG frontal face detector, run exactly as the reference goldens were made.

The full-pipeline goldens of ``shared/reference`` replaced S3FD by dlib's HOG detector (the
parity-test S3FD weights find no faces). Checked against those goldens on the reference's own
JPEG frames (syncnet_example, hdtf_WDA_KatieHill_000, latentsync_demo1_video,
wav2lip_pr600_test_scenecuts): every box and score is reproduced bit for bit when dlib is given
the frame in RGB order, ``run(image, 0, 0.0)`` is called, and a box is reported as
[left(), top(), right(), bottom()] (dlib's inclusive corners, no +1), scaled by 2 for frames
that were halved.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, DependencyError
from .base import check_frame_batch

__all__ = ["HALF_SCALE", "MAX_FULL_WIDTH_PX", "HOGDetector", "build"]

logger = logging.getLogger(__name__)

# Frames wider than this are halved (INTER_AREA) before detection, as for the goldens: HOG cost
# grows with the pixel count and faces in such frames stay far above dlib's 80 px window.
MAX_FULL_WIDTH_PX = 1000
HALF_SCALE = 0.5


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise DependencyError(
            "the 'hog' face detector needs dlib, which is not installed; install it with "
            "`pip install dlib-bin` (prebuilt wheel) or `pip install dlib` (builds from source), "
            "or use the 's3fd' detector"
        ) from exc
    return dlib


class HOGDetector:
    """dlib HOG + linear SVM frontal face detector.

    Args:
        upsample: times dlib upsamples the image before scanning (goldens: 0).
        adjust_threshold: added to dlib's detection threshold; boxes scoring above it are kept
            (goldens: 0.0).

    Raises:
        DependencyError: if dlib is not installed.
        ConfigError: for a negative ``upsample``.
    """

    name = "hog"

    def __init__(self, *, upsample: int = 0, adjust_threshold: float = 0.0) -> None:
        if upsample < 0:
            raise ConfigError(f"upsample must be >= 0, got {upsample}")
        self._dlib = _import_dlib()
        self._detector = self._dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.adjust_threshold = adjust_threshold

    def _detect_one(self, frame_bgr: np.ndarray) -> np.ndarray:
        scale_back = 1.0
        if frame_bgr.shape[1] > MAX_FULL_WIDTH_PX:
            frame_bgr = cv2.resize(
                frame_bgr,
                dsize=(0, 0),
                fx=HALF_SCALE,
                fy=HALF_SCALE,
                interpolation=cv2.INTER_AREA,
            )
            scale_back = 1.0 / HALF_SCALE
        rgb = np.ascontiguousarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
        rects, scores, _ = self._detector.run(rgb, self.upsample, self.adjust_threshold)
        dets = np.array(
            [
                [r.left(), r.top(), r.right(), r.bottom(), score]
                for r, score in zip(rects, scores, strict=True)
            ],
            dtype=np.float64,
        ).reshape(-1, 5)
        dets[:, :4] *= scale_back
        # dlib already returns the best first; a stable sort keeps its order among ties.
        return dets[np.argsort(-dets[:, 4], kind="stable")]

    def detect(self, frames_bgr: np.ndarray) -> list[np.ndarray]:
        """Detect faces in every frame.

        Args:
            frames_bgr: (N, H, W, 3) uint8 BGR frames, all the same size.

        Returns:
            Per frame, a (K, 5) float64 array of [x1, y1, x2, y2, score] in pixels of the given
            frame (x2, y2 = dlib's inclusive right/bottom), best score first; the score is
            dlib's SVM margin, not a probability (K may be 0).
        """
        check_frame_batch(frames_bgr)
        return [self._detect_one(frame) for frame in frames_bgr]


def build(**settings: Any) -> HOGDetector:
    """The registry's builder (``faces.get_detector("hog")``): HOG has no weights, device or
    scale; the other settings are ignored."""
    return HOGDetector()
