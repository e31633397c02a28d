"""The in-the-wild recipe (``syncnet-pipeline``): run_pipeline.py + run_syncnet.py, in memory.

Stages (REFERENCE_PIPELINE.md 1.2-4): 25 fps transcode (mpeg4 q2 + MP3 in AVI, as the
reference), q2 JPEG frames, scene detection on the OpenCV decode of the transcode, face detection
on every frame, IOU tracking, 13-tap smoothing, 224x224 crops through an XVID encode, then the
scorer of the direct recipe on every crop with its slice of the audio.

Only the transcode, the q2 JPEG dump and the per-track crop videos touch the disk, inside a
private temporary directory (the lossy encodes are part of the reference's numbers); the dump is
encoded once, during detection, and read back by the crop pass. Nothing is left behind unless
``save_crops`` asks for it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
import json
import logging
from pathlib import Path
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .audio import mfcc
from .config import AUDIO_SAMPLES_PER_FRAME, FPS, LIP_SIZE_PX
from .crop import CropGeometry, crop_face, smooth_track
from .decode import (
    MediaInfo,
    chunked,
    decode_jpeg,
    decode_jpegs,
    ffmpeg_executable,
    iter_frames,
    iter_jpegs,
    prefetch,
    probe_media,
)
from .embed import num_windows
from .errors import InputError
from .scenes import SceneCutDetector
from .scoring import score_offsets
from .tracking import Track, track_scenes
from .types import TrackResult, VideoResult

if TYPE_CHECKING:
    from .pipeline import SyncPipeline, _Timer

__all__ = ["run_full_pipeline", "load_detections", "save_detections", "aggregate_tracks"]

log = logging.getLogger(__name__)

_DETECT_CHUNK_FRAMES = 32  # q2 frames per detector batch (and per crop-pass chunk)
_TRANSCODE_QSCALE = "2"  # run_pipeline.py: -qscale:v 2 for the AVI and for the JPEG dump


def load_detections(path: Path) -> list[np.ndarray]:
    """Read ``{"frames": [[[x1, y1, x2, y2, score], ...], ...]}`` into per-frame (K, 5) arrays.

    Raises:
        InputError: when the file is not in that format.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        frames = doc["frames"]
        out = []
        for boxes in frames:
            arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
            out.append(arr)
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a detections file ({{'frames': [[[x1, y1, x2, y2, score], ...], ...]}}):"
            f" {exc}",
            status="error",
        ) from exc


def save_detections(path: Path, detections: Sequence[np.ndarray]) -> None:
    """Write per-frame boxes in the ``--detections`` format, atomically."""
    from .io import atomic_write_text

    doc = {"frames": [[[float(v) for v in box] for box in dets] for dets in detections]}
    atomic_write_text(Path(path), json.dumps(doc) + "\n")


def _run_ffmpeg(args: list[str], path: Path) -> bytes:
    cmd = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"{path}: ffmpeg failed ({lines[-1] if lines else 'no message'})")
    return proc.stdout


def _transcode(src: Path, dst: Path, audio_path: Path | None) -> None:
    """``ffmpeg -i INPUT -qscale:v 2 -async 1 -r 25 video.avi`` (AVI defaults: mpeg4 + MP3)."""
    args = ["-i", str(src)]
    if audio_path is not None:
        args += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0"]
    args += ["-qscale:v", _TRANSCODE_QSCALE, "-async", "1", "-r", str(FPS), str(dst)]
    _run_ffmpeg(args, src)


def _read_transcoded_audio(avi: Path, src: Path) -> np.ndarray:
    """``ffmpeg -i video.avi -ac 1 -vn -acodec pcm_s16le -ar 16000`` (no -async here)."""
    data = _run_ffmpeg(
        ["-i", str(avi), "-map", "0:a:0", "-ac", "1", "-vn", "-acodec", "pcm_s16le",
         "-ar", "16000", "-f", "s16le", "pipe:1"], src,
    )  # fmt: skip
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


class _JpegCache:
    """The q2 JPEG dump, kept once in the temporary directory (as the reference's frame files).

    The detection pass records every JPEG while it reads ffmpeg's stream; the crop pass then
    reads them back instead of decoding and re-encoding the transcode a second time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ends: list[int] = []
        self.complete = False

    def record(self, jpegs: Iterator[bytes]) -> Generator[bytes, None, None]:
        """Pass ``jpegs`` through, appending each to the cache; complete once exhausted."""
        with open(self.path, "wb") as f:
            pos = 0
            for jpeg in jpegs:
                f.write(jpeg)
                pos += len(jpeg)
                self._ends.append(pos)
                yield jpeg
        self.complete = True

    def replay(self) -> Generator[bytes, None, None]:
        """The recorded JPEGs, in order."""
        assert self.complete
        with open(self.path, "rb") as f:
            start = 0
            for end in self._ends:
                yield f.read(end - start)
                start = end


def _iter_q2_frames(
    avi: Path, cache: _JpegCache | None = None, chunk_frames: int = _DETECT_CHUNK_FRAMES
) -> Iterator[np.ndarray]:
    """The reference's ``-qscale:v 2`` JPEG dump of the transcode, decoded like cv2.imread."""
    if cache is not None and cache.complete:
        jpegs = cache.replay()
    else:
        jpegs = iter_jpegs(avi, _TRANSCODE_QSCALE)
    yield from decode_jpegs(jpegs, avi, chunk_frames)


