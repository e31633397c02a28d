"""syncnet-eval: SyncNet lip-sync scores (AV offset, LSE-D, LSE-C) with the reference's numbers.

``SyncPipeline`` and ``score_video`` load torch; they are imported on first use so that the
configuration, result types and the command line's ``--help`` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import PipelineConfig, ScoreConfig
from .errors import (
    ConfigError,
    DecodeError,
    DependencyError,
    InputError,
    ModelWeightsError,
    NoAudioError,
    NoFaceError,
    SyncEvalError,
    TooShortError,
)
from .types import Status, TrackResult, VideoResult
from .version import __version__

if TYPE_CHECKING:
    from .pipeline import SyncPipeline, score_video

__all__ = [
    "__version__",
    "score_video",
    "SyncPipeline",
    "ScoreConfig",
    "PipelineConfig",
    "Status",
    "VideoResult",
    "TrackResult",
    "SyncEvalError",
    "InputError",
    "DecodeError",
    "NoAudioError",
    "NoFaceError",
    "TooShortError",
    "ModelWeightsError",
    "ConfigError",
    "DependencyError",
]

_LAZY = ("SyncPipeline", "score_video")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import pipeline  # torch: loaded when a model is first needed

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
