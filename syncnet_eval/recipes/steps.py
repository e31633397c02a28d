"""Steps every recipe shares: check the audio source, score one track, describe the input.

:func:`score_track` is the one embed-and-score sequence of the package: a frame stream and its
16 kHz audio in, the offset search's :class:`~syncnet_eval.scoring.OffsetScores` out. The window
count comes from :func:`~syncnet_eval.embed.num_windows`; the numbers from
:func:`~syncnet_eval.scoring.score_offsets`'s two halves (``distance_by_shift`` then
``scores_from_distances``). Every registered track measure (:mod:`syncnet_eval.measures`: the
offset over time, mouth motion in silence, ...) sees the frames as they pass and the same
window distances: their values are the track's ``measures``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import mfcc
from ..config import ScoreConfig
from ..constants import FPS, SAMPLE_RATE_HZ, WINDOW_FRAMES
from ..decode import MediaInfo, prefetch, probe_audio_file
from ..embed import Embedder, max_windows_for_audio, num_windows
from ..errors import NoAudioError, TooShortError
from ..measures import TrackInputs, TrackMeasure, VideoInputs, get_measure, measures_at
from ..reliability import SILENCE_DBFS, audio_level_dbfs, min_reliable_windows
from ..scoring import OffsetScores, distance_by_shift, scores_from_distances
from ..speaking import SpeakingTimeline, asd_timeline, sync_timeline
from ..timing import Timer
from ..types import TrackResult

__all__ = [
    "ScoredTrack",
    "audio_flags",
    "check_audio_source",
    "expert_options",
    "input_provenance",
    "is_25fps",
    "offset_ms",
    "score_track",
    "to_track_result",
    "track_flags",
    "with_asd_scores",
    "with_sync_timeline",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredTrack:
    """The scores of one frame stream, how many frames it had and its measures' values."""

    scores: OffsetScores
    num_frames: int
    measures: dict[str, Any]


