"""How every output shows a record: the one place for what renderers would otherwise re-derive.

The terminal table (``cli/display.py``), the CI checks' Markdown (``checks.py``), the HTML report
(``report.py`` and its script, which gets these values in its embedded data), the matplotlib
figures (``plots.py``) and the annotated video (``visualise.py``) all take from here:

- the time of each per-window confidence value (:func:`window_times_s` and its parts);
- the offset axis of a distance curve (:func:`offset_axis`);
- the metrics' labels (:data:`METRICS`);
- numbers, signed numbers, offsets, frame rates and counts, with one glyph for a missing value
  (:data:`MISSING`);
- the sign of the AV offset, said one way (:data:`OFFSET_SIGN`, :data:`OFFSET_SENTENCE`);
- the colours: the track palette and the colours of the marks drawn over the curves.

Light: no numpy, torch or matplotlib, so the command line's ``--help`` can import it. It names
no record type either (tracks are read through :class:`WindowedTrack`), so ``types`` and the
renderers can both import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any, Protocol

from .constants import FPS

__all__ = [
    "ABS_OFFSET",
    "AV_OFFSET",
    "COLOURS",
    "LSE_C",
    "LSE_D",
    "METRICS",
    "MISSING",
    "MetricLabel",
    "OFFSET_AXIS_LABEL",
    "OFFSET_SENTENCE",
    "OFFSET_SIGN",
    "TRACK_COLOURS",
    "WindowedTrack",
    "DRIFT_AXIS_LABEL",
    "count",
    "drift_line",
    "drift_text",
    "fps_text",
    "frames_text",
    "frame_time_s",
    "number",
    "offset_axis",
    "offset_text",
    "scored_fps",
    "signed",
    "track_colour",
    "window_start_s",
    "window_time_s",
    "window_times_s",
]

# -- the sign of the AV offset ----------------------------------------------------------------
# The reference's offset is vshift - argmin of the distance curve: positive when the video
# matches audio that comes later, i.e. the audio leads the video (comes early). Every output
# says it with these words.
OFFSET_SIGN = "positive: the audio leads the video"
OFFSET_SENTENCE = f"AV offset in frames (and ms); {OFFSET_SIGN}."
OFFSET_AXIS_LABEL = f"AV offset (frames); {OFFSET_SIGN}"

# -- what a measurement is worth --------------------------------------------------------------
# Said by selftest and fix whenever the SyncNet weights are not the official file (the
# parity-test weights' distance curve is a V at offset 0 whatever the audio: they measure +0 on
# every clip).
UNOFFICIAL_SYNCNET_NOTE = (
    "the SyncNet weights are not the official syncnet_v2.model: unless they are a trained "
    "SyncNet of your own, the offsets they measure cannot be trusted"
)

# -- numbers ----------------------------------------------------------------------------------
MISSING = "–"  # a value that is absent or not finite, in every output


def number(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or :data:`MISSING` (``None``, NaN, infinite)."""
    return MISSING if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def signed(x: float | None, digits: int = 3) -> str:
    """``x`` with its sign always written (``+0.120``), or :data:`MISSING`."""
    return MISSING if x is None or not math.isfinite(x) else f"{x:+.{digits}f}"


def offset_text(frames: int | float | None, ms: float | None = None) -> str:
    """An AV offset: ``+2 (+80 ms)``; a mean over tracks (a float) with 2 decimals."""
    if frames is None or not math.isfinite(frames):
        return MISSING
    text = f"{frames:+d}" if isinstance(frames, int) else f"{frames:+.2f}"
    return text if ms is None or not math.isfinite(ms) else f"{text} ({ms:+.0f} ms)"


def frames_text(frames: float | None) -> str:
    """A signed number of frames as short as it goes (``+3``, ``-0.5``), or :data:`MISSING`:
    a planted, recovered or corrected offset."""
    if frames is None or not math.isfinite(frames):
        return MISSING
    return f"{frames:+g}"


# The offset over time (TrackResult.segment_offsets, drift_ms_per_min): the sign is the offset's.
DRIFT_AXIS_LABEL = "segment offset (frames)"


def drift_text(
    ms_per_min: float | None, used: int | None = None, left_out: int | None = None
) -> str:
    """An offset drift: ``+604 ms/min (25 segments, 2 left out)``, or :data:`MISSING` without a
    slope (too few confident segments), still saying how many there were."""
    counts = ""
    if used is not None:
        counts = f" ({count(used, 'segment')}" + (f", {left_out} left out)" if left_out else ")")
    if ms_per_min is None or not math.isfinite(ms_per_min):
        return MISSING + counts
    return f"{round(ms_per_min) + 0:+d} ms/min{counts}"  # never "-0"


