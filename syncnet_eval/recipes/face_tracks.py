"""The in-the-wild recipe (``syncnet-pipeline``): run_pipeline.py + run_syncnet.py, in memory.

Named steps (REFERENCE_PIPELINE.md 1.2-4), each returning a small result:

1. :func:`transcode` - the 25 fps AVI (mpeg4 q2 + MP3, as the reference) and its 16 kHz audio;
2. :func:`find_scenes` - PySceneDetect 0.5.1's cuts on OpenCV's decode of that AVI;
3. :func:`find_faces` - boxes on every frame of the q2 JPEG dump (or on key frames, or injected);
4. tracking - :func:`~syncnet_eval.tracking.track_scenes`, each track carrying its scene index;
5. :func:`crop_tracks` - 13-tap smoothing and 224x224 crops through an XVID encode;
6. :func:`score_crops` - :func:`~syncnet_eval.recipes.steps.score_track` on every crop with its
   slice of the audio (and, with ``--asd``, the active-speaker model on the same crop);
7. the track choice (``--track-select``, :func:`~syncnet_eval.scoring.selected_tracks`).

Only the transcode, the q2 JPEG dump and the crop videos touch the disk, inside a private
temporary directory (the lossy encodes are part of the reference's numbers); the dump is
encoded once, during detection, and read back by the crop pass. Nothing is left behind unless
``save_crops`` asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
import logging
from pathlib import Path
import tempfile
from typing import Any

import cv2
import numpy as np

from ..asd import ActiveSpeakerScorer, asd_faces
from ..audio import mfcc
from ..config import PipelineConfig, ScoreConfig
from ..constants import AUDIO_SAMPLES_PER_FRAME, CROP_SCALE, FPS, MFCC_PER_FRAME
from ..crop import (
    CropGeometry,
    CropVideoWriter,
    crop_face,
    face_box_in_crop,
    save_crop_video,
    smooth_track,
)
from ..decode import (
    REFERENCE_QSCALE,
    JpegCache,
    MediaInfo,
    chunked,
    decode_jpeg,
    decode_jpegs,
    iter_frames,
    iter_jpegs,
    prefetch,
    probe_media,
    read_audio,
    transcode_reference_avi,
)
from ..embed import Embedder
from ..errors import DecodeError, InputError, NoFaceError, TooShortError
from ..faces.base import FaceDetector, detector_provenance
from ..io import save_detections
from ..models.weights import REGISTRY as OFFICIAL_WEIGHTS
from ..reliability import frames_missing, ordered_flags
from ..scenes import SceneCutDetector
from ..scoring import aggregate_tracks, selected_tracks
from ..silence import frame_levels_dbfs, speech_level_dbfs
from ..timing import Timer
from ..tracking import Track, TrackingResult, interpolate_keyframes, track_scenes
from ..types import TrackResult, VideoResult
from . import Collaborators, RecipeRequest, RecipeSpec
from .steps import (
    audio_flags,
    check_audio_source,
    expert_options,
    input_provenance,
    offset_ms,
    score_track,
    to_track_result,
    track_flags,
    with_asd_scores,
    with_sync_timeline,
)

__all__ = [
    "run_recipe",
    "FaceBoxes",
    "SceneList",
    "TrackCrop",
    "Transcoded",
    "count_dump",
    "crop_tracks",
    "find_faces",
    "find_scenes",
    "score_crops",
    "score_face_tracks",
    "transcode",
]

log = logging.getLogger(__name__)

RECIPE = "syncnet-pipeline"  # its name in the registry (recipes/__init__.py)
_DETECT_CHUNK_FRAMES = 32  # q2 frames per detector batch (and per crop-pass chunk)


@dataclass(frozen=True)
class Transcoded:
    """Step 1: the reference's 25 fps AVI and the audio extracted from it.

    Attributes:
        avi: the transcode (in the temporary directory).
        audio: (L,) int16 at 16 kHz, with the MP3 encoder delay the reference has.
        messages: errors the decoders reported (and concealed) while reading the input.
    """

    avi: Path
    audio: np.ndarray
    messages: list[str]


@dataclass(frozen=True)
class SceneList:
    """Step 2: ``[start, end)`` scenes and the frames OpenCV decoded to find them."""

    scenes: list[tuple[int, int]]
    num_frames: int


@dataclass(frozen=True)
class FaceBoxes:
    """Step 3: per frame of the JPEG dump, (K, 5) ``[x1, y1, x2, y2, score]``, best first.

    Attributes:
        per_frame: the boxes, one array per frame.
        num_frames: frames in the dump (with injected boxes: the boxes' length).
        source: ``s3fd``, ``hog`` or ``injected``.
    """

    per_frame: list[np.ndarray]
    num_frames: int
    source: str


@dataclass(frozen=True)
class TrackCrop:
    """Step 5: a kept track, its smoothed geometry and its 224x224 crop video."""

    track: Track
    geometry: CropGeometry
    video: Path


def transcode(path: Path, workdir: Path, audio_path: Path | None = None) -> Transcoded:
    """``ffmpeg -i INPUT -qscale:v 2 -async 1 -r 25 video.avi``, then its audio without -async."""
    avi = workdir / "video.avi"
    messages: list[str] = []
    transcode_reference_avi(path, avi, audio_path, messages=messages)
    return Transcoded(avi, read_audio(avi, async_resample=False), messages)


def find_scenes(avi: Path, config: PipelineConfig) -> SceneList:
    """Scenes on OpenCV's decode of the transcode (it can see one frame fewer than the dump)."""
    detector = SceneCutDetector(
        threshold=config.scene_threshold, min_scene_len=config.scene_min_len
    )
    cap = cv2.VideoCapture(str(avi))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            detector.add_frame(frame)
    finally:
        cap.release()
    return SceneList(detector.scenes(), detector.num_frames)


def find_faces(
    avi: Path,
    detector: FaceDetector,
    config: PipelineConfig,
    cache: JpegCache,
    on_frames: Callable[[int], None] | None = None,
) -> FaceBoxes:
    """Detect faces on every frame of the q2 dump, or on every Nth (``detect_every``).

    Every JPEG of the dump is recorded into ``cache`` for the crop pass; with ``detect_every``
    only the key frames are decoded, and boxes between them are interpolated. ``on_frames`` is
    told how many frames each detector batch covered (progress).
    """
    advance = on_frames or (lambda n: None)
    every = config.detect_every
    jpegs = cache.record(iter_jpegs(avi, REFERENCE_QSCALE))
    if every == 1:
        dets: list[np.ndarray] = []
        for chunk in prefetch(decode_jpegs(jpegs, avi, _DETECT_CHUNK_FRAMES)):
            dets.extend(detector.detect(chunk))
            advance(len(chunk))
        return FaceBoxes(dets, len(dets), detector.name)
    num_frames = 0
    last: bytes | None = None

    def key_frames() -> Iterator[np.ndarray]:
        """Frames 0, N, 2N, ... decoded; the others only counted (and recorded)."""
        nonlocal num_frames, last
        for jpeg in jpegs:
            if num_frames % every == 0:
                yield decode_jpeg(jpeg, avi)
            last = jpeg
            num_frames += 1

    keyed: dict[int, np.ndarray] = {}
    for chunk in prefetch(chunked(key_frames(), _DETECT_CHUNK_FRAMES)):
        for d in detector.detect(chunk):
            keyed[len(keyed) * every] = d  # the k-th key frame is frame k * N
        advance(len(chunk) * every)
    if last is not None and num_frames - 1 not in keyed:
        keyed[num_frames - 1] = detector.detect(decode_jpeg(last, avi)[None])[0]
    return FaceBoxes(interpolate_keyframes(keyed, num_frames), num_frames, detector.name)


def crop_tracks(
    avi: Path,
    cache: JpegCache,
    tracks: Sequence[Track],
    config: PipelineConfig,
    workdir: Path,
    source: Path,
) -> list[TrackCrop]:
    """One pass over the q2 frames (cached, or dumped now), cropping every track."""
    geoms = [smooth_track(tr) for tr in tracks]
    writers = [
        CropVideoWriter(workdir / f"{i:05d}t.avi", source=source) for i in range(len(tracks))
    ]
    jpegs = cache.replay() if cache.complete else iter_jpegs(avi, REFERENCE_QSCALE)
    last_needed = max(t.last_frame for t in tracks)
    ok = False
    try:
        idx = 0
        for chunk in prefetch(decode_jpegs(jpegs, avi, _DETECT_CHUNK_FRAMES)):
            for frame in chunk:
                for t, g, w in zip(tracks, geoms, writers, strict=True):
                    if t.first_frame <= idx <= t.last_frame:
                        k = idx - t.first_frame
                        w.write(
                            crop_face(
                                frame,
                                g.center_x[k],
                                g.center_y[k],
                                g.half_size[k],
                                crop_scale=config.crop_scale,
                            )
                        )
                idx += 1
            if idx > last_needed:
                break
        for w in writers:
            w.close()
        ok = True
    finally:
        if not ok:
            for w in writers:
                w.kill()
    return [TrackCrop(t, g, w.path) for t, g, w in zip(tracks, geoms, writers, strict=True)]


def score_crops(
    crops: Sequence[TrackCrop],
    audio: np.ndarray,
    *,
    embedder: Embedder,
    score_config: ScoreConfig,
    timer: Timer,
    source: Path,
    save_crops: Path | None = None,
    crops_name: str | None = None,
    asd: ActiveSpeakerScorer | None = None,
    crop_scale: float = CROP_SCALE,
) -> list[TrackResult]:
    """Score every crop video against its slice of the audio; tracks without audio are skipped.

    With ``save_crops``, each crop video is also kept, with its audio, as
    ``save_crops/<crops_name>_<track>.avi`` (``crops_name`` defaults to the source's stem).
    With ``asd``, each track also gets the active-speaker model's per-frame scores (on the crop
    video as decoded, without the JPEG round trip, and the MFCC of the whole audio from the
    track's first frame) and is judged by them; otherwise by SyncNet's confidence.
    ``crop_scale`` is the crops' margin: ``--expert`` measures find the face box in it.
    """
    results: list[TrackResult] = []
    expert = expert_options(score_config, face_box_in_crop(crop_scale))
    audio_mfcc = None  # the ASD's MFCC of the whole audio, computed with the first track's
    # Each track's silence is judged against the whole clip's speech level (silence.py).
    speech_level = speech_level_dbfs(frame_levels_dbfs(audio))
    for i, crop in enumerate(crops):
        # Stage lines name the track they work on (the timings keep the bare names).
        with timer.about(f"track {i}, {i + 1} of {len(crops)}"):
            tr, geom = crop.track, crop.geometry
            first, stop = tr.first_frame, tr.last_frame + 1
            track_audio = audio[first * AUDIO_SAMPLES_PER_FRAME : stop * AUDIO_SAMPLES_PER_FRAME]
            if save_crops is not None:
                save_crop_video(
                    crop.video,
                    track_audio,
                    save_crops / f"{crops_name or source.stem}_{i:05d}.avi",
                    source=source,
                )
            frames = iter_frames(crop.video, jpeg_roundtrip=score_config.jpeg_roundtrip)
            try:
                scored = score_track(
                    embedder,
                    frames,
                    track_audio,
                    vshift=score_config.vshift,
                    silence_detector=score_config.silence_detector,
                    timer=timer,
                    source=source,
                    expected_frames=tr.num_frames,
                    speech_level_dbfs=speech_level,
                    start_s=first / FPS,
                    expert=expert,
                )
            except TooShortError:
                continue  # the audio ends before this track has a window
            w = tr.boxes[:, 2] - tr.boxes[:, 0]
            h = tr.boxes[:, 3] - tr.boxes[:, 1]
            bbox = {
                "mean_width": float(w.mean()),
                "mean_height": float(h.mean()),
                "mean_center_x": float(geom.center_x.mean()),
                "mean_center_y": float(geom.center_y.mean()),
            }
            track = to_track_result(
                i,
                tr.first_frame,
                tr.last_frame,
                scored,
                fps=FPS,
                scene_index=tr.scene_index,
                bbox=bbox,
                smoothed_center_x=geom.center_x.tolist(),
                smoothed_center_y=geom.center_y.tolist(),
                smoothed_half_size=geom.half_size.tolist(),
                mean_box=[float(x) for x in tr.boxes[:, :4].mean(axis=0)],
            )
            if asd is not None:
                # One "asd" stage per track, after its SyncNet stages (the MFCC of the whole audio
                # once, inside the first: it was a separate "asd" stage of ~0 s before any track).
                with timer.stage("asd", total=stop - first):
                    if audio_mfcc is None:
                        audio_mfcc = mfcc(audio)
                    frames = iter_frames(crop.video, jpeg_roundtrip=False)
                    faces = asd_faces(np.concatenate(list(frames)))
                    start = tr.first_frame * MFCC_PER_FRAME
                    logits = asd.score(faces, audio_mfcc[start:], on_frames=timer.advance)
                    track = with_asd_scores(track, logits, FPS)
            results.append(with_sync_timeline(track, FPS) if track.asd_scores is None else track)
    return results


def run_recipe(
    spec: RecipeSpec, parts: Collaborators, request: RecipeRequest, timer: Timer
) -> VideoResult:
    """The registry's entry point (``syncnet-pipeline``)."""
    return score_face_tracks(
        request.path,
        embedder=parts.embedder,
        detector=parts.face_detector() if request.detections is None else None,
        score_config=parts.score_config,
        pipeline_config=parts.pipeline_config,
        timer=timer,
        audio_path=request.audio_path,
        detections=request.detections,
        save_detections_to=request.save_detections,
        save_crops=request.save_crops,
        crops_name=request.crops_name,
        asd=parts.active_speaker_scorer(),
    )


def score_face_tracks(
    path: Path,
    *,
    embedder: Embedder,
    detector: FaceDetector | None,
    score_config: ScoreConfig,
    pipeline_config: PipelineConfig,
    timer: Timer,
    audio_path: Path | None = None,
    detections: list[np.ndarray] | None = None,
    save_detections_to: Path | None = None,
    save_crops: Path | None = None,
    crops_name: str | None = None,
    asd: ActiveSpeakerScorer | None = None,
) -> VideoResult:
    """Score every face track of ``path`` (see the module docstring for the steps).

    Args:
        path: the video.
        embedder: SyncNet on its device.
        detector: the face detector (``None`` only when ``detections`` are given).
        score_config: scoring settings.
        pipeline_config: detection, tracking and cropping settings.
        timer: where the stage times go.
        audio_path: score against this file's audio instead of the video's own.
        detections: precomputed boxes per frame of the 25 fps stream, instead of a detector.
        save_detections_to: write the boxes used to this JSON file.
        save_crops: write each track's crop video (with audio) into this directory.
        crops_name: name of the crop videos there (see :func:`score_crops`).
        asd: the active-speaker model (``--asd``), or ``None``.

    Returns:
        ``ok`` with every track's numbers, or ``no_face``/``too_short`` with the reason (and the
        scenes found).

    Raises:
        InputError: (or a subclass) when the input cannot be read.
    """
    cfg = pipeline_config
    with tempfile.TemporaryDirectory(prefix="syncnet-eval-") as tmpdir:
        workdir = Path(tmpdir)
        with timer.stage("decode"):  # one stage: probe and transcode (one progress line)
            info = probe_media(path)
            check_audio_source(path, info, audio_path)
            media = transcode(path, workdir, audio_path)
        warnings: list[str] = []
        # Converting to 25 fps is what this recipe does to every input, as the reference does:
        # the input's rate is in the provenance (input_fps), not a warning. An unknown one is.
        if not info.fps:
            warnings.append(f"{path}: frame rate unknown; converted to {FPS} fps")
        with timer.stage("scenes"):
            scenes = find_scenes(media.avi, cfg)
        cache = JpegCache(workdir / "frames.mjpeg")
        with timer.stage("detection", total=_expected_frames(info)):
            if detections is not None:
                boxes = FaceBoxes(detections, len(detections), "injected")
                _check_detections_length(path, boxes, count_dump(media.avi, cache))
            elif detector is not None:
                boxes = find_faces(media.avi, detector, cfg, cache, on_frames=timer.advance)
            else:
                raise ValueError("the face-track recipe needs a detector or detections")
            if save_detections_to is not None:
                save_detections(save_detections_to, boxes.per_frame)
        if boxes.num_frames == 0 or scenes.num_frames == 0:
            raise DecodeError(f"{path}: no video frames could be decoded")

        provenance = input_provenance(
            info,
            num_frames=boxes.num_frames,
            num_frames_opencv=scenes.num_frames,
            samples=int(media.audio.size),
            audio_path=audio_path,
            detections=boxes.source,
        )
        if detections is None and detector is not None:
            # The weights that found these boxes (S3FD's path, sha256, official flag).
            provenance.update(detector_provenance(detector))
        scene_lists = [list(s) for s in scenes.scenes]
        with timer.stage("tracking_crop"):
            tracking = track_scenes(
                boxes.per_frame,
                scenes.scenes,
                min_track=cfg.min_track,
                num_failed_det=cfg.num_failed_det,
                min_face_size=cfg.min_face_size,
            )
            if not tracking.tracks:
                err = _no_track_error(path, tracking, boxes, cfg, provenance)
                return VideoResult(
                    path=str(path),
                    status=err.status,
                    reason=str(err),
                    reason_code=err.code,
                    recipe=RECIPE,
                    scenes=scene_lists,
                    warnings=warnings,
                    provenance=provenance,
                )
            crops = crop_tracks(media.avi, cache, tracking.tracks, cfg, workdir, path)
        tracks = score_crops(
            crops,
            media.audio,
            embedder=embedder,
            score_config=score_config,
            timer=timer,
            source=path,
            save_crops=save_crops,
            crops_name=crops_name,
            asd=asd,
            crop_scale=cfg.crop_scale,
        )
    warnings += _source_length_warnings(path, info)
    if not tracks:
        return VideoResult(
            path=str(path),
            status="too_short",
            reason=f"{path}: no track has audio to score",
            recipe=RECIPE,
            scenes=scene_lists,
            warnings=warnings,
            provenance=provenance,
        )
    try:
        offset, lse_d, lse_c = aggregate_tracks(tracks, cfg.track_select)
        selected = selected_tracks(tracks, cfg.track_select)
    except ValueError as exc:  # index:N naming a track this video does not have
        # Faces were found and scored: an error of the rule, not no_face; the tracks stay in the
        # record so that it shows which indices there are to choose from.
        return VideoResult(
            path=str(path),
            status="error",
            reason=f"{path}: {exc}",
            reason_code="track_not_found",
            recipe=RECIPE,
            track_select=cfg.track_select,
            tracks=tracks,
            scenes=scene_lists,
            warnings=warnings,
            provenance=provenance,
        )
    flags = track_flags(selected, score_config.vshift)
    flags |= audio_flags(media.audio)
    if media.messages or frames_missing(scenes.num_frames, info.num_frames, info.fps):
        flags.add("decode_incomplete")
        warnings.append(
            f"{path}: incomplete decode ({scenes.num_frames} frames at 25 fps from "
            f"{info.num_frames or 'an unknown number of'} declared at {info.fps} fps"
            + (f"; the decoder reported: {media.messages[-1]}" if media.messages else "")
            + "); the numbers may not describe it"
        )
    return VideoResult(
        path=str(path),
        status="ok",
        reason=None,
        recipe=RECIPE,
        av_offset=offset,
        lse_d=lse_d,
        lse_c=lse_c,
        aggregate=cfg.track_select,
        track_select=cfg.track_select,
        tracks=tracks,
        scenes=scene_lists,
        warnings=warnings,
        provenance=provenance,
        flags=ordered_flags(flags),
        av_offset_ms=offset_ms(offset, FPS),
        selected_track=selected[0].index if len(selected) == 1 else None,
    )


def _expected_frames(info: MediaInfo) -> int | None:
    """About how many frames the 25 fps stream of ``info`` has (for progress)."""
    if info.num_frames and info.fps:
        return round(info.num_frames * FPS / info.fps)
    return round(info.duration_s * FPS) if info.duration_s else None


def count_dump(avi: Path, cache: JpegCache) -> int:
    """Frames of the q2 JPEG dump (the frames detections index), recorded into ``cache`` for
    the crop pass (so the dump is not made twice)."""
    return sum(1 for _ in cache.record(iter_jpegs(avi, REFERENCE_QSCALE)))


def _check_detections_length(path: Path, boxes: FaceBoxes, num_frames: int) -> None:
    """Injected boxes must index the q2 dump frame for frame (the reference's detections do:
    one list per dumped JPEG)."""
    if boxes.num_frames != num_frames:
        raise InputError(
            f"{path}: the detections cover {boxes.num_frames} frames but its 25 fps stream has "
            f"{num_frames}; they were made for another video or another frame rate (save them "
            "with --save-detections from the same video)"
        )


def _no_track_error(
    path: Path,
    tracking: TrackingResult,
    boxes: FaceBoxes,
    cfg: PipelineConfig,
    provenance: dict[str, Any],
) -> InputError:
    """Why no track survived, as the error whose status the record gets."""
    n_frames = boxes.num_frames
    n_with_face = sum(1 for d in boxes.per_frame if len(d))
    if n_with_face == 0:
        reason = f"{path}: no face detected in any of its {n_frames} frames"
        if provenance.get("s3fd_weights_official") is False:
            reason += (
                " by S3FD weights that are not the official "
                f"{OFFICIAL_WEIGHTS['s3fd'].filename} "
                f"({provenance['s3fd_weights']}); score with the official file (drop "
                "--s3fd-weights) before concluding there is no face"
            )
        return NoFaceError(reason)
    if tracking.num_rejected_small and not tracking.longest_rejected:
        return NoFaceError(
            f"{path}: faces too small: largest track's mean face size "
            f"{tracking.largest_rejected_face_px:.0f} px <= --min-face-size {cfg.min_face_size}",
            code="faces_too_small",
        )
    longest = tracking.longest_rejected
    if not longest and tracking.skipped_scenes:
        longest_scene = max(e - s for s, e in tracking.skipped_scenes)
        return TooShortError(
            f"{path}: every scene is shorter than --min-track {cfg.min_track} frames (longest "
            f"scene: {longest_scene} frames, {n_with_face} of {n_frames} frames with a face)"
        )
    return TooShortError(
        f"{path}: no face track lasts more than --min-track {cfg.min_track} frames "
        f"(longest track: {longest} frames, {n_with_face} of {n_frames} frames with a face)"
    )


def _source_length_warnings(path: Path, info: MediaInfo) -> list[str]:
    """Audio/video length mismatch of the *source* (the transcode adds MP3 padding of its own)."""
    if info.video_duration_s is None or info.audio_duration_s is None:
        return []
    gap = info.audio_duration_s - info.video_duration_s
    if abs(gap) <= 1 / FPS:
        return []
    return [
        f"{path}: audio ({info.audio_duration_s:.3f} s) and video ({info.video_duration_s:.3f} s)"
        " lengths differ by more than one frame"
    ]