def _opencv_scenes(avi: Path, pipe: SyncPipeline) -> tuple[list[tuple[int, int]], int]:
    """Scenes on OpenCV's decode of the transcode (it can see one frame fewer than the dump)."""
    cfg = pipe.pipeline_config
    detector = SceneCutDetector(threshold=cfg.scene_threshold, min_scene_len=cfg.scene_min_len)
    cap = cv2.VideoCapture(str(avi))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            detector.add_frame(frame)
    finally:
        cap.release()
    return detector.scenes(), detector.num_frames


def _detect_all(avi: Path, pipe: SyncPipeline, cache: _JpegCache) -> tuple[list[np.ndarray], int]:
    """Detect faces on every frame, or on every Nth (``detect_every``) and interpolate.

    Every JPEG of the dump is recorded into ``cache`` for the crop pass; with ``detect_every``
    only the key frames are decoded.
    """
    detector = pipe.face_detector()
    every = pipe.pipeline_config.detect_every
    jpegs = cache.record(iter_jpegs(avi, _TRANSCODE_QSCALE))
    if every == 1:
        dets: list[np.ndarray] = []
        for chunk in prefetch(decode_jpegs(jpegs, avi, _DETECT_CHUNK_FRAMES)):
            dets.extend(detector.detect(chunk))
        return dets, len(dets)
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
    if last is not None and num_frames - 1 not in keyed:
        keyed[num_frames - 1] = detector.detect(decode_jpeg(last, avi)[None])[0]
    return interpolate_keyframes(keyed, num_frames), num_frames


def interpolate_keyframes(
    keyed: dict[int, np.ndarray], num_frames: int, iou_threshold: float = 0.5
) -> list[np.ndarray]:
    """Per-frame boxes from boxes on key frames (fast mode ``--detect-every``).

    Between consecutive key frames each box is matched to the best-overlapping box of the next
    key frame (IoU above ``iou_threshold``, the tracker's own rule) and its corners and score are
    interpolated linearly; an unmatched box is kept on its key frame only.

    Args:
        keyed: key frame index -> (K, 5) ``[x1, y1, x2, y2, score]``.
        num_frames: frames in the stream.

    Returns:
        ``num_frames`` arrays (K, 5), best score first.
    """
    from .tracking import iou

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


class _CropWriter:
    """An XVID AVI encoder bit-exact with the reference's ``cv2.VideoWriter`` (OpenCV 4.8.1).

    OpenCV 4.8.1 bundles FFmpeg 5.1 and sets bit_rate = bit_rate_tolerance = 2 * fps * w * h,
    qmin 3, gop 12, one thread, BGR24 -> YUV420P through swscale. The same settings on the ffmpeg
    5.1 CLI reproduce its packets exactly, whereas OpenCV 5's own writer (newer swscale) moves
    pixels by up to 27 levels (scripts/study_xvid_writer.py).
    """

    def __init__(self, path: Path, size_px: int = LIP_SIZE_PX, fps: int = FPS) -> None:
        bitrate = str(2 * fps * size_px * size_px)
        cmd = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{size_px}x{size_px}",
               "-r", str(fps), "-i", "pipe:0", "-c:v", "mpeg4", "-vtag", "XVID",
               "-pix_fmt", "yuv420p", "-b:v", bitrate, "-bt", bitrate, "-qmin", "3", "-g", "12",
               "-threads", "1", "-filter_threads", "1", str(path)]  # fmt: skip
        self.path = path
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)  # fmt: skip

    def write(self, frame_bgr: np.ndarray) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(np.ascontiguousarray(frame_bgr).tobytes())

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        stderr = self._proc.stderr.read() if self._proc.stderr else b""
        if self._proc.wait() != 0:
            raise InputError(f"{self.path}: crop encoding failed ({stderr.decode()[-200:]})")
        if self._proc.stderr:
            self._proc.stderr.close()

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def _write_crops(
    avi: Path,
    cache: _JpegCache,
    tracks: list[Track],
    geoms: list[CropGeometry],
    crop_scale: float,
    tmp: Path,
) -> list[Path]:
    """One pass over the q2 frames (cached, or dumped now), cropping every active track."""
    writers = [_CropWriter(tmp / f"{i:05d}t.avi") for i in range(len(tracks))]
    last_needed = max(t.last_frame for t in tracks)
    ok = False
    try:
        idx = 0
        for chunk in prefetch(_iter_q2_frames(avi, cache)):
            for frame in chunk:
                for t, g, w in zip(tracks, geoms, writers, strict=True):
                    if t.first_frame <= idx <= t.last_frame:
                        k = idx - t.first_frame
                        w.write(crop_face(frame, g.center_x[k], g.center_y[k], g.half_size[k],
                                          crop_scale=crop_scale))  # fmt: skip
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
    return [w.path for w in writers]


