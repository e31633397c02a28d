"""Hard-cut scene detection, reproducing PySceneDetect 0.5.1's ``ContentDetector``.

The reference pipeline (syncnet_python ``run_pipeline.py``) pins ``scenedetect==0.5.1`` and runs
``ContentDetector()`` with its defaults on the OpenCV-decoded 25 fps transcode, after
``VideoManager.set_downscale_factor()``. Later scenedetect releases changed the default threshold,
the ``min_scene_len`` rule and the downscaling, so the 0.5.1 rule is reimplemented here
(spec section 2):

- every frame is subsampled as ``frame[::f, ::f]`` with an integer factor ``f`` picked from the
  frame width (:func:`downscale_factor`); no filtering;
- frame ``n >= 1`` scores the mean absolute difference of H, S and V (OpenCV ``BGR2HSV``, uint8,
  H in 0-179) against frame ``n - 1``, averaged over the three channels;
- a cut is placed at ``n`` when the score is ``>= threshold`` and either no cut was placed yet or
  ``n - last_cut >= min_scene_len`` (the first cut may come any distance after frame 0);
- scenes are the ``[start, end)`` runs between cuts, covering ``[0, num_frames)``.

Detection is streaming: :class:`SceneCutDetector` keeps only the previous frame's HSV planes, so
frames can be fed in decode chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
import itertools
import logging

import cv2
import numpy as np

from .constants import SCENE_MIN_LEN, SCENE_THRESHOLD

__all__ = [
    "SceneCutDetector",
    "detect_scenes",
    "downscale_factor",
    "scenes_from_cuts",
]

logger = logging.getLogger(__name__)

# PySceneDetect 0.5.1 ContentDetector() defaults, used unchanged by run_pipeline.py.

# PySceneDetect 0.5.1 video_manager.DEFAULT_DOWNSCALE_FACTORS: (minimum frame width px, factor),
# widest first; narrower frames are not downscaled.
_DOWNSCALE_FACTORS: tuple[tuple[int, int], ...] = (
    (3200, 12),
    (2100, 8),
    (1700, 6),
    (1200, 5),
    (900, 4),
    (600, 3),
    (400, 2),
)


def downscale_factor(frame_width: int) -> int:
    """Integer subsampling factor PySceneDetect 0.5.1 picks for a frame width.

    Args:
        frame_width: width of the decoded frame, px.

    Returns:
        The factor ``f``; frames are subsampled as ``frame[::f, ::f]`` (1 = untouched).
    """
    for min_width, factor in _DOWNSCALE_FACTORS:
        if frame_width >= min_width:
            return factor
    return 1


def scenes_from_cuts(cuts: Iterable[int], num_frames: int) -> list[tuple[int, int]]:
    """Turn cut frame indices into ``[start, end)`` scenes covering ``[0, num_frames)``.

    Args:
        cuts: increasing frame indices where a new scene starts (each in ``1..num_frames-1``).
        num_frames: number of frames decoded.

    Returns:
        ``[(0, c1), (c1, c2), ..., (ck, num_frames)]``; ``[(0, num_frames)]`` without cuts, and
        an empty list when ``num_frames == 0``.
    """
    if num_frames <= 0:
        return []
    bounds = [0, *cuts, num_frames]
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


class SceneCutDetector:
    """Streaming PySceneDetect 0.5.1 ``ContentDetector`` (with ``set_downscale_factor()``).

    Feed frames in decode order with :meth:`add_frame` or :meth:`feed`, then read :meth:`scenes`.
    Only the previous frame's HSV planes are kept in memory.

    Args:
        threshold: cut when the mean HSV difference is ``>=`` this (0-255 scale).
        min_scene_len: frames that must separate a cut from the previous cut.
        downscale: subsampling factor; ``None`` picks it from the first frame's width like
            ``VideoManager.set_downscale_factor()`` (:func:`downscale_factor`).

    Attributes:
        cuts: frame indices where a new scene starts, in order.
        scores: per-frame content score (``scores[0]`` is 0.0: frame 0 has no predecessor).
    """

    def __init__(
        self,
        threshold: float = SCENE_THRESHOLD,
        min_scene_len: int = SCENE_MIN_LEN,
        downscale: int | None = None,
    ) -> None:
        if min_scene_len < 0:
            raise ValueError(f"min_scene_len must be >= 0, got {min_scene_len}")
        if downscale is not None and downscale < 1:
            raise ValueError(f"downscale must be >= 1, got {downscale}")
        self.threshold = float(threshold)
        self.min_scene_len = int(min_scene_len)
        self.downscale = downscale
        self.cuts: list[int] = []
        self.scores: list[float] = []
        self._num_frames = 0
        self._frame_shape: tuple[int, ...] | None = None
        self._last_hsv: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        """Frames processed so far."""
        return self._num_frames

    def add_frame(self, frame: np.ndarray) -> bool:
        """Process the next frame.

        Args:
            frame: (H, W, 3) uint8 BGR frame (as decoded by OpenCV); all frames must share a shape.

        Returns:
            True when a cut was placed at this frame.

        Raises:
            ValueError: when the frame is not (H, W, 3) uint8 or its shape changed.
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 BGR frame, got {frame.shape} {frame.dtype}"
            )
        if self._frame_shape is None:
            self._frame_shape = frame.shape
            if self.downscale is None:
                self.downscale = downscale_factor(frame.shape[1])
                logger.debug("scene detection downscale factor %d", self.downscale)
        elif frame.shape != self._frame_shape:
            raise ValueError(
                f"frame {self._num_frames} has shape {frame.shape}, "
                f"earlier frames {self._frame_shape}"
            )
        factor = self.downscale if self.downscale is not None else 1
        small = frame[::factor, ::factor] if factor > 1 else frame
        hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_BGR2HSV).astype(np.int32)

        index = self._num_frames
        self._num_frames += 1
        previous, self._last_hsv = self._last_hsv, hsv
        if previous is None:
            self.scores.append(0.0)
            return False

        num_pixels = float(hsv.shape[0] * hsv.shape[1])
        # Integer sums per channel, each divided by the pixel count, then summed in H, S, V order
        # and divided by 3: the same float64 operations as scenedetect 0.5.1.
        sums = np.abs(hsv - previous).sum(axis=(0, 1), dtype=np.int64)
        delta_h, delta_s, delta_v = (int(s) / num_pixels for s in sums)
        score = (delta_h + delta_s + delta_v) / 3.0
        self.scores.append(score)

        if score >= self.threshold and (
            not self.cuts or index - self.cuts[-1] >= self.min_scene_len
        ):
            self.cuts.append(index)
            logger.debug("scene cut at frame %d (score %.2f)", index, score)
            return True
        return False

    def feed(self, frames: Iterable[np.ndarray]) -> None:
        """Process several frames in order.

        Args:
            frames: iterable of (H, W, 3) uint8 BGR frames, or one (F, H, W, 3) uint8 array.
        """
        for frame in frames:
            self.add_frame(frame)

    def scenes(self) -> list[tuple[int, int]]:
        """Scenes found so far as ``[start, end)`` frame pairs covering ``[0, num_frames)``."""
        return scenes_from_cuts(self.cuts, self._num_frames)


def detect_scenes(
    frames: Iterable[np.ndarray],
    threshold: float = SCENE_THRESHOLD,
    min_scene_len: int = SCENE_MIN_LEN,
) -> list[tuple[int, int]]:
    """Split a video into hard-cut scenes like PySceneDetect 0.5.1 in ``run_pipeline.py``.

    Args:
        frames: (H, W, 3) uint8 BGR frames in decode order (any iterable, consumed once; an
            (F, H, W, 3) array also works). The reference decodes its 25 fps AVI with OpenCV.
        threshold: ``ContentDetector`` threshold (0.5.1 default 30.0).
        min_scene_len: minimum frames between two cuts (0.5.1 default 15).

    Returns:
        ``[start, end)`` frame pairs covering ``[0, F)`` in order; ``[(0, F)]`` without cuts and
        ``[]`` for no frames.
    """
    detector = SceneCutDetector(threshold=threshold, min_scene_len=min_scene_len)
    detector.feed(frames)
    scenes = detector.scenes()
    logger.info("%d frames, %d scene(s)", detector.num_frames, len(scenes))
    return scenes
