"""Reliability flags: conditions under which a record's numbers look fine and are not.

Every record carries ``flags``, a list of these names (empty when clean). The names are a
contract, documented in the README:

- ``few_windows``: fewer windows than :func:`min_reliable_windows` (the offset search's median
  shift pairs too many of them with the zero padding beyond the audio's ends, which inflates
  LSE-C: scripts/studies/study_few_windows.py);
- ``silent_audio``: the audio that was scored is below :data:`SILENCE_DBFS` (nothing to sync to);
- ``non_25fps``: a whole-frame recipe scored a video that is not at 25 fps without converting it
  (SyncNet's windows then span the wrong time; ``--fps 25`` converts);
- ``decode_incomplete``: fewer frames decoded than the container declares, or the decoder
  reported damage it concealed;
- ``offset_drift``: the best offset moves during a track the numbers come from (one global
  offset and LSE hide it): :func:`drift_exceeds`.

Summaries, ``check``, ``compare`` and ``filter`` leave videos with the first four flags out of
their means by default (and count them); ``--include-flagged`` keeps them. ``offset_drift`` is
a finding about the video, not a doubt about its numbers: a drifting output of a generator is
its failure, and leaving it out would flatter the generator, so it is counted but never leaves
a mean (:data:`DOUBTING_FLAGS`). Whether the weights are the official ones is a
property of the run, not of a video: it is in ``provenance`` and never a flag.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:  # annotations only: the module stays light (rules.py imports it)
    import numpy as np

from .constants import FPS

__all__ = [
    "FLAGS",
    "FLAG_HELP",
    "DOUBTING_FLAGS",
    "Flag",
    "SILENCE_DBFS",
    "DRIFT_MAX_MS_PER_MIN",
    "audio_level_dbfs",
    "drift_exceeds",
    "drift_flags",
    "frames_missing",
    "min_reliable_windows",
    "ordered_flags",
]

Flag = Literal["few_windows", "silent_audio", "non_25fps", "decode_incomplete", "offset_drift"]
FLAGS: tuple[Flag, ...] = get_args(Flag)
# The flags that cast doubt on a record's numbers: such videos stay out of means by default.
DOUBTING_FLAGS: frozenset[Flag] = frozenset(
    {"few_windows", "silent_audio", "non_25fps", "decode_incomplete"}
)
FLAG_HELP: dict[Flag, str] = {
    "few_windows": "too few windows for the offset search (LSE-C inflated by zero padding)",
    "silent_audio": "the audio is silent (below -60 dBFS)",
    "non_25fps": "not 25 fps and scored unconverted (use --fps 25)",
    "decode_incomplete": "frames missing or damage concealed by the decoder",
    "offset_drift": "the AV offset drifts by more than one frame per minute during the video",
}

# The median of the 31 mean distances comes from the shift |k - vshift| = ceil(vshift / 2)
# (8 frames at vshift 15), which pairs that many of the N windows with zero vectors, and a
# zero vector is far from every embedding: the padding adds about K / N to LSE-C. Measured on
# cuts of the 24 shared clips (scripts/studies/study_few_windows.py), K is about 950 in the
# parity weights' realistic-scale distances: at 100 windows (4.2 s) the padding alone adds
# ~9.6, a well-synced clip's whole LSE-C (the demo clip: 10.0 with the official weights).
# Below that the number says more about the clip's length than about its sync. In terms of
# the search range: the median shift may pair at most 8 % of the windows with padding.
MEDIAN_SHIFT_MAX_PADDED = 0.08
# Audio quieter than this (RMS over the scored samples, full scale = 32768) is silent: a quiet
# room's noise floor in a real recording is around -60 to -50 dBFS; digital silence is -inf.
SILENCE_DBFS = -60.0
# Decoded frames may fall short of the container's count by this much before it is a flag
# (containers round durations; the 25 fps transcode may drop or repeat a frame at the ends).
MISSING_FRAMES_TOLERANCE = 2
# Offset drift: one 25 fps frame (40 ms, the offset search's step) per minute. A drift below
# it cannot move the offset by a frame within a minute; a drift above it moves a 10-minute
# video's sync by 10 frames (0.4 s, far beyond the ~45 ms at which viewers notice audio
# leading: ITU-R BT.1359). The line must also move by at least one frame across the segments
# it is fitted through (``drift_exceeds``), so that on a short track one segment a frame off
# is not a drift.
DRIFT_MAX_MS_PER_MIN = 1000.0 / FPS


def min_reliable_windows(vshift: int) -> int:
    """Fewest windows whose offset search is not dominated by the zero padding (100 at 15)."""
    return math.ceil(math.ceil(vshift / 2) / MEDIAN_SHIFT_MAX_PADDED)


def audio_level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16-scaled samples in dBFS (``-inf`` for digital silence or no samples)."""
    if samples.size == 0:
        return float("-inf")
    import numpy as np

    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    return 20.0 * math.log10(rms / 32768.0) if rms > 0 else float("-inf")


def frames_missing(decoded: int, declared: int | None, declared_fps: float | None = None) -> bool:
    """Whether clearly fewer frames were decoded than the container declares.

    Args:
        decoded: frames decoded (at the rate that was scored).
        declared: the container's frame count (or ``None`` when it has none).
        declared_fps: rate of ``declared`` when it differs from the scored 25 fps stream
            (the count is then converted).
    """
    if not declared:
        return False
    expected = declared if declared_fps is None else declared * FPS / declared_fps
    return decoded < expected - MISSING_FRAMES_TOLERANCE


def drift_exceeds(
    ms_per_min: float | None,
    span_s: float | None,
    ci95: tuple[float, float] | list[float] | None = None,
) -> bool:
    """Whether an offset drift (``drift_ms_per_min`` over ``drift_span_s``, with its 95%
    interval ``drift_ci95_ms_per_min``) is a flag: steeper than :data:`DRIFT_MAX_MS_PER_MIN`,
    significant (the interval excludes 0), and moving the offset by at least one frame (40 ms)
    across the span of the segments it was fitted through even at the interval's end nearest
    zero. A drift without an interval (records written before it) is judged by its slope."""
    if ms_per_min is None or span_s is None or not math.isfinite(ms_per_min):
        return False
    if abs(ms_per_min) <= DRIFT_MAX_MS_PER_MIN:
        return False
    nearest_zero = abs(ms_per_min)
    if ci95 is not None:
        low, high = float(ci95[0]), float(ci95[1])
        if low <= 0.0 <= high:
            return False  # not significant
        nearest_zero = min(abs(low), abs(high))
    return nearest_zero * span_s / 60.0 >= 1000.0 / FPS


def drift_flags(values: Mapping[str, Any]) -> set[str]:
    """The ``drift`` measure's flags for one track's values (``offset_drift``)."""
    exceeds = drift_exceeds(
        values.get("drift_ms_per_min"),
        values.get("drift_span_s"),
        values.get("drift_ci95_ms_per_min"),
    )
    return {"offset_drift"} if exceeds else set()


def ordered_flags(flags: set[str] | list[str]) -> list[str]:
    """Flags in the documented order, without duplicates."""
    return [f for f in FLAGS if f in flags]