def _save_crop(crop_avi: Path, audio: np.ndarray, dest: Path, src: Path) -> None:
    """Mux a crop video with its audio slice into ``dest`` (atomically)."""
    import os

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_name(f".{dest.name}.tmp.avi")
    cmd = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-i", str(crop_avi),
           "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "pipe:0", "-c:v", "copy",
           "-c:a", "pcm_s16le", str(tmp_dest)]  # fmt: skip
    proc = subprocess.run(cmd, input=audio.astype("<i2").tobytes(), capture_output=True,
                          check=False)  # fmt: skip
    if proc.returncode != 0:
        raise InputError(f"{src}: could not write crop {dest}", status="error")
    os.replace(tmp_dest, dest)


def aggregate_tracks(tracks: list[TrackResult], rule: str) -> tuple[Any, float, float]:
    """Video-level (av_offset, lse_d, lse_c) from per-track results by ``rule``.

    ``best``: the track with the highest LSE-C, with its own LSE-D and offset (never mixed);
    ``mean``: means over tracks; ``longest``: the track with the most frames (first on ties).
    """
    if rule == "mean":
        return (
            float(np.mean([t.av_offset for t in tracks])),
            float(np.mean([t.lse_d for t in tracks])),
            float(np.mean([t.lse_c for t in tracks])),
        )
    if rule == "longest":
        chosen = max(tracks, key=lambda t: (t.num_frames, -t.index))
    else:
        chosen = max(tracks, key=lambda t: (t.lse_c, -t.index))
    return chosen.av_offset, chosen.lse_d, chosen.lse_c


