"""Frozen configuration dataclasses: every default and paper constant lives here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
import hashlib
import json
from typing import Any

from .errors import ConfigError

__all__ = ["RECIPES", "AGGREGATES", "DETECTORS", "ScoreConfig", "PipelineConfig"]

RECIPES = ("syncnet-pipeline", "direct", "wav2lip-lrs")
AGGREGATES = ("best", "mean", "longest")
DETECTORS = ("s3fd", "hog")
PRECISIONS = ("fp32", "bf16", "fp16")

FPS = 25  # SyncNet's video rate: one lip window = 5 frames = 0.2 s
WINDOW_FRAMES = 5
AUDIO_SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
LIP_SIZE_PX = 224  # frames the lip stream was trained on (wav2lip-lrs resizes to this)
MIN_WINDOWS_FRAMES = WINDOW_FRAMES + 1  # the reference drops the last window start


@dataclass(frozen=True)
class ScoreConfig:
    """Settings of the SyncNet scoring stage (spec sections 1.1, 5-7).

    Attributes:
        vshift: largest AV offset searched, frames (reference: 15).
        batch_size: windows per forward pass (speed only).
        jpeg_roundtrip: reproduce the reference's default-quality JPEG dump of every frame.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
    """

    vshift: int = 15
    batch_size: int = 64
    jpeg_roundtrip: bool = True
    device: str = "auto"
    precision: str = "fp32"  # fp32 = the reference's numbers; bf16/fp16 are opt-in fast modes

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 1 <= self.vshift <= 100:
            raise ConfigError(f"vshift must be within 1..100, got {self.vshift}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be positive, got {self.batch_size}")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the in-the-wild recipe (spec sections 1.2-4), reference defaults."""

    min_track: int = 100  # frames; a track needs more detections than this
    min_face_size: int = 100  # px; mean box side must exceed this
    num_failed_det: int = 25  # frames a track may go without a detection
    crop_scale: float = 0.4  # crop margin around the face
    facedet_scale: float = 0.25  # S3FD input downscale
    detector: str = "s3fd"
    aggregate: str = "best"
    scene_threshold: float = 30.0  # PySceneDetect 0.5.1 ContentDetector default
    scene_min_len: int = 15  # frames between cuts
    detect_every: int = 1  # fast mode: detect on every Nth frame, interpolate between (opt-in)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ConfigError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if self.min_track < 1 or self.num_failed_det < 1 or self.min_face_size < 0:
            raise ConfigError("min_track and num_failed_det must be positive, min_face_size >= 0")
        if self.detect_every < 1:
            raise ConfigError(f"detect_every must be >= 1, got {self.detect_every}")
        if not 0 < self.facedet_scale <= 1:
            raise ConfigError(f"facedet_scale must be in (0, 1], got {self.facedet_scale}")
        if self.crop_scale < 0:
            raise ConfigError(f"crop_scale must be >= 0, got {self.crop_scale}")


def config_hash(*configs: Any) -> str:
    """Short stable hash of dataclass configs (for resume and provenance)."""
    blob = json.dumps([asdict(c) for c in configs], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
