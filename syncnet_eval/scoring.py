"""Sliding-window offset search: AV offset, LSE-D and LSE-C from two embedding sequences.

Pure tensors in, tensors out; runs on whatever device the embeddings live on.

Sign convention (``av_offset``, in 25 fps frames): the best alignment pairs video window ``i``
with audio window ``i - av_offset``; a positive offset means the audio leads the video.

Offset over time (:func:`offset_drift`): the same window distances, averaged over sliding
segments (:data:`DRIFT_SEGMENT_S` long, every :data:`DRIFT_HOP_S`) instead of the whole track,
give each segment its own best offset; a least-squares line through them gives the drift in
ms per minute. No second embedding pass: it reads the matrix :func:`score_offsets` averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any
import warnings

import numpy as np
from scipy.signal import medfilt
from scipy.stats import t as student_t
import torch

from .constants import DEFAULT_VSHIFT, FPS, SEGMENT_HOP_S, SEGMENT_S, WINDOW_FRAMES
from .measures import TrackInputs
from .types import TrackResult

__all__ = [
    "DRIFT_HOP_S",
    "DRIFT_MIN_SEGMENTS",
    "DRIFT_MIN_SEGMENT_LSE_C",
    "DRIFT_SEGMENT_S",
    "DriftMeasure",
    "OffsetDrift",
    "OffsetScores",
    "aggregate_tracks",
    "distance_by_shift",
    "offset_drift",
    "score_offsets",
    "scores_from_distances",
    "selected_tracks",
]

_PAIRWISE_EPS = 1e-6  # torch.pairwise_distance adds eps to every component of the difference
_FRAMEWISE_MEDFILT_TAPS = 9  # the reference smooths per-window confidence with a 9-tap median

# -- offset over time -------------------------------------------------------------------------
# The segments' grid (constants.SEGMENT_S long, every constants.SEGMENT_HOP_S), which the
# ownership measure shares.
DRIFT_SEGMENT_S = SEGMENT_S
DRIFT_HOP_S = SEGMENT_HOP_S
# A segment's own LSE-C (median minus minimum of its mean curve) below this has no clear
# minimum (silence, no face, a cut): its offset is left out of the line and counted. 3 is the
# bar LatentSync applies to a clip's LSE-C before calling it in sync (also speaking.py's).
DRIFT_MIN_SEGMENT_LSE_C = 3.0
# Fewest segments a line is fitted through (a line through two points fits anything).
DRIFT_MIN_SEGMENTS = 3


@dataclass(frozen=True)
class OffsetDrift:
    """The best offset of each sliding segment of one track and the line through them.

    Attributes:
        time_s: (S,) centre of each segment in seconds from the track's first frame (a segment
            of windows s..s+W-1 covers frames s..s+W+3).
        offsets: (S,) int best offset of each segment, frames (the sign of ``av_offset``).
        confidence: (S,) float64 each segment's LSE-C (median minus minimum of its curve).
        used: (S,) bool: confidence >= the bar; only these segments are in the line.
        ms_per_min: slope of the least-squares line through the used segments' offsets in ms
            against their times in minutes (positive: the audio comes earlier and earlier);
            ``None`` with fewer than :data:`DRIFT_MIN_SEGMENTS` used segments.
        span_s: time between the first and the last used segment's centres (0 without any).
        ci95: the slope's 95% interval (ms per minute) from the least-squares fit's standard
            error and Student's t with n - 2 degrees of freedom (``None`` without a slope).
            Segments overlap (5 s every 1 s), so neighbouring residuals are correlated and the
            interval is narrower than an independent-sample one would be: a screen, not a test.
    """

    time_s: np.ndarray
    offsets: np.ndarray
    confidence: np.ndarray
    used: np.ndarray
    ms_per_min: float | None
    span_s: float
    ci95: tuple[float, float] | None = None

    @property
    def num_used(self) -> int:
        return int(self.used.sum())

    @property
    def num_left_out(self) -> int:
        return int(self.used.size - self.used.sum())


@dataclass(frozen=True)
class OffsetScores:
    """Scores of one track.

    Attributes:
        av_offset: best offset in frames (see module docstring for the sign).
        lse_d: mean distance at the best offset (lower is better).
        lse_c: median minus minimum of ``dist_by_shift`` (higher is better).
        dist_by_shift: (2 * vshift + 1,) mean distance per shift; index k pairs video window i
            with audio window i + k - vshift.
        framewise_conf: (N,) per-window confidence, 9-tap median-filtered (display only).
        num_windows: N, the number of 5-frame windows scored.
    """

    av_offset: int
    lse_d: float
    lse_c: float
    dist_by_shift: np.ndarray
    framewise_conf: np.ndarray
    num_windows: int


def distance_by_shift(
    video_emb: torch.Tensor, audio_emb: torch.Tensor, vshift: int, chunk_windows: int = 256
) -> torch.Tensor:
    """All window distances ``d[i, k] = ||V_i - A'_{i+k} + 1e-6||``, A' zero-padded by vshift.

    Args:
        video_emb: (N, D) float32 lip embeddings.
        audio_emb: (N, D) float32 audio embeddings on the same device.
        vshift: largest shift searched, in frames.
        chunk_windows: windows per block; each block holds a float64 (chunk, chunk + 2v) matrix
            of dot products.

    Returns:
        (N, 2 * vshift + 1) float32 distances. Rows beyond the audio ends pair with zero
        vectors and are kept, as in the reference.
    """
    if video_emb.shape != audio_emb.shape or video_emb.ndim != 2:
        raise ValueError(f"embedding shapes differ: {video_emb.shape} vs {audio_emb.shape}")
    n = video_emb.shape[0]
    width = 2 * vshift + 1
    # ||(v + eps) - a||^2 = ||u||^2 + ||a||^2 - 2 u.a with u = v + eps, in float64 so that the
    # expansion loses nothing against the reference's float32 difference-then-norm; the dot
    # products of each block come from one banded matrix product instead of a copied
    # (windows, shifts, D) tensor, which made the kernel memory-bound.
    # Blocks are cast to float64 one at a time: whole float64 copies of a 10-minute track's
    # embeddings would hold ~250 MB.
    padded = torch.nn.functional.pad(audio_emb, (0, 0, vshift, vshift))
    shifts = torch.arange(width, device=video_emb.device)
    out = torch.empty((n, width), dtype=video_emb.dtype, device=video_emb.device)
    for start in range(0, n, chunk_windows):  # bounded memory, not a loop over windows
        stop = min(n, start + chunk_windows)
        u = video_emb[start:stop].double() + _PAIRWISE_EPS
        a = padded[start : stop + width - 1].double()
        local = torch.arange(stop - start, device=video_emb.device)[:, None] + shifts
        dots = (u @ a.T).gather(1, local)  # dots[i, k] = u_i . padded[start + i + k]
        a_sq = (a * a).sum(dim=1)
        sq = (u * u).sum(dim=1)[:, None] + a_sq[local] - 2.0 * dots
        out[start:stop] = torch.sqrt(sq.clamp_min(0.0)).to(video_emb.dtype)
    return out


def score_offsets(
    video_emb: torch.Tensor, audio_emb: torch.Tensor, vshift: int = DEFAULT_VSHIFT
) -> OffsetScores:
    """Offset, LSE-D and LSE-C of one track, as the reference's ``evaluate`` computes them.

    Args:
        video_emb: (N, D) lip embeddings of windows 0..N-1.
        audio_emb: (N, D) audio embeddings of the same windows.
        vshift: largest shift searched, in frames.

    Raises:
        ValueError: if there are no windows.
    """
    if video_emb.shape[0] == 0:
        raise ValueError("no windows to score")
    return scores_from_distances(distance_by_shift(video_emb.float(), audio_emb.float(), vshift))


def scores_from_distances(dists: torch.Tensor) -> OffsetScores:
    """:func:`score_offsets`'s numbers from the (N, 2 * vshift + 1) matrix of
    :func:`distance_by_shift` (for callers that also read the matrix, e.g. :func:`offset_drift`).

    Raises:
        ValueError: if there are no windows.
    """
    if dists.ndim != 2 or dists.shape[0] == 0 or dists.shape[1] % 2 != 1:
        raise ValueError(f"no windows to score (distances of shape {tuple(dists.shape)})")
    vshift = (dists.shape[1] - 1) // 2
    mdist = dists.mean(dim=0)
    minval, minidx = torch.min(mdist, dim=0)
    median = torch.median(mdist)  # 2v+1 values: the true middle element
    framewise = (median - dists[:, minidx]).cpu().numpy().astype(np.float64)
    with warnings.catch_warnings():
        # scipy warns when the filter is longer than a very short clip; the result is defined.
        warnings.simplefilter("ignore", UserWarning)
        framewise = medfilt(framewise, kernel_size=_FRAMEWISE_MEDFILT_TAPS)
    return OffsetScores(
        av_offset=int(vshift - int(minidx)),
        lse_d=float(minval),
        lse_c=float(median - minval),
        dist_by_shift=mdist.cpu().numpy().astype(np.float64),
        framewise_conf=framewise,
        num_windows=int(dists.shape[0]),
    )


def offset_drift(
    dists: torch.Tensor | np.ndarray,
    *,
    fps: float = FPS,
    segment_s: float = DRIFT_SEGMENT_S,
    hop_s: float = DRIFT_HOP_S,
    min_lse_c: float = DRIFT_MIN_SEGMENT_LSE_C,
) -> OffsetDrift:
    """The best offset of each sliding segment of a track, and the drift line through them.

    Each segment's curve is the mean over its windows of the rows of ``dists``, leaving out
    the pairs with the zero padding beyond the audio's ends (the whole-track curve keeps them,
    as the reference does; a segment at a track's end would otherwise be pushed away from the
    shifts that reach past it). Its offset is ``vshift - argmin`` (the sign of ``av_offset``)
    and its confidence its own LSE-C; segments below ``min_lse_c`` are left out of the line.

    Args:
        dists: (N, 2 * vshift + 1) window distances from :func:`distance_by_shift`.
        fps: rate of the scored stream (windows are one frame apart).
        segment_s: segment length, seconds (rounded to whole windows).
        hop_s: time between segment starts, seconds (rounded to whole windows, at least 1).
        min_lse_c: confidence a segment needs to be in the line.

    Returns:
        The segments (none when the track has fewer windows than one segment) and the slope.
    """
    d = dists.detach().cpu().numpy() if isinstance(dists, torch.Tensor) else np.asarray(dists)
    d = d.astype(np.float64)
    n, width = d.shape
    vshift = (width - 1) // 2
    seg = max(1, round(segment_s * fps))
    hop = max(1, round(hop_s * fps))
    starts = np.arange(0, n - seg + 1, hop) if n >= seg else np.zeros(0, dtype=np.int64)
    # valid[i, k]: window i's audio partner i + k - vshift exists (is not zero padding).
    partner = np.arange(n)[:, None] + np.arange(width)[None, :] - vshift
    valid = (partner >= 0) & (partner < n)
    sums = np.vstack([np.zeros((1, width)), np.cumsum(np.where(valid, d, 0.0), axis=0)])
    counts = np.vstack([np.zeros((1, width)), np.cumsum(valid, axis=0)])
    seg_sum = sums[starts + seg] - sums[starts]
    seg_count = counts[starts + seg] - counts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        curves = np.where(seg_count > 0, seg_sum / np.maximum(seg_count, 1), np.inf)
    if starts.size:
        best = np.argmin(curves, axis=1)
        minimum = curves[np.arange(starts.size), best]
        finite = np.where(np.isfinite(curves), curves, np.nan)
        confidence = np.nanmedian(finite, axis=1) - minimum
    else:
        best = np.zeros(0, dtype=np.int64)
        confidence = np.zeros(0)
    offsets = (vshift - best).astype(np.int64)
    # Windows s..s+W-1 span frames s..s+W+3: the segment's centre, in frames, then seconds.
    time_s = (starts + (seg + WINDOW_FRAMES - 1) / 2.0) / fps
    used = confidence >= min_lse_c
    slope: float | None = None
    span_s = float(np.ptp(time_s[used])) if used.any() else 0.0
    ci95: tuple[float, float] | None = None
    if used.sum() >= DRIFT_MIN_SEGMENTS and span_s > 0:
        slope, ci95 = _slope_with_interval(time_s[used] / 60.0, offsets[used] * 1000.0 / fps)
    return OffsetDrift(
        time_s=time_s,
        offsets=offsets,
        confidence=confidence.astype(np.float64),
        used=used,
        ms_per_min=slope,
        span_s=span_s,
        ci95=ci95,
    )


def _slope_with_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Least-squares slope of ``y`` on ``x`` and its 95% interval (Student's t, n - 2 df)."""
    slope, intercept = np.polyfit(x, y, 1)
    n = x.size
    sxx = float(np.sum((x - x.mean()) ** 2))
    if n <= 2 or sxx <= 0:
        return float(slope), (float(slope), float(slope))
    residual = y - (slope * x + intercept)
    se = math.sqrt(float(np.sum(residual**2)) / (n - 2) / sxx)
    half = float(student_t.ppf(0.975, n - 2)) * se
    return float(slope), (float(slope - half), float(slope + half))