def _no_track_reason(path: Path, result, n_frames: int, n_with_face: int, cfg) -> tuple[str, str]:
    if n_with_face == 0:
        return "no_face", f"{path}: no face detected in any of {n_frames} frames"
    if result.num_rejected_small and not result.longest_rejected:
        return "no_face", (
            f"{path}: faces too small: largest track's mean face size "
            f"{result.largest_rejected_face_px:.0f} px <= --min-face-size {cfg.min_face_size}"
        )
    longest = result.longest_rejected
    if not longest and result.skipped_scenes:
        longest_scene = max(e - s for s, e in result.skipped_scenes)
        return "too_short", (
            f"{path}: every scene is shorter than --min-track {cfg.min_track} frames (longest "
            f"scene: {longest_scene} frames, {n_with_face} of {n_frames} frames with a face)"
        )
    return "too_short", (
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


def run_full_pipeline(
    pipe: SyncPipeline,
    path: Path,
    timer: _Timer,
    *,
    audio_path: str | Path | None = None,
    detections: list[np.ndarray] | None = None,
    save_detections_to: Path | None = None,
    save_crops: Path | None = None,
) -> VideoResult:
    """Score every face track of ``path`` (see module docstring)."""
    from .pipeline import probe_audio_file, track_result

    cfg = pipe.pipeline_config
    scfg = pipe.score_config
    t = time.perf_counter()
    info: MediaInfo = probe_media(path)
    if audio_path is not None:
        probe_audio_file(Path(audio_path))
    elif not info.has_audio:
        raise InputError(f"{path}: no audio stream", status="no_audio")
    warns: list[str] = []
    if info.fps is None or abs(info.fps - FPS) > 1e-3:
        warns.append(f"{path}: converted from {info.fps or 'unknown'} fps to {FPS} fps")

    with tempfile.TemporaryDirectory(prefix="syncnet-eval-") as tmpdir:
        tmp = Path(tmpdir)
        avi = tmp / "video.avi"
        _transcode(path, avi, Path(audio_path) if audio_path else None)
        audio = _read_transcoded_audio(avi, path)
        timer.add("decode", time.perf_counter() - t)

        t = time.perf_counter()
        scenes, n_cv_frames = _opencv_scenes(avi, pipe)
        timer.add("scenes", time.perf_counter() - t)

        t = time.perf_counter()
        det_source = "injected" if detections is not None else cfg.detector
        cache = _JpegCache(tmp / "frames.mjpeg")
        if detections is None:
            detections, n_frames = _detect_all(avi, pipe, cache)
        else:
            n_frames = len(detections)
            # The dump can hold one or two frames more than OpenCV decodes (spec 1.2).
            if not n_cv_frames <= n_frames <= n_cv_frames + 2:
                warns.append(
                    f"{path}: the detections cover {n_frames} frames but the 25 fps stream has "
                    f"about {n_cv_frames}; boxes may not line up with the frames"
                )
        if save_detections_to is not None:
            save_detections(save_detections_to, detections)
        timer.add("detection", time.perf_counter() - t)
        if n_frames == 0 or n_cv_frames == 0:
            raise InputError(f"{path}: no video frames could be decoded")

        t = time.perf_counter()
        tracking = track_scenes(
            detections, scenes, min_track=cfg.min_track, num_failed_det=cfg.num_failed_det,
            min_face_size=cfg.min_face_size,
        )  # fmt: skip
        base = dict(
            path=str(path), recipe="syncnet-pipeline", scenes=[list(s) for s in scenes],
            provenance=pipe.provenance(info, "syncnet-pipeline", num_frames=n_frames,
                                       num_frames_opencv=n_cv_frames, samples=int(audio.size),
                                       audio_path=audio_path, detections=det_source),
        )  # fmt: skip
        if not tracking.tracks:
            n_with_face = sum(1 for d in detections if len(d))
            status, reason = _no_track_reason(path, tracking, n_frames, n_with_face, cfg)
            return VideoResult(status=status, reason=reason, warnings=warns, **base)
        geoms = [smooth_track(tr) for tr in tracking.tracks]
        crop_files = _write_crops(avi, cache, tracking.tracks, geoms, cfg.crop_scale, tmp)
        timer.add("tracking_crop", time.perf_counter() - t)

        track_results: list[TrackResult] = []
        for i, (tr, geom, crop_avi) in enumerate(
            zip(tracking.tracks, geoms, crop_files, strict=True)
        ):
            lo = tr.first_frame * AUDIO_SAMPLES_PER_FRAME
            hi = (tr.last_frame + 1) * AUDIO_SAMPLES_PER_FRAME
            track_audio = audio[lo:hi]
            if save_crops is not None:
                _save_crop(crop_avi, track_audio, Path(save_crops) / f"{path.stem}_{i:05d}.avi",
                           path)  # fmt: skip
            t = time.perf_counter()
            cc = mfcc(track_audio)
            chunks = prefetch(iter_frames(crop_avi, jpeg_roundtrip=scfg.jpeg_roundtrip))
            track_windows = tr.last_frame - tr.first_frame - 3
            lips = pipe.embedder.embed_lips(chunks, expected_windows=track_windows)
            n_win = num_windows(lips.shape[0] + 4, track_audio.size)
            if n_win < 1:
                continue
            audio_emb = pipe.embedder.embed_audio(cc, n_win)
            timer.add("embeddings", time.perf_counter() - t)
            t = time.perf_counter()
            scores = score_offsets(lips[:n_win], audio_emb, scfg.vshift)
            timer.add("scoring", time.perf_counter() - t)
            w = tr.boxes[:, 2] - tr.boxes[:, 0]
            h = tr.boxes[:, 3] - tr.boxes[:, 1]
            bbox = {
                "mean_width": float(w.mean()), "mean_height": float(h.mean()),
                "mean_center_x": float(geom.center_x.mean()),
                "mean_center_y": float(geom.center_y.mean()),
            }  # fmt: skip
            scene_index = None
            if tr.scene is not None and [*tr.scene] in base["scenes"]:
                scene_index = base["scenes"].index([*tr.scene])
            track_results.append(
                track_result(
                    i, tr.first_frame, tr.last_frame, scores, scene_index=scene_index, bbox=bbox,
                    smoothed_center_x=geom.center_x.tolist(),
                    smoothed_center_y=geom.center_y.tolist(),
                    smoothed_half_size=geom.half_size.tolist(),
                )
            )  # fmt: skip
    warns += _source_length_warnings(path, info)
    if not track_results:
        return VideoResult(status="too_short", reason=f"{path}: no track has audio to score",
                           warnings=warns, **base)  # fmt: skip
    off, lse_d, lse_c = aggregate_tracks(track_results, cfg.aggregate)
    return VideoResult(
        status="ok", reason=None, av_offset=off, lse_d=lse_d, lse_c=lse_c,
        aggregate=cfg.aggregate, tracks=track_results, warnings=warns, **base,
    )  # fmt: skip