def drift_line(values: Mapping[str, Any]) -> str:
    """The ``drift`` measure's one line: ``offset drift: +604 ms/min (25 segments)``."""
    text = drift_text(
        values.get("drift_ms_per_min"),
        values.get("drift_segments"),
        values.get("drift_segments_left_out"),
    )
    return f"offset drift: {text}"


def fps_text(fps: float | None) -> str:
    """A frame rate to 2 decimals at most: ``25``, ``29.97`` (30000/1001), ``23.98``."""
    if fps is None or not math.isfinite(fps):
        return MISSING
    return f"{round(fps, 2):g}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 record``, ``2 records``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


# -- the metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricLabel:
    """How a metric is named: ``name``, its ``unit`` (empty: none) and which way is better."""

    name: str
    unit: str
    better: str

    @property
    def title(self) -> str:
        """``LSE-D (lower is better)``, ``AV offset (frames)``."""
        return f"{self.name} ({self.better})" if self.better else f"{self.name} ({self.unit})"


LSE_D = MetricLabel("LSE-D", "", "lower is better")
LSE_C = MetricLabel("LSE-C", "", "higher is better")
AV_OFFSET = MetricLabel("AV offset", "frames", "")
ABS_OFFSET = MetricLabel("|AV offset|", "frames", "")  # its mean is a summary's, and a gate's
# By the keys the records and summaries use.
METRICS = {
    "lse_d": LSE_D,
    "lse_c": LSE_C,
    "av_offset": AV_OFFSET,
    "abs_offset": ABS_OFFSET,
}

# -- colours ----------------------------------------------------------------------------------
# Track n is drawn in TRACK_COLOURS[n % 8] (its position in the record) everywhere: the curve,
# the timeline and its span bar (matplotlib's tab10 without the red and grey of the marks).
TRACK_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
COLOURS = {
    "median": "#555555",  # the curve's median line
    "lse_c": "#1a7f37",  # the LSE-C bar (median minus minimum)
    "minimum": "#000000",  # the minimum (LSE-D at the AV offset)
    "cut": "#8e24aa",  # scene cuts
    "rule": "#c62828",  # a check's limit
    "speaking": "#2e7d32",  # the active-speaker model calls the face speaking
    "silent": "#c62828",  # ... not speaking
}


def track_colour(position: int) -> str:
    """The colour of the track at ``position`` in its record's ``tracks``."""
    return TRACK_COLOURS[position % len(TRACK_COLOURS)]


# -- the offset axis --------------------------------------------------------------------------


def offset_axis(length: int) -> list[int]:
    """The AV offset of each point of a distance curve of ``length`` (2 * vshift + 1) points:
    point k pairs video window i with audio window i + k - vshift, which is offset vshift - k.
    """
    vshift = (length - 1) // 2
    return [vshift - k for k in range(length)]


# -- window times -----------------------------------------------------------------------------


class WindowedTrack(Protocol):
    """What window times are computed from (a :class:`~syncnet_eval.types.TrackResult`)."""

    @property
    def first_frame(self) -> int: ...
    @property
    def start_s(self) -> float | None: ...
    @property
    def framewise_time_s(self) -> list[float] | None: ...
    @property
    def framewise_conf(self) -> list[float]: ...


def frame_time_s(frame: int, fps: float = FPS) -> float:
    """The time in seconds of ``frame`` of a stream at ``fps`` (a scene cut, a track's edge)."""
    return frame / fps


def scored_fps(track: WindowedTrack) -> float:
    """The frame rate of the stream the track was scored on: its windows are one frame apart
    (25 fps, the paper's rate, for a record without window times)."""
    times = track.framewise_time_s
    if times and len(times) > 1 and times[-1] > times[0]:
        return (len(times) - 1) / (times[-1] - times[0])
    return float(FPS)


def window_start_s(track: WindowedTrack) -> float:
    """The time of window 0 in seconds of the original video: the recorded time, else the
    track's start, else its first frame at the scored rate."""
    if track.framewise_time_s:
        return track.framewise_time_s[0]
    if track.start_s is not None:
        return track.start_s
    return frame_time_s(track.first_frame, scored_fps(track))


def window_time_s(track: WindowedTrack, i: int) -> float:
    """The time of window ``i`` (seconds of the original video): window 0's, plus ``i`` frames
    of the scored stream."""
    return window_start_s(track) + i / scored_fps(track)


def window_times_s(track: WindowedTrack) -> list[float]:
    """The time of each window of ``track.framewise_conf``: the recorded times when there is
    one per window, else :func:`window_time_s` of each."""
    times = track.framewise_time_s
    if times and len(times) == len(track.framewise_conf):
        return list(times)
    return [window_time_s(track, i) for i in range(len(track.framewise_conf))]