class DriftMeasure:
    """The ``drift`` measure (``measures/drift.py``): :func:`offset_drift` of a track's window
    distances, as the record's fields."""

    def observe(self, frames: Any) -> None:
        """Drift needs no frames."""

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        drift = offset_drift(inputs.distances, fps=inputs.fps)
        return {
            "segment_offsets": [
                {
                    "time_s": round(inputs.start_s + float(t), 4),
                    "offset": int(o),
                    "confidence": float(c),
                    "used": bool(u),
                }
                for t, o, c, u in zip(
                    drift.time_s, drift.offsets, drift.confidence, drift.used, strict=True
                )
            ],
            "drift_ms_per_min": None if drift.ms_per_min is None else round(drift.ms_per_min, 3),
            "drift_segments": drift.num_used,
            "drift_segments_left_out": drift.num_left_out,
            "drift_span_s": round(drift.span_s, 4),
            "drift_ci95_ms_per_min": None
            if drift.ci95 is None
            else [round(drift.ci95[0], 3), round(drift.ci95[1], 3)],
        }


def aggregate_tracks(tracks: Sequence[TrackResult], rule: str) -> tuple[int | float, float, float]:
    """Video-level ``(av_offset, lse_d, lse_c)`` from per-track results by ``rule``.

    ``mean`` averages over tracks (the offset becomes a float); every other rule picks one track
    (:func:`selected_tracks`) and reports its own three numbers, never mixed.

    Raises:
        ValueError: for no tracks, or a rule the tracks cannot answer (see
            :func:`selected_tracks`).
    """
    chosen = selected_tracks(tracks, rule)
    if rule == "mean":
        return (
            float(np.mean([t.av_offset for t in chosen])),
            float(np.mean([t.lse_d for t in chosen])),
            float(np.mean([t.lse_c for t in chosen])),
        )
    (track,) = chosen
    return track.av_offset, track.lse_d, track.lse_c


