"""Greedy IoU face tracking, reproducing syncnet_python ``run_pipeline.py:track_shot``.

Spec section 4.1. Within one scene, tracks are built one at a time until no detection is left:

- a track starts with the first remaining detection of the scene (frame order, then score order);
- it scans the following frames, taking each detection whose frame is at most ``num_failed_det``
  frames after the track's last detection and whose IoU with it is ``> iou_threshold``; the first
  detection found further away ends the scan (the reference ``break``s at every later frame);
- detections taken are consumed, whether or not the track is kept;
- a track is kept only with **more than** ``min_track`` detections; its boxes are then linearly
  interpolated (``scipy.interpolate.interp1d``) over every frame from first to last, and it is
  dropped unless ``max(mean width, mean height) > min_face_size``.

The reference removes taken detections from the list it is iterating over, which makes it skip
the detection right after each taken one in the same frame. That is reproduced exactly (the spec
notes it is harmless after the detector's NMS, but it costs nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import logging

import numpy as np
from scipy.interpolate import interp1d

from .constants import MIN_FACE_SIZE_PX, MIN_TRACK_FRAMES, NUM_FAILED_DET

__all__ = [
    "DEFAULT_IOU_THRESHOLD",
    "Track",
    "TrackingResult",
    "interpolate_keyframes",
    "iou",
    "track_faces",
    "track_scenes",
]

logger = logging.getLogger(__name__)

# The hard-coded IoU threshold of track_shot: consecutive detections must overlap by more.
DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class Track:
    """One face track: an interpolated box for every frame from first to last.

    Attributes:
        frames: (F,) int64 absolute frame indices, consecutive, ``first_frame..last_frame``.
        boxes: (F, 4) float64 ``[x1, y1, x2, y2]`` px of the decoded frame, linearly
            interpolated between detections.
        scene: ``(start, end)`` of the scene the track was found in, if known.
        scene_index: position of that scene in the video's scene list, if known.
    """

    frames: np.ndarray
    boxes: np.ndarray
    scene: tuple[int, int] | None = None
    scene_index: int | None = None

    @property
    def first_frame(self) -> int:
        """Absolute index of the first frame."""
        return int(self.frames[0])

    @property
    def last_frame(self) -> int:
        """Absolute index of the last frame (inclusive)."""
        return int(self.frames[-1])

    @property
    def num_frames(self) -> int:
        """Frames covered, ``last_frame - first_frame + 1``."""
        return int(self.frames.shape[0])

    def __len__(self) -> int:
        return self.num_frames


@dataclass(frozen=True)
class TrackingResult:
    """Tracks kept by the tracker, plus what was discarded (to explain an empty result).

    Attributes:
        tracks: kept tracks, in scene order then creation order (the reference's crop order).
        longest_rejected: most detections held by a candidate track discarded for having
            ``<= min_track`` detections; 0 when none was discarded that way.
        num_rejected_short: candidate tracks discarded for having ``<= min_track`` detections.
        num_rejected_small: tracks long enough but discarded for a mean face size
            ``<= min_face_size``.
        largest_rejected_face_px: largest ``max(mean width, mean height)`` among those, px
            (0.0 when none).
        skipped_scenes: scenes not tracked because they are shorter than ``min_track`` frames
            (only filled by :func:`track_scenes`).
    """

    tracks: list[Track]
    longest_rejected: int = 0
    num_rejected_short: int = 0
    num_rejected_small: int = 0
    largest_rejected_face_px: float = 0.0
    skipped_scenes: list[tuple[int, int]] = field(default_factory=list)


def iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes, without the +1 pixel convention.

    Computed in Python floats in the reference's operation order. Two empty boxes give 0.0 (the
    reference would divide by zero).
    """
    xa = max(box_a[0], box_b[0])
    ya = max(box_a[1], box_b[1])
    xb = min(box_a[2], box_b[2])
    yb = min(box_a[3], box_b[3])
    inter = max(0, xb - xa) * max(0, yb - ya)
    area_a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
    area_b = (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    union = float(area_a + area_b - inter)
    return inter / union if union != 0.0 else 0.0


def _as_boxes(dets: np.ndarray | Sequence[Sequence[float]]) -> list[tuple[float, ...]]:
    arr = np.asarray(dets, dtype=np.float64)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] < 4:
        raise ValueError(f"detections must be (K, 5) [x1, y1, x2, y2, score], got {arr.shape}")
    return [tuple(row) for row in arr[:, :4].tolist()]


def track_faces(
    detections: Sequence[np.ndarray],
    scene: tuple[int, int],
    *,
    min_track: int = MIN_TRACK_FRAMES,
    num_failed_det: int = NUM_FAILED_DET,
    min_face_size: float = MIN_FACE_SIZE_PX,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    scene_index: int | None = None,
) -> TrackingResult:
    """Build face tracks within one scene like ``run_pipeline.py:track_shot``.

    Args:
        detections: per absolute frame index ``f``, a (K, 5) array ``[x1, y1, x2, y2, score]``
            (px; score order, best first; K may be 0). Only frames ``scene[0]..scene[1]-1`` are
            read; frames past the end of the sequence count as empty.
        scene: ``(start, end)`` frame range, end exclusive. The reference only calls this for
            scenes with ``end - start >= min_track`` (see :func:`track_scenes`).
        min_track: a track is kept only with more than this many detections.
        num_failed_det: largest frame gap between consecutive detections of a track.
        min_face_size: a kept track needs ``max(mean width, mean height) >`` this, px.
        iou_threshold: consecutive detections of a track need IoU greater than this.
        scene_index: recorded on every track (the scene's position in the video).

    Returns:
        A :class:`TrackingResult`; ``result.tracks`` holds the kept tracks in creation order and
        ``result.longest_rejected`` the longest candidate discarded by the ``min_track`` rule.
    """
    start, end = int(scene[0]), int(scene[1])
    # Detection pool per frame: (absolute frame, box); taken detections are removed.
    pool: list[list[tuple[int, tuple[float, ...]]]] = [
        [(f, box) for box in _as_boxes(detections[f])]
        for f in range(max(start, 0), min(end, len(detections)))
    ]

    tracks: list[Track] = []
    longest_rejected = num_short = num_small = 0
    largest_small = 0.0
    while True:
        track = _grow_track(pool, num_failed_det, iou_threshold)
        if not track:
            break
        if len(track) <= min_track:
            num_short += 1
            longest_rejected = max(longest_rejected, len(track))
            logger.debug(
                "scene %d-%d: candidate track of %d detections from frame %d discarded (<= %d)",
                start,
                end,
                len(track),
                track[0][0],
                min_track,
            )
            continue

        frame_numbers = np.array([f for f, _ in track])
        boxes = np.array([box for _, box in track], dtype=np.float64)
        frames = np.arange(frame_numbers[0], frame_numbers[-1] + 1)
        # A single detection is only kept with min_track=0; interp1d needs two points.
        boxes_i = interp1d(frame_numbers, boxes, axis=0)(frames) if len(track) > 1 else boxes
        size = max(
            float(np.mean(boxes_i[:, 2] - boxes_i[:, 0])),
            float(np.mean(boxes_i[:, 3] - boxes_i[:, 1])),
        )
        if size > min_face_size:
            tracks.append(
                Track(frames=frames, boxes=boxes_i, scene=(start, end), scene_index=scene_index)
            )
            logger.debug(
                "scene %d-%d: track frames %d-%d, mean face %.1f px",
                start,
                end,
                frames[0],
                frames[-1],
                size,
            )
        else:
            num_small += 1
            largest_small = max(largest_small, size)
            logger.debug(
                "scene %d-%d: track frames %d-%d discarded, mean face %.1f px <= %s",
                start,
                end,
                frames[0],
                frames[-1],
                size,
                min_face_size,
            )

    return TrackingResult(
        tracks=tracks,
        longest_rejected=longest_rejected,
        num_rejected_short=num_short,
        num_rejected_small=num_small,
        largest_rejected_face_px=largest_small,
    )


def _grow_track(
    pool: list[list[tuple[int, tuple[float, ...]]]],
    num_failed_det: int,
    iou_threshold: float,
) -> list[tuple[int, tuple[float, ...]]]:
    """One pass of ``track_shot``'s inner loops; consumes the detections it takes."""
    track: list[tuple[int, tuple[float, ...]]] = []
    for faces in pool:
        i = 0
        while i < len(faces):
            frame, box = faces[i]
            if not track:
                take = True
            elif frame - track[-1][0] <= num_failed_det:
                take = iou(box, track[-1][1]) > iou_threshold
            else:
                # Gap too long: the reference breaks out of this frame and, since gaps only grow,
                # out of every later frame too, so the pass is over.
                return track
            if take:
                # The reference removes from the list it iterates over, so its iterator skips
                # the detection that moves into the taken one's place: step past it too.
                track.append(faces.pop(i))
            i += 1
    return track


def track_scenes(
    detections: Sequence[np.ndarray],
    scenes: Sequence[tuple[int, int]],
    *,
    min_track: int = MIN_TRACK_FRAMES,
    num_failed_det: int = NUM_FAILED_DET,
    min_face_size: float = MIN_FACE_SIZE_PX,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> TrackingResult:
    """Track faces in every scene of at least ``min_track`` frames, like ``run_pipeline.py``.

    Args:
        detections: per absolute frame, a (K, 5) array ``[x1, y1, x2, y2, score]``, best first.
        scenes: ``[start, end)`` frame pairs (see :func:`syncnet_eval.scenes.detect_scenes`).
        min_track: scenes shorter than this are skipped; tracks need more detections than this.
        num_failed_det: largest frame gap between consecutive detections of a track.
        min_face_size: a kept track needs ``max(mean width, mean height) >`` this, px.
        iou_threshold: consecutive detections of a track need IoU greater than this.

    Returns:
        The merged :class:`TrackingResult`, tracks in scene order then creation order, with the
        short scenes in ``skipped_scenes``.
    """
    tracks: list[Track] = []
    skipped: list[tuple[int, int]] = []
    longest = num_short = num_small = 0
    largest_small = 0.0
    for index, (start, end) in enumerate(scenes):
        if end - start < min_track:
            skipped.append((int(start), int(end)))
            continue
        res = track_faces(
            detections,
            (start, end),
            min_track=min_track,
            num_failed_det=num_failed_det,
            min_face_size=min_face_size,
            iou_threshold=iou_threshold,
            scene_index=index,
        )
        tracks.extend(res.tracks)
        longest = max(longest, res.longest_rejected)
        num_short += res.num_rejected_short
        num_small += res.num_rejected_small
        largest_small = max(largest_small, res.largest_rejected_face_px)
    logger.info(
        "%d track(s) in %d scene(s); %d scene(s) under %d frames skipped",
        len(tracks),
        len(scenes) - len(skipped),
        len(skipped),
        min_track,
    )
    return TrackingResult(
        tracks=tracks,
        longest_rejected=longest,
        num_rejected_short=num_short,
        num_rejected_small=num_small,
        largest_rejected_face_px=largest_small,
        skipped_scenes=skipped,
    )


def interpolate_keyframes(
    keyed: dict[int, np.ndarray], num_frames: int, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> list[np.ndarray]:
    """Per-frame boxes from boxes on key frames (fast mode ``--detect-every``).

    Between consecutive key frames each box is matched to the best-overlapping box of the next
    key frame (IoU above ``iou_threshold``, the tracker's own rule) and its corners and score are
    interpolated linearly; an unmatched box is kept on its key frame only.

    Args:
        keyed: key frame index -> (K, 5) ``[x1, y1, x2, y2, score]``.
        num_frames: frames in the stream.
        iou_threshold: boxes of consecutive key frames match above this overlap.

    Returns:
        ``num_frames`` arrays (K, 5), best score first.
    """
    out: list[list[np.ndarray]] = [[] for _ in range(num_frames)]
    keys = sorted(keyed)
    for k in keys:
        out[k].extend(keyed[k])
    for k0, k1 in zip(keys, keys[1:], strict=False):
        b0, b1 = keyed[k0], keyed[k1]
        if not len(b0) or not len(b1) or k1 - k0 < 2:
            continue
        for box in b0:
            overlaps = [iou(box[:4], other[:4]) for other in b1]
            j = int(np.argmax(overlaps))
            if overlaps[j] <= iou_threshold:
                continue
            for f in range(k0 + 1, k1):
                a = (f - k0) / (k1 - k0)
                out[f].append((1 - a) * box + a * b1[j])
    result = []
    for boxes in out:
        arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        result.append(arr[np.argsort(-arr[:, 4], kind="stable")])
    return result
