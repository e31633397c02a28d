"""SyncPipeline: one object holding the models, scoring videos by recipe."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
import logging
from pathlib import Path
import platform
import time

import cv2
import numpy as np
import torch

from . import __version__
from .audio import mfcc
from .config import (
    AUDIO_SAMPLES_PER_FRAME,
    FPS,
    LIP_SIZE_PX,
    RECIPES,
    PipelineConfig,
    ScoreConfig,
)
from .decode import MediaInfo, ffmpeg_version, iter_frames, prefetch, probe_media, read_audio
from .device import resolve_device
from .embed import SyncNetEmbedder, num_windows
from .errors import ConfigError, InputError, SyncEvalError
from .models.syncnet import LIP_MAX_SIDE_PX, LIP_MIN_SIDE_PX, SyncNet, load_syncnet_state
from .scoring import OffsetScores, score_offsets
from .types import TrackResult, VideoResult

__all__ = ["SyncPipeline", "score_video"]

log = logging.getLogger(__name__)


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def wrap(self, stage: str, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Charge the time spent producing each chunk to ``stage``."""
        it = iter(chunks)
        while True:
            t0 = time.perf_counter()
            try:
                chunk = next(it)
            except StopIteration:
                self.add(stage, time.perf_counter() - t0)
                return
            self.add(stage, time.perf_counter() - t0)
            yield chunk


