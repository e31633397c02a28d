"""Mouth motion in silence: does the mouth keep moving while the audio is silent?

Generated talking heads often keep moving the mouth through pauses in the speech (a failure
LSE-D/LSE-C cannot see: a pause has no speech to be out of sync with). The rule, written once
here and quoted in the README:

- **Voice activity** (energy-based): the scored 16 kHz int16 audio is cut into 40 ms frames of
  :data:`VAD_FRAME_SAMPLES` samples, one per 25 fps video frame (frame ``k`` of a track is
  samples ``640k..640k+639`` of the audio it was scored against). A frame's level is its RMS in
  dBFS. The clip's speech level is the :data:`SPEECH_PERCENTILE` th percentile of its frame
  levels; a frame is *silent* when its level is more than :data:`SILENCE_BELOW_SPEECH_DB` dB
  below the speech level or below :data:`SILENCE_FLOOR_DBFS`, and *voiced* otherwise. Only
  runs of at least :data:`MIN_SILENCE_FRAMES` silent frames count (shorter gaps are the pauses
  between words, through which a real mouth moves on), less :data:`SILENCE_MARGIN_FRAMES`
  frames at each end (the mouth closes after the last sound and opens before the next).
- **Mouth motion**: the mean absolute difference, in grey levels (0-255, BT.601 luma), between
  a frame's mouth region and the previous frame's. The mouth region is the lower half and the
  middle half of the columns of the frame the lip stream sees (:data:`MOUTH_ROWS`,
  :data:`MOUTH_COLS`: rows 112-224, columns 56-168 of a 224x224 crop): in the reference's
  crop the face box spans rows 0-160 and columns 32-192 (crop scale 0.4), so the mouth (the
  lower third of the box) and the chin fall inside it while the eyes, the background at the
  sides and the shoulders mostly do not. Whole-frame recipes use the same fractions of the
  frame as scored (224x224 after ``wav2lip-lrs``'s resize).
- **The speaker's baseline**: the median motion over the track's voiced frames.
- A silent frame *moves* when its motion exceeds :data:`MOTION_FACTOR` times the baseline;
  ``silent_motion_fraction`` is the share of counted silent frames that move (``None`` when
  the track has no counted silent frame or no voiced frame).

What defines silence can also be a speech detector: ``--silence-detector silero``
(:mod:`syncnet_eval.vad`, :func:`detect_silence`) calls a frame silent when silero-vad hears no
speech in it, whatever its level; the counted runs follow the same rule
(:func:`counted_silence`).

Motion also rises with head movement, camera motion and compression noise: it is a screen for
review, not a measure of lip articulation. Pure numpy (no torch, no OpenCV).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .constants import AUDIO_SAMPLES_PER_FRAME, FPS
from .measures import TrackInputs, get_measure, video_values
from .presentation import MISSING, count
from .types import VideoResult
from .vad import check_detector, silero_speech_frames

__all__ = [
    "MIN_SILENCE_FRAMES",
    "MOTION_FACTOR",
    "MOUTH_COLS",
    "MOUTH_ROWS",
    "SILENCE_BELOW_SPEECH_DB",
    "SILENCE_FLOOR_DBFS",
    "SILENCE_MARGIN_FRAMES",
    "SILENCE_RULE",
    "SPEECH_PERCENTILE",
    "VAD_FRAME_SAMPLES",
    "MouthMotion",
    "SilenceMeasure",
    "SilenceMotion",
    "counted_silence",
    "detect_silence",
    "frame_levels_dbfs",
    "measure_silence_motion",
    "mouth_region",
    "pooled_silence",
    "silence_line",
    "silence_motion_text",
    "silent_frames",
    "speech_level_dbfs",
    "video_silence_motion",
]

VAD_FRAME_SAMPLES = AUDIO_SAMPLES_PER_FRAME  # 640 samples: the 40 ms of one 25 fps frame
SPEECH_PERCENTILE = 90.0  # the clip's speech level: loud frames, robust to a few peaks
SILENCE_BELOW_SPEECH_DB = 25.0  # silent: this far below the speech level (a pause's room tone)
SILENCE_FLOOR_DBFS = -60.0  # silent whatever the speech level (reliability's silent audio)
MIN_SILENCE_FRAMES = 8  # 0.32 s: shorter gaps are pauses between words, not silence
SILENCE_MARGIN_FRAMES = 2  # 80 ms at each end of a silent run: the mouth closes and opens
MOUTH_ROWS = (0.5, 1.0)  # fractions of the frame height: rows 112-224 of a 224 crop
MOUTH_COLS = (0.25, 0.75)  # fractions of the frame width: columns 56-168 of a 224 crop
MOTION_FACTOR = 1.0  # moving in silence: more motion than the median speaking frame
_LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)  # BT.601, as OpenCV's BGR2GRAY
_EMPTY_DBFS = -200.0  # the level of a frame of digital silence (log of 0)

SILENCE_RULE = (
    f"silent: a {VAD_FRAME_SAMPLES}-sample (40 ms) frame more than "
    f"{SILENCE_BELOW_SPEECH_DB:g} dB below the clip's {SPEECH_PERCENTILE:g}th-percentile level "
    f"or below {SILENCE_FLOOR_DBFS:g} dBFS, in runs of >= {MIN_SILENCE_FRAMES} frames less "
    f"{SILENCE_MARGIN_FRAMES} at each end; moving: mean absolute grey difference of the mouth "
    f"region (lower half, middle half of the columns) > {MOTION_FACTOR:g} x its median over "
    "voiced frames"
)


def frame_levels_dbfs(audio: np.ndarray) -> np.ndarray:
    """RMS level of every complete 40 ms frame of int16-scaled 16 kHz samples.

    Args:
        audio: (L,) int16 (or int16-scaled) samples.

    Returns:
        (L // 640,) float64 dBFS; digital silence is -200.
    """
    n = audio.size // VAD_FRAME_SAMPLES
    frames = audio[: n * VAD_FRAME_SAMPLES].astype(np.float64).reshape(n, VAD_FRAME_SAMPLES)
    rms = np.sqrt(np.mean(np.square(frames), axis=1)) / 32768.0
    with np.errstate(divide="ignore"):
        levels = 20.0 * np.log10(rms)
    return np.asarray(np.maximum(levels, _EMPTY_DBFS), dtype=np.float64)


def speech_level_dbfs(levels: np.ndarray) -> float:
    """The clip's speech level: the :data:`SPEECH_PERCENTILE` th percentile of frame levels
    (``-200`` when there is no frame)."""
    if levels.size == 0:
        return _EMPTY_DBFS
    return float(np.percentile(levels, SPEECH_PERCENTILE))


def counted_silence(silent: np.ndarray) -> np.ndarray:
    """(F,) bool: the silent frames of runs of at least :data:`MIN_SILENCE_FRAMES`, less
    :data:`SILENCE_MARGIN_FRAMES` at each end of the run (the rule for every detector)."""
    counted = np.zeros_like(silent)
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if stop - start >= MIN_SILENCE_FRAMES:
            counted[start + SILENCE_MARGIN_FRAMES : stop - SILENCE_MARGIN_FRAMES] = True
    return counted


def silent_frames(levels: np.ndarray, speech_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Which frames are silent, and which of those count.

    Args:
        levels: (F,) frame levels (:func:`frame_levels_dbfs`).
        speech_level: the clip's speech level (:func:`speech_level_dbfs`).

    Returns:
        ``(silent, counted)``, (F,) bool each: every silent frame (the complement is voiced),
        and the silent frames of runs of at least :data:`MIN_SILENCE_FRAMES`, less
        :data:`SILENCE_MARGIN_FRAMES` at each end of the run.
    """
    bar = max(speech_level - SILENCE_BELOW_SPEECH_DB, SILENCE_FLOOR_DBFS)
    silent = levels < bar
    return silent, counted_silence(silent)


def mouth_region(chunk: np.ndarray) -> np.ndarray:
    """The grey mouth region of (n, H, W, 3) uint8 BGR frames: (n, h, w) float32, 0-255."""
    height, width = chunk.shape[1:3]
    r0, r1 = (round(f * height) for f in MOUTH_ROWS)
    c0, c1 = (round(f * width) for f in MOUTH_COLS)
    region = chunk[:, r0:r1, c0:c1].astype(np.float32)
    return np.asarray(region @ _LUMA_BGR, dtype=np.float32)


class MouthMotion:
    """Per-frame mouth motion of a frame stream, measured as the chunks pass.

    Keeps one grey mouth region (the last frame's) and one float per frame; frame 0 has no
    motion (NaN).
    """

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._values: list[np.ndarray] = []

    def add(self, chunk: np.ndarray) -> None:
        """Measure (n, H, W, 3) uint8 BGR frames, the next ones of the stream."""
        if len(chunk) == 0:
            return
        grey = mouth_region(chunk)
        if self._last is None or self._last.shape != grey.shape[1:]:
            values = np.full(len(grey), np.nan)
            values[1:] = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
        else:
            values = np.abs(np.diff(grey, axis=0, prepend=self._last[None])).mean(axis=(1, 2))
        self._values.append(values.astype(np.float64))
        self._last = grey[-1]

    def observe(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass ``chunks`` through, measuring each."""
        for chunk in chunks:
            self.add(chunk)
            yield chunk

    def values(self) -> np.ndarray:
        """(T,) float64 motion per frame so far (NaN for the first)."""
        return np.concatenate(self._values) if self._values else np.zeros(0)


@dataclass(frozen=True)
class SilenceMotion:
    """A track's mouth motion in silence.

    Attributes:
        silent_frames: counted silent frames (with a motion value).
        moving_frames: those whose motion exceeds the baseline times :data:`MOTION_FACTOR`.
        voiced_frames: voiced frames with a motion value (the baseline's sample).
        baseline: median motion over the voiced frames (``None`` without any).
    """

    silent_frames: int
    moving_frames: int
    voiced_frames: int
    baseline: float | None

    @property
    def fraction(self) -> float | None:
        """Share of the counted silent frames that move (``None`` when undefined)."""
        if self.silent_frames == 0 or self.baseline is None:
            return None
        return self.moving_frames / self.silent_frames


def detect_silence(
    audio: np.ndarray, speech_level: float | None = None, detector: str = "energy"
) -> tuple[np.ndarray, np.ndarray]:
    """``(silent, counted)`` per 40 ms frame of ``audio`` by ``detector``
    (:mod:`syncnet_eval.vad`): ``energy``, the level rule of :func:`silent_frames` against
    ``speech_level`` (default: that of ``audio``), or ``silero``, no speech heard by silero-vad;
    the counted runs by :func:`counted_silence` for both."""
    check_detector(detector)
    if detector == "silero":
        silent = ~silero_speech_frames(audio)
        return silent, counted_silence(silent)
    levels = frame_levels_dbfs(audio)
    level = speech_level_dbfs(levels) if speech_level is None else speech_level
    return silent_frames(levels, level)


def measure_silence_motion(
    audio: np.ndarray,
    motion: np.ndarray,
    speech_level: float | None = None,
    detector: str = "energy",
) -> SilenceMotion:
    """Mouth motion in the silent frames of a track.

    Args:
        audio: (L,) int16 16 kHz samples aligned with the track's first frame.
        motion: (T,) per-frame motion (:class:`MouthMotion`), NaN where there is none.
        speech_level: the clip's speech level in dBFS (default: that of ``audio``; a
            face-track recipe passes the whole clip's, so a track over a pause is judged
            against the speaker's level).
        detector: what defines silence (:func:`detect_silence`).

    Returns:
        The counts over the frames that have both audio and a motion value.
    """
    silent, counted = detect_silence(audio, speech_level, detector)
    n = min(silent.size, motion.size)
    values = motion[:n]
    has_value = np.isfinite(values)
    voiced = values[~silent[:n] & has_value]
    quiet = values[counted[:n] & has_value]
    if voiced.size == 0:
        return SilenceMotion(int(quiet.size), 0, 0, None)
    baseline = float(np.median(voiced))
    moving = int(np.count_nonzero(quiet > MOTION_FACTOR * baseline))
    return SilenceMotion(int(quiet.size), moving, int(voiced.size), baseline)


class SilenceMeasure:
    """The ``silence`` measure (``measures/silence.py``): :class:`MouthMotion` over the frames
    as they pass, then :func:`measure_silence_motion` against the track's audio."""

    def __init__(self) -> None:
        self._motion = MouthMotion()

    def observe(self, frames: np.ndarray) -> None:
        self._motion.add(frames)

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        found = measure_silence_motion(
            inputs.audio, self._motion.values(), inputs.speech_level_dbfs, inputs.silence_detector
        )
        return {"silent_frames": found.silent_frames, "silent_motion_fraction": found.fraction}


def pooled_silence(tracks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several tracks' values as one video's: the silent frames summed, the share pooled over
    the tracks that have one (each share weighted by its silent frames)."""
    silent = sum(t.get("silent_frames") or 0 for t in tracks)
    pairs = [
        (int(t["silent_frames"]), float(t["silent_motion_fraction"]))
        for t in tracks
        if t.get("silent_frames") and t.get("silent_motion_fraction") is not None
    ]
    if not pairs:
        return {"silent_frames": silent, "silent_motion_fraction": None}
    moving = sum(round(n * f) for n, f in pairs)  # the moving frames each fraction counted
    return {"silent_frames": silent, "silent_motion_fraction": moving / sum(n for n, _ in pairs)}


def video_silence_motion(result: VideoResult) -> tuple[int, float | None]:
    """``(silent_frames, silent_motion_fraction)`` of a video: its selected track's, or, when
    its numbers come from several tracks (``mean``), pooled over the tracks that have one."""
    values = video_values(result, get_measure("silence"))
    return int(values.get("silent_frames") or 0), values.get("silent_motion_fraction")


def silence_line(values: Mapping[str, Any]) -> str:
    """The ``silence`` measure's one line (:func:`silence_motion_text`)."""
    return silence_motion_text(
        int(values.get("silent_frames") or 0), values.get("silent_motion_fraction")
    )


def silence_motion_text(silent: int, fraction: float | None) -> str:
    """One line for a reader: ``mouth moving in 12% of 80 silent frames (...)``."""
    if not silent:
        return (
            f"mouth motion in silence: no silent stretch of {MIN_SILENCE_FRAMES / FPS:g} s or more"
        )
    share = MISSING if fraction is None else f"{100 * fraction:.0f}%"
    return (
        f"mouth moving in silence: {share} of {count(silent, 'silent frame')} "
        f"(motion above {MOTION_FACTOR:g} x the speaker's median while speaking)"
    )
