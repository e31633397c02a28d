"""Who speaks when: per-frame speaking decisions, speaking segments and the ``asd`` track choice.

Two judges, one rule each (documented in the README's "Who is speaking" section):

- ``light-asd`` (with ``--asd light-asd``): a frame speaks when its Light-ASD score, averaged over
  the 5 frames centred on it (fewer at a track's ends), is >= 0, the decision rule and smoothing
  of the model's authors (their demo rounds the averaged score to 0.1 first; we do not, so a
  mean in (-0.05, 0) is "not speaking" here).
- ``syncnet`` (always available): a 5-frame window speaks when SyncNet's per-window confidence
  (median-filtered, as the reference's ``framewise_conf``) is >= 3, the bar LatentSync applies
  to whole clips (LSE-C >= 3) applied window by window. It is a heuristic, not a calibrated
  speaking detector; the untrained parity-test weights make it meaningless.

A speaking segment is a maximal run of speaking frames (windows), from the start of its first to
the end of its last, with the mean raw score over the run; nothing is merged or dropped.

Pure numpy: no torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np

from .constants import FPS, WINDOW_FRAMES
from .types import VideoResult

__all__ = [
    "ASD_SMOOTH_FRAMES",
    "SPEAKERS_CSV_COLUMNS",
    "SPEAKING_RULE",
    "SYNC_SPEAKING_CONF",
    "SpeakingTimeline",
    "asd_timeline",
    "rttm_text",
    "smooth_scores",
    "speakers_csv_rows",
    "speakers_document",
    "speaking_runs",
    "sync_timeline",
]

# Light-ASD's authors average each frame's score with its two neighbours on either side.
ASD_SMOOTH_FRAMES = 5
# SyncNet confidence a window needs to count as speaking (LatentSync's clip-level LSE-C bar).
SYNC_SPEAKING_CONF = 3.0
# The rule in one sentence, for the files that carry segments.
SPEAKING_RULE = (
    "light-asd: a frame speaks when the mean of its score and its 2 neighbours on each side is "
    f">= 0; syncnet: a 5-frame window speaks when its confidence is >= {SYNC_SPEAKING_CONF:g}; "
    "a segment is a maximal run of speaking frames (windows)"
)


@dataclass(frozen=True)
class SpeakingTimeline:
    """A track's speaking decisions by one judge.

    Attributes:
        judge: ``light-asd`` or ``syncnet``.
        fraction: share of the judged frames (``light-asd``) or windows (``syncnet``) that speak.
        segments: ``{"start_s", "end_s", "mean_score"}`` per speaking run, seconds of the
            original video, in order.
    """

    judge: str
    fraction: float
    segments: list[dict[str, float]]


def smooth_scores(scores: np.ndarray, frames: int = ASD_SMOOTH_FRAMES) -> np.ndarray:
    """Centred moving mean over ``frames`` frames (odd), truncated at both ends.

    Args:
        scores: (T,) per-frame scores.

    Returns:
        (T,) float64 means.
    """
    x = np.asarray(scores, dtype=np.float64)
    half = frames // 2
    sums = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(x.size)
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, x.size)
    out: np.ndarray = (sums[hi] - sums[lo]) / (hi - lo)
    return out


def speaking_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index spans of the maximal runs of ``True`` in a (T,) boolean mask."""
    m = np.asarray(mask, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def asd_timeline(scores: Sequence[float], first_frame: int, fps: float) -> SpeakingTimeline:
    """The ``light-asd`` judge over a track's per-frame scores (frame k is ``first_frame + k``)."""
    raw = np.asarray(scores, dtype=np.float64)
    speaking = smooth_scores(raw) >= 0
    segments = [
        {
            "start_s": (first_frame + a) / fps,
            "end_s": (first_frame + b) / fps,
            "mean_score": float(raw[a:b].mean()),
        }
        for a, b in speaking_runs(speaking)
    ]
    fraction = float(speaking.mean()) if raw.size else 0.0
    return SpeakingTimeline("light-asd", fraction, segments)


def sync_timeline(
    framewise_conf: Sequence[float], first_frame: int, fps: float
) -> SpeakingTimeline:
    """The ``syncnet`` judge over a track's per-window confidence (window i covers frames
    ``first_frame + i`` to ``first_frame + i + 4``)."""
    conf = np.asarray(framewise_conf, dtype=np.float64)
    speaking = conf >= SYNC_SPEAKING_CONF
    segments = [
        {
            "start_s": (first_frame + a) / fps,
            "end_s": (first_frame + b - 1 + WINDOW_FRAMES) / fps,
            "mean_score": float(conf[a:b].mean()),
        }
        for a, b in speaking_runs(speaking)
    ]
    fraction = float(speaking.mean()) if conf.size else 0.0
    return SpeakingTimeline("syncnet", fraction, segments)


# -- the speakers command's outputs -------------------------------------------------------------

SPEAKERS_CSV_COLUMNS = ("path", "track", "start_s", "end_s", "duration_s", "mean_score", "judge")


def speakers_document(result: VideoResult) -> dict[str, Any]:
    """``speakers -o FILE.json``: ``{"path", "status", ..., "tracks": [...]}``.

    Per track: ``index``, ``first_frame``, ``last_frame``, ``start_s``, ``end_s``, ``mean_box``
    (``[x1, y1, x2, y2]``, source pixels), ``speaking_fraction``, ``judge``, ``segments``
    (``start_s``/``end_s``/``mean_score``), the active-speaker model's per-frame scores
    (``asd_scores`` at ``asd_time_s``) and SyncNet's per-window confidence (``sync_conf`` at
    ``sync_time_s``, the windows' starts).
    """
    prov = result.provenance
    return {
        "path": result.path,
        "status": result.status,
        "reason": result.reason,
        "reason_code": result.reason_code,
        "fps": FPS,
        "model": {
            "name": (prov.get("pipeline_config") or {}).get("asd"),
            "checkpoint": (prov.get("pipeline_config") or {}).get("asd_model"),
            "weights": prov.get("asd_weights"),
            "weights_sha256": prov.get("asd_weights_sha256"),
            "weights_official": prov.get("asd_weights_official"),
        },
        "rule": SPEAKING_RULE,
        "tracks": [
            {
                "index": t.index,
                "first_frame": t.first_frame,
                "last_frame": t.last_frame,
                "start_s": t.start_s,
                "end_s": t.end_s,
                "mean_box": t.mean_box,
                "speaking_fraction": t.speaking_fraction,
                "judge": t.speaking_judge,
                "segments": t.speaking_segments or [],
                "asd_scores": t.asd_scores,
                "asd_time_s": t.asd_time_s,
                "sync_conf": t.framewise_conf,
                "sync_time_s": t.framewise_time_s,
            }
            for t in result.tracks
        ],
    }


def _rttm_name(path: str) -> str:
    """The RTTM file id: the video's stem, whitespace replaced (RTTM fields are separated by
    spaces)."""
    stem = PurePath(path).stem or "video"
    return "_".join(stem.split()) or "video"


def rttm_text(result: VideoResult) -> str:
    """``speakers -o FILE.rttm``: one ``SPEAKER`` line per speaking segment, speaker
    ``track<N>``, onset and duration in seconds (the NIST RTTM layout pyannote reads)."""
    name = _rttm_name(result.path)
    lines = [
        f"SPEAKER {name} 1 {seg['start_s']:.3f} {seg['end_s'] - seg['start_s']:.3f} <NA> <NA> "
        f"track{t.index} <NA> <NA>"
        for t in result.tracks
        for seg in t.speaking_segments or []
    ]
    return "".join(line + "\n" for line in lines)


def speakers_csv_rows(result: VideoResult) -> list[dict[str, Any]]:
    """``speakers -o FILE.csv``: one row per speaking segment (:data:`SPEAKERS_CSV_COLUMNS`)."""
    return [
        {
            "path": result.path,
            "track": t.index,
            "start_s": f"{seg['start_s']:.3f}",
            "end_s": f"{seg['end_s']:.3f}",
            "duration_s": f"{seg['end_s'] - seg['start_s']:.3f}",
            "mean_score": f"{seg['mean_score']:.4f}",
            "judge": t.speaking_judge or "",
        }
        for t in result.tracks
        for seg in t.speaking_segments or []
    ]