class _FrameCounter:
    def __init__(self, timer: Timer) -> None:
        self.total = 0
        self._timer = timer

    def count(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            self.total += len(chunk)
            self._timer.advance(len(chunk))
            yield chunk


def score_track(
    embedder: Embedder,
    frames: Iterable[np.ndarray],
    audio: np.ndarray,
    *,
    vshift: int,
    timer: Timer,
    source: str | Path,
    expected_frames: int | None = None,
    speech_level_dbfs: float | None = None,
    fps: float = FPS,
    start_s: float = 0.0,
    expert: Mapping[str, Any] | None = None,
    silence_detector: str = "energy",
) -> ScoredTrack:
    """Embed every window of a frame stream and of its audio, search the AV offset, and
    measure the track with every registered track measure.

    Frames are decoded in a background thread (charged to ``decode``) while the embedder works
    (``embeddings``); only windows that have audio are embedded, but every frame is counted.
    The track measures (:func:`~syncnet_eval.measures.measures_at`) see the frames as they pass
    (charged to ``embeddings``) and then the window distances the offset was read from.

    Args:
        embedder: SyncNet on its device (or any :class:`~syncnet_eval.embed.Embedder`).
        frames: (n, H, W, 3) uint8 BGR chunks at 25 fps, in order.
        audio: (L,) int16 samples at 16 kHz, aligned with the first frame.
        vshift: largest offset searched, frames.
        timer: where the stage times go.
        source: the user's file, for messages.
        expected_frames: the frame count, if known (a preallocation hint only).
        speech_level_dbfs: the clip's speech level for the silence rule (default: that of
            ``audio``; see :mod:`syncnet_eval.silence`).
        fps: rate of ``frames`` (the offset-over-time segments are seconds of it).
        start_s: where the track starts in the original video, seconds (measures' times).
        expert: another sync expert's options (:func:`expert_options`), or ``None``.
        silence_detector: what defines silence for the ``silence`` measure
            (:mod:`syncnet_eval.vad`).

    Raises:
        TooShortError: fewer than 6 frames with audio (no window to score).
    """
    with timer.stage("mfcc"):
        cc = mfcc(audio)
    counter = _FrameCounter(timer)
    measures = _track_measures(expert)
    stream = timer.wrap("decode", prefetch(frames))
    with timer.stage("embeddings", total=expected_frames):
        expected = expected_frames - (WINDOW_FRAMES - 1) if expected_frames else None
        lips = embedder.embed_lips(
            _observed(counter.count(stream), measures),
            max_windows=max_windows_for_audio(audio.size),
            expected_windows=expected,
        )
        n_win = num_windows(counter.total, audio.size)
        if n_win < 1:
            raise TooShortError(
                f"{source}: too short to score: {counter.total} frames and "
                f"{audio.size / SAMPLE_RATE_HZ:.3f} s of audio give {n_win} windows (need at "
                f"least {WINDOW_FRAMES + 1} frames with audio)"
            )
        audio_emb = embedder.embed_audio(cc, n_win)
    with timer.stage("scoring"):
        dists = distance_by_shift(lips[:n_win].float(), audio_emb.float(), vshift)
        scores = scores_from_distances(dists)
        inputs = TrackInputs(
            dists, audio, fps, start_s, speech_level_dbfs, scores, silence_detector
        )
        values: dict[str, Any] = {}
        for measure in measures:
            values.update(measure.finish(inputs))
    return ScoredTrack(scores, counter.total, values)


def _track_measures(expert: Mapping[str, Any] | None = None) -> list[TrackMeasure]:
    """A fresh computation of every default track measure (:data:`measures.REGISTRY`), and of
    the opt-in expert measure ``expert`` names."""
    made = [spec.create() for spec in measures_at("track") if spec.default]
    if expert is not None:
        made.append(get_measure(str(expert["name"])).create(expert))
    return made


def expert_options(
    score_config: ScoreConfig, face_box: tuple[int, int, int, int] | None = None
) -> dict[str, Any] | None:
    """What ``--expert``'s measure needs for one run's tracks (``None``: no expert): its name,
    weights and device, and where the face lies in the frames it is shown (``None``: the whole
    frame, a pre-cropped face)."""
    if score_config.expert is None:
        return None
    return {
        "name": score_config.expert,
        "weights": score_config.expert_weights,
        "device": score_config.device,
        "face_box": face_box,
    }


def _observed(chunks: Iterable[np.ndarray], measures: list[TrackMeasure]) -> Iterator[np.ndarray]:
    """Pass ``chunks`` through, showing each to every measure."""
    for chunk in chunks:
        for measure in measures:
            measure.observe(chunk)
        yield chunk


def to_track_result(
    index: int, first: int, last: int, scored: ScoredTrack, *, fps: float, **extra: Any
) -> TrackResult:
    """A :class:`TrackResult` from a track's frame span, its scores and measures, and the
    scored frame rate (which turns frames into seconds of the original video)."""
    scores = scored.scores
    return TrackResult(
        index=index,
        first_frame=first,
        last_frame=last,
        av_offset=scores.av_offset,
        lse_d=scores.lse_d,
        lse_c=scores.lse_c,
        num_windows=scores.num_windows,
        dist_by_shift=[float(x) for x in scores.dist_by_shift],
        framewise_conf=[float(x) for x in scores.framewise_conf],
        start_s=first / fps,
        end_s=(last + 1) / fps,
        framewise_time_s=[(first + i) / fps for i in range(scores.num_windows)],
        measures=dict(scored.measures),
        **extra,
    )


def _with_timeline(track: TrackResult, timeline: SpeakingTimeline) -> TrackResult:
    return replace(
        track,
        speaking_judge=timeline.judge,
        speaking_fraction=timeline.fraction,
        speaking_segments=timeline.segments,
    )


def with_sync_timeline(track: TrackResult, fps: float) -> TrackResult:
    """``track`` judged speaking or not by its SyncNet confidence (``speaking.sync_timeline``)."""
    return _with_timeline(track, sync_timeline(track.framewise_conf, track.first_frame, fps))


def with_asd_scores(track: TrackResult, scores: np.ndarray, fps: float) -> TrackResult:
    """``track`` with the active-speaker model's per-frame scores and its judgement of them."""
    values = [float(x) for x in scores]
    times = [(track.first_frame + k) / fps for k in range(len(values))]
    judged = replace(track, asd_scores=values, asd_time_s=times)
    return _with_timeline(judged, asd_timeline(values, track.first_frame, fps))


def offset_ms(av_offset: float, fps: float) -> float:
    """An AV offset in frames of a ``fps`` stream, in milliseconds (same sign)."""
    return round(1000.0 * av_offset / fps, 3)


def track_flags(tracks: Iterable[TrackResult], vshift: int) -> set[str]:
    """``few_windows`` when any of ``tracks`` (those the numbers come from) has too few; and
    every flag a track measure raises on any of them (``offset_drift``: the offset drifts)."""
    limit = min_reliable_windows(vshift)
    tracks = list(tracks)
    flags = {"few_windows"} if any(t.num_windows < limit for t in tracks) else set()
    for spec in measures_at("track"):
        if spec.raises is not None:
            for t in tracks:
                flags |= spec.raised(t.measures)
    return flags


def audio_flags(audio: np.ndarray) -> set[str]:
    """``silent_audio`` when ``audio`` is below the silence level."""
    return {"silent_audio"} if audio_level_dbfs(audio) < SILENCE_DBFS else set()


def check_audio_source(path: Path, info: MediaInfo, audio_path: Path | None) -> None:
    """The audio to score against exists: ``audio_path`` if given, else the video's own track.

    Raises:
        NoAudioError: no audio stream; ``InputError``/``DecodeError`` for a bad ``audio_path``.
    """
    if audio_path is not None:
        probe_audio_file(audio_path)
    elif not info.has_audio:
        raise NoAudioError(f"{path}: no audio stream")


def is_25fps(info: MediaInfo) -> bool:
    """Whether the input's video runs at SyncNet's 25 fps (to 1e-3)."""
    return info.fps is not None and abs(info.fps - FPS) <= 1e-3


def input_provenance(info: MediaInfo, **extra: Any) -> dict[str, Any]:
    """What a record says about its input stream: its size, every provenance measure's fields
    (``codec``: how it was encoded, :mod:`syncnet_eval.measures.codec`), plus recipe-specific
    ``extra`` keys."""
    prov: dict[str, Any] = {"input_fps": info.fps, "input_size": [info.width, info.height]}
    inputs = VideoInputs(path="", media=info)
    for spec in measures_at("video", "provenance"):
        prov.update(spec.compute_video(inputs))
    prov.update({k: (str(v) if isinstance(v, Path) else v) for k, v in extra.items()})
    return prov