def selected_tracks(tracks: Sequence[TrackResult], rule: str) -> list[TrackResult]:
    """The tracks whose numbers the video reports under ``rule`` (``--track-select``).

    - ``best``: the highest LSE-C; ``longest``: the most frames; ``largest``: the largest mean
      face box area (width x height); ``index:N``: track N; ``asd``: the most frames the
      active-speaker judge calls speaking (then the higher mean ASD score); ``mean``: all.
    - Ties go to the lower track index.

    Raises:
        ValueError: for no tracks, ``index:N`` naming no track, ``largest`` without box sizes
            or ``asd`` without ASD scores; the message says which.
    """
    if not tracks:
        raise ValueError("no tracks to aggregate")
    if rule == "mean":
        return list(tracks)
    if rule == "longest":
        return [max(tracks, key=lambda t: (t.num_frames, -t.index))]
    if rule == "largest":
        if any(t.bbox is None for t in tracks):
            raise ValueError("--track-select largest needs face boxes (the pipeline recipe)")
        return [max(tracks, key=lambda t: (_box_area(t), -t.index))]
    if rule.startswith("index:"):
        wanted = int(rule.removeprefix("index:"))
        found = [t for t in tracks if t.index == wanted]
        if not found:
            have = ", ".join(str(t.index) for t in tracks)
            found_text = "1 track was" if len(tracks) == 1 else f"{len(tracks)} tracks were"
            raise ValueError(
                f"--track-select {rule}: no track {wanted}; {found_text} found (index {have})"
            )
        return found
    if rule == "asd":
        if any(t.asd_scores is None for t in tracks):
            raise ValueError("--track-select asd needs active-speaker scores (--asd light-asd)")
        return [max(tracks, key=lambda t: (*_speaking_key(t), -t.index))]
    if rule != "best":
        raise ValueError(f"unknown track selection {rule!r}")
    return [max(tracks, key=lambda t: (t.lse_c, -t.index))]


def _box_area(track: TrackResult) -> float:
    box = track.bbox or {}
    return float(box.get("mean_width", 0.0)) * float(box.get("mean_height", 0.0))


def _speaking_key(track: TrackResult) -> tuple[float, float]:
    """(frames called speaking, mean ASD score) of a track judged by the ASD model."""
    scores = track.asd_scores or []
    speaking = (track.speaking_fraction or 0.0) * len(scores)
    return round(speaking), float(np.mean(scores)) if scores else float("-inf")
