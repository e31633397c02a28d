"""syncnet-eval: SyncNet lip-sync scores (AV offset, LSE-D, LSE-C) with the reference's numbers."""

from __future__ import annotations

__version__ = "0.1.0"

from .config import PipelineConfig, ScoreConfig  # noqa: E402
from .errors import (  # noqa: E402
    ConfigError,
    DependencyError,
    InputError,
    ModelWeightsError,
    SyncEvalError,
)
from .pipeline import SyncPipeline, score_video  # noqa: E402
from .types import TrackResult, VideoResult  # noqa: E402

__all__ = [
    "__version__",
    "score_video",
    "SyncPipeline",
    "ScoreConfig",
    "PipelineConfig",
    "VideoResult",
    "TrackResult",
    "SyncEvalError",
    "InputError",
    "ModelWeightsError",
    "ConfigError",
    "DependencyError",
]