class SyncPipeline:
    """Scores videos with SyncNet; holds the loaded models so many videos share them.

    Args:
        score_config: scoring settings (vshift, batch size, JPEG round trip, device).
        pipeline_config: in-the-wild recipe settings.
        syncnet_weights: explicit SyncNet state-dict file (else the weights manager finds or
            downloads the official one).
        s3fd_weights: explicit S3FD file for the pipeline recipe.
        offline: never download weights.
        progress: show a download progress bar on stderr.
    """

    def __init__(
        self,
        score_config: ScoreConfig | None = None,
        pipeline_config: PipelineConfig | None = None,
        *,
        syncnet_weights: str | Path | None = None,
        s3fd_weights: str | Path | None = None,
        offline: bool = False,
        progress: bool = True,
    ) -> None:
        from .models import weights as wm

        self.score_config = score_config or ScoreConfig()
        self.pipeline_config = pipeline_config or PipelineConfig()
        self.device = resolve_device(self.score_config.device)
        self._offline = offline
        self._progress = progress
        self._s3fd_weights = Path(s3fd_weights) if s3fd_weights else None
        self._detector = None
        path = wm.resolve_weights(
            "syncnet",
            Path(syncnet_weights) if syncnet_weights else None,
            offline=offline,
            progress=progress,
        )
        model = SyncNet()
        load_syncnet_state(model, wm.load_state_dict(path), str(path))
        self.syncnet_weights_path = path
        self.syncnet_weights_sha256 = wm.file_sha256(path)
        self.embedder = SyncNetEmbedder(
            model, self.device, self.score_config.batch_size, self.score_config.precision
        )

    # -- public -------------------------------------------------------------------------------

    def evaluate(
        self,
        path: str | Path,
        recipe: str = "syncnet-pipeline",
        *,
        audio_path: str | Path | None = None,
        detections: list[np.ndarray] | None = None,
        save_detections: str | Path | None = None,
        save_crops: str | Path | None = None,
        raise_unexpected: bool = False,
    ) -> VideoResult:
        """Score one video. Problems with the input become a status, never an exception.

        Args:
            path: video file.
            recipe: ``syncnet-pipeline`` (detect + track + crop), ``direct`` (frames as they
                are) or ``wav2lip-lrs`` (frames resized to 224x224).
            audio_path: score against this audio file instead of the video's own track.
            detections: precomputed per-frame (K, 5) boxes for the pipeline recipe, indexing
                its 25 fps stream.
            save_detections: write the boxes used by the pipeline recipe to this JSON file.
            save_crops: write each track's crop video (with audio) into this directory.
            raise_unexpected: re-raise unexpected exceptions instead of recording them.

        Returns:
            A ``VideoResult``; ``status`` says whether it was scored.
        """
        if recipe not in RECIPES:
            raise ConfigError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        timer = _Timer()
        t0 = time.perf_counter()
        try:
            if recipe == "syncnet-pipeline":
                from .full import run_full_pipeline

                result = run_full_pipeline(
                    self,
                    Path(path),
                    timer,
                    audio_path=audio_path,
                    detections=detections,
                    save_detections_to=Path(save_detections) if save_detections else None,
                    save_crops=Path(save_crops) if save_crops else None,
                )
            else:
                result = self._evaluate_direct(Path(path), recipe, timer, audio_path)
        except InputError as exc:
            result = VideoResult.failure(str(path), recipe, exc.status, str(exc))
        except SyncEvalError:
            raise  # weights, dependencies, configuration: not the input's fault, stop here
        except Exception as exc:  # noqa: BLE001 - a batch records it and goes on
            if raise_unexpected:
                raise
            log.debug("unexpected error on %s", path, exc_info=True)
            result = VideoResult.failure(
                str(path), recipe, "error", f"{path}: unexpected {type(exc).__name__}: {exc}"
            )
        timer.add("total", time.perf_counter() - t0)
        return _with_timings(result, timer.timings)

    def face_detector(self):
        """The pipeline's face detector, built on first use (S3FD weights load lazily)."""
        if self._detector is None:
            from .faces import get_detector

            self._detector = get_detector(
                self.pipeline_config.detector,
                weights=self._s3fd_weights,
                device=self.device,
                facedet_scale=self.pipeline_config.facedet_scale,
                offline=self._offline,
            )
        return self._detector

    # -- recipes ------------------------------------------------------------------------------

    def _evaluate_direct(
        self, path: Path, recipe: str, timer: _Timer, audio_path: str | Path | None
    ) -> VideoResult:
        t = time.perf_counter()
        info = probe_media(path)
        if recipe == "direct":
            _check_lip_size(path, info.width or 0, info.height or 0)
        audio_src = Path(audio_path) if audio_path else path
        if audio_path:
            probe_audio_file(audio_src)
        elif not info.has_audio:
            raise InputError(f"{path}: no audio stream", status="no_audio")
        warns = _fps_warnings(path, info)
        audio = read_audio(audio_src)
        timer.add("decode", time.perf_counter() - t)

        t = time.perf_counter()
        cc = mfcc(audio)
        timer.add("mfcc", time.perf_counter() - t)

        counter = _FrameCounter()
        chunks = iter_frames(path, jpeg_roundtrip=self.score_config.jpeg_roundtrip)
        if recipe == "wav2lip-lrs":
            chunks = map(_resize_224, chunks)  # in the decode thread: only 224 px is queued
        chunks = timer.wrap("decode", prefetch(chunks))
        max_w = max(0, audio.size // AUDIO_SAMPLES_PER_FRAME - 5)
        t = time.perf_counter()
        decode_before = timer.timings.get("decode", 0.0)
        expected = info.num_frames - 4 if info.num_frames else None
        lips = self.embedder.embed_lips(
            counter.count(chunks), max_windows=max_w, expected_windows=expected
        )
        n_frames = counter.total
        n_win = num_windows(n_frames, audio.size)
        _check_windows(path, n_frames, audio.size, n_win)
        audio_emb = self.embedder.embed_audio(cc, n_win)
        decode_during = timer.timings.get("decode", 0.0) - decode_before
        timer.add("embeddings", time.perf_counter() - t - decode_during)
        warns += _length_warnings(path, n_frames, audio.size)

        t = time.perf_counter()
        scores = score_offsets(lips[:n_win], audio_emb, self.score_config.vshift)
        timer.add("scoring", time.perf_counter() - t)
        track = track_result(0, 0, n_frames - 1, scores)
        return VideoResult(
            path=str(path),
            status="ok",
            reason=None,
            recipe=recipe,
            av_offset=track.av_offset,
            lse_d=track.lse_d,
            lse_c=track.lse_c,
            aggregate="best",
            tracks=[track],
            warnings=warns,
            provenance=self.provenance(
                info, recipe, n_frames=n_frames, samples=audio.size, audio_path=audio_path
            ),  # fmt: skip
        )

    # -- shared helpers -----------------------------------------------------------------------

    def provenance(self, info: MediaInfo, recipe: str, **extra) -> dict:
        """What produced a result: weights, versions, device, configuration, input stream."""
        prov = {
            "syncnet_weights": str(self.syncnet_weights_path),
            "syncnet_weights_sha256": self.syncnet_weights_sha256,
            "device": str(self.device),
            "recipe": recipe,
            "tool_version": __version__,
            "torch": torch.__version__,
            "ffmpeg": ffmpeg_version(),
            "opencv": cv2.__version__,
            "python": platform.python_version(),
            "score_config": asdict(self.score_config),
            "input_fps": info.fps,
            "input_size": [info.width, info.height],
            "input_video_codec": info.video_codec,
            "input_audio_codec": info.audio_codec,
        }
        if recipe == "syncnet-pipeline":
            prov["pipeline_config"] = asdict(self.pipeline_config)
        prov.update({k: (str(v) if isinstance(v, Path) else v) for k, v in extra.items()})
        return prov


class _FrameCounter:
    def __init__(self) -> None:
        self.total = 0

    def count(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            self.total += len(chunk)
            yield chunk


def _resize_224(chunk: np.ndarray) -> np.ndarray:
    """Wav2Lip's ``cv2.resize(img, (224, 224))`` (INTER_LINEAR) on every frame."""
    if chunk.shape[1:3] == (LIP_SIZE_PX, LIP_SIZE_PX):
        return chunk
    return np.stack([cv2.resize(f, (LIP_SIZE_PX, LIP_SIZE_PX)) for f in chunk])


def _check_lip_size(path: Path, width: int, height: int) -> None:
    ok = (
        LIP_MIN_SIDE_PX <= width <= LIP_MAX_SIDE_PX and LIP_MIN_SIDE_PX <= height <= LIP_MAX_SIDE_PX
    )
    if not ok:
        raise InputError(
            f"{path}: frame size {width}x{height} cannot enter the lip stream unresized "
            f"(the direct recipe needs {LIP_MIN_SIDE_PX}-{LIP_MAX_SIDE_PX} px sides); use "
            "--recipe wav2lip-lrs (resize to 224x224) or --recipe syncnet-pipeline (detect and "
            "crop faces)",
            status="error",
        )


def _check_windows(path: Path, n_frames: int, n_samples: int, n_win: int) -> None:
    if n_win < 1:
        raise InputError(
            f"{path}: too short to score: {n_frames} frames and "
            f"{n_samples / 16000:.3f} s of audio give {n_win} windows (need at least 6 frames "
            "with audio)",
            status="too_short",
        )


def _fps_warnings(path: Path, info: MediaInfo) -> list[str]:
    if info.fps is None or abs(info.fps - FPS) > 1e-3:
        msg = (
            f"{path}: video is {info.fps or 'unknown'} fps, not 25; scored unconverted as the "
            "reference does (numbers are not meaningful; use --recipe syncnet-pipeline to convert)"
        )
        log.warning(msg)
        return [msg]
    return []


def _length_warnings(path: Path, n_frames: int, n_samples: int) -> list[str]:
    video_s, audio_s = n_frames / FPS, n_samples / 16000
    if abs(video_s - audio_s) > 1 / FPS:
        msg = (
            f"{path}: audio ({audio_s:.3f} s) and video ({video_s:.3f} s) lengths differ by more "
            "than one frame; windows beyond the shorter one are not scored"
        )
        log.warning(msg)
        return [msg]
    return []


def probe_audio_file(path: Path) -> None:
    """Check that a separate audio file exists and has an audio stream."""
    import av

    if not path.exists():
        raise InputError(f"{path}: audio file not found", status="error")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(f"{path}: no audio stream", status="no_audio")
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a readable audio file ({exc})") from exc


def track_result(index: int, first: int, last: int, scores: OffsetScores, **extra) -> TrackResult:
    """A ``TrackResult`` from an ``OffsetScores`` and its frame span."""
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
        **extra,
    )


def _with_timings(result: VideoResult, timings: dict[str, float]) -> VideoResult:
    from dataclasses import replace

    return replace(result, timings_s={k: round(v, 4) for k, v in timings.items()})


def score_video(
    path: str | Path,
    recipe: str = "syncnet-pipeline",
    *,
    score_config: ScoreConfig | None = None,
    pipeline_config: PipelineConfig | None = None,
    syncnet_weights: str | Path | None = None,
    s3fd_weights: str | Path | None = None,
    offline: bool = False,
    audio_path: str | Path | None = None,
) -> VideoResult:
    """Score one video (convenience wrapper building a one-off ``SyncPipeline``).

    Args:
        path: video file.
        recipe: ``syncnet-pipeline`` (default), ``direct`` or ``wav2lip-lrs``.
        score_config: scoring settings.
        pipeline_config: in-the-wild recipe settings.
        syncnet_weights: explicit SyncNet weights file.
        s3fd_weights: explicit S3FD weights file.
        offline: never download weights.
        audio_path: separate audio to score the video against.

    Returns:
        The ``VideoResult``.
    """
    pipe = SyncPipeline(
        score_config,
        pipeline_config,
        syncnet_weights=syncnet_weights,
        s3fd_weights=s3fd_weights,
        offline=offline,
    )
    return pipe.evaluate(path, recipe, audio_path=audio_path)
