"""The whole-frame recipes: ``direct`` (demo_syncnet.py) and ``wav2lip-lrs`` (Wav2Lip's LRS).

Every frame of the video goes to the lip stream as it is (``direct``: sides must be 211-242 px,
as pre-cropped 224x224 face videos are) or resized to 224x224 with OpenCV's INTER_LINEAR
(``wav2lip-lrs``, Wav2Lip's ``calculate_scores_LRS.py``), after the reference's JPEG round trip.
Like the reference, neither converts the frame rate: a video that is not at 25 fps is scored
unconverted, with a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ..config import ScoreConfig
from ..constants import FPS, LIP_SIZE_PX, SAMPLE_RATE_HZ
from ..decode import MediaInfo, iter_frames, probe_media, read_audio
from ..embed import Embedder
from ..errors import InputError
from ..models.syncnet import LIP_MAX_SIDE_PX, LIP_MIN_SIDE_PX
from ..reliability import frames_missing, ordered_flags
from ..timing import Timer
from ..types import VideoResult
from . import Collaborators, RecipeRequest, RecipeSpec
from .steps import (
    audio_flags,
    check_audio_source,
    expert_options,
    input_provenance,
    is_25fps,
    offset_ms,
    score_track,
    to_track_result,
    track_flags,
    with_sync_timeline,
)

__all__ = ["resize_224", "run_recipe", "score_whole_frames"]

log = logging.getLogger(__name__)


def run_recipe(
    spec: RecipeSpec, parts: Collaborators, request: RecipeRequest, timer: Timer
) -> VideoResult:
    """The registry's entry point (``direct``, ``wav2lip-lrs``)."""
    return score_whole_frames(
        request.path,
        spec,
        embedder=parts.embedder,
        score_config=parts.score_config,
        timer=timer,
        audio_path=request.audio_path,
    )


def score_whole_frames(
    path: Path,
    recipe: RecipeSpec,
    *,
    embedder: Embedder,
    score_config: ScoreConfig,
    timer: Timer,
    audio_path: Path | None = None,
) -> VideoResult:
    """Score a video with a whole-frame recipe.

    Args:
        path: the video.
        recipe: a whole-frame recipe of the registry (``direct``, ``wav2lip-lrs``).
        embedder: SyncNet on its device.
        score_config: scoring settings (``fps`` converts the video to 25 fps first).
        timer: where the stage times go.
        audio_path: score against this file's audio instead of the video's own.

    Returns:
        An ``ok`` result with one track (the whole frame) and its reliability flags.

    Raises:
        InputError: (or a subclass) when the input cannot be scored.
    """
    if recipe.needs_tracks:
        raise ValueError(f"not a whole-frame recipe: {recipe.name!r}")
    messages: list[str] = []
    with timer.stage("decode"):
        info = probe_media(path)
        if recipe.lip_size_checked:
            _check_lip_size(path, info)
        check_audio_source(path, info, audio_path)
        audio = read_audio(audio_path or path, messages=messages)
    converted = score_config.fps is not None
    fps = float(score_config.fps or info.fps or FPS)  # the rate of the frames scored
    frames = iter_frames(
        path, jpeg_roundtrip=score_config.jpeg_roundtrip, fps=score_config.fps, messages=messages
    )
    if recipe.resize_224:
        frames = map(resize_224, frames)  # in the decode thread: only 224 px is queued
    expected = round(info.num_frames * fps / info.fps) if info.num_frames and info.fps else None
    scored = score_track(
        embedder,
        frames,
        audio,
        vshift=score_config.vshift,
        silence_detector=score_config.silence_detector,
        timer=timer,
        source=path,
        expected_frames=expected,
        fps=fps,
        expert=expert_options(score_config),
    )
    track = with_sync_timeline(
        to_track_result(0, 0, scored.num_frames - 1, scored, fps=fps),
        fps,
    )
    flags = track_flags([track], score_config.vshift) | audio_flags(audio)
    warnings = _length_warnings(path, scored.num_frames, fps, audio.size)
    if not converted and not is_25fps(info):
        flags.add("non_25fps")
        warnings += _fps_warnings(path, info)
    declared_fps = info.fps if converted else None  # the container counts native frames
    if messages or frames_missing(scored.num_frames, info.num_frames, declared_fps):
        flags.add("decode_incomplete")
        warnings += _decode_warnings(path, scored.num_frames, info, messages)
    return VideoResult(
        path=str(path),
        status="ok",
        reason=None,
        recipe=recipe.name,
        av_offset=track.av_offset,
        lse_d=track.lse_d,
        lse_c=track.lse_c,
        aggregate="best",
        track_select="only",
        tracks=[track],
        warnings=warnings,
        provenance=input_provenance(
            info,
            num_frames=scored.num_frames,
            samples=audio.size,
            audio_path=audio_path,
            scored_fps=fps,
        ),
        flags=ordered_flags(flags),
        av_offset_ms=offset_ms(track.av_offset, fps),
        selected_track=0,
    )


def resize_224(chunk: np.ndarray) -> np.ndarray:
    """Wav2Lip's ``cv2.resize(img, (224, 224))`` (INTER_LINEAR) on every frame."""
    if chunk.shape[1:3] == (LIP_SIZE_PX, LIP_SIZE_PX):
        return chunk
    return np.stack([cv2.resize(f, (LIP_SIZE_PX, LIP_SIZE_PX)) for f in chunk])


def _check_lip_size(path: Path, info: MediaInfo) -> None:
    width, height = info.width or 0, info.height or 0
    if not (
        LIP_MIN_SIDE_PX <= width <= LIP_MAX_SIDE_PX and LIP_MIN_SIDE_PX <= height <= LIP_MAX_SIDE_PX
    ):
        raise InputError(
            f"{path}: frame size {width}x{height} cannot enter the lip stream unresized "
            f"(the direct recipe needs {LIP_MIN_SIDE_PX}-{LIP_MAX_SIDE_PX} px sides); use "
            "--recipe wav2lip-lrs (resize to 224x224) or --recipe syncnet-pipeline (detect and "
            "crop faces)"
        )


def _fps_warnings(path: Path, info: MediaInfo) -> list[str]:
    msg = (
        f"{path}: video is {info.fps or 'unknown'} fps, not {FPS}; scored unconverted as the "
        "reference does (numbers are not meaningful; use --fps 25 to convert it first)"
    )
    log.info(msg)  # the command says it from the record (batches: once per kind)
    return [msg]


def _length_warnings(path: Path, n_frames: int, fps: float, n_samples: int) -> list[str]:
    video_s, audio_s = n_frames / fps, n_samples / SAMPLE_RATE_HZ
    if abs(video_s - audio_s) <= 1 / fps:
        return []
    msg = (
        f"{path}: audio ({audio_s:.3f} s) and video ({video_s:.3f} s) lengths differ by more "
        "than one frame; windows beyond the shorter one are not scored"
    )
    log.info(msg)  # the command says it from the record (batches: once per kind)
    return [msg]


def _decode_warnings(path: Path, n_frames: int, info: MediaInfo, messages: list[str]) -> list[str]:
    parts = []
    if info.num_frames:
        parts.append(f"{n_frames} frames decoded of {info.num_frames} declared")
    if messages:
        parts.append(f"the decoder reported: {messages[-1]}")
    msg = f"{path}: incomplete decode ({'; '.join(parts)}); the numbers may not describe it"
    log.info(msg)  # the command says it from the record (batches: once per kind)
    return [msg]
