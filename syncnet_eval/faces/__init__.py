"""Face detectors: the :class:`FaceDetector` protocol and :func:`get_detector`.

Both detectors take a (N, H, W, 3) uint8 BGR batch and return, per frame, a (K, 5) float64 array
of [x1, y1, x2, y2, score] in pixels of that frame, best score first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import DETECTORS
from ..constants import FACEDET_SCALE
from ..device import resolve_device
from ..errors import ConfigError
from ..models.state import load_state_dict
from ..models.weights import resolve_weights, weights_provenance
from .base import FaceDetector, check_frame_batch, detector_provenance
from .hog import HOGDetector
from .s3fd import S3FDDetector

__all__ = [
    "DETECTOR_NAMES",
    "FaceDetector",
    "check_frame_batch",
    "detector_provenance",
    "get_detector",
]

logger = logging.getLogger(__name__)

DETECTOR_NAMES = DETECTORS


def get_detector(
    name: str,
    *,
    weights: Path | None = None,
    device: torch.device | str = "cpu",
    facedet_scale: float = FACEDET_SCALE,
    offline: bool = False,
    batch_size: int = 8,
) -> FaceDetector:
    """Build a face detector by name.

    Args:
        name: ``"s3fd"`` (the reference's detector) or ``"hog"`` (dlib, as the goldens used).
        weights: S3FD state dict file; ``None`` looks up (or downloads) the official
            ``sfd_face.pth``. Ignored by ``hog``.
        device: torch device for S3FD (``"auto"``, ``"cpu"``, ``"cuda:N"``...).
        facedet_scale: S3FD input downscale (reference 0.25).
        offline: never download weights.
        batch_size: frames per S3FD forward pass (speed and memory only).

    Returns:
        A :class:`FaceDetector`.

    Raises:
        ConfigError: for an unknown name or invalid settings.
        ModelWeightsError: S3FD weights missing, unreadable or of the wrong shape.
        DependencyError: ``hog`` without dlib installed.
    """
    if name == "s3fd":
        path = resolve_weights("s3fd", weights, offline=offline)
        state = load_state_dict(path)
        provenance = weights_provenance("s3fd", path)
        # Not official? The run's driver says so once per command (engines.scorer), with
        # the same words as for SyncNet's weights; the provenance records it in every record.
        resolved = device if isinstance(device, torch.device) else resolve_device(device)
        logger.debug("S3FD on %s, scale %g, batch %d", resolved, facedet_scale, batch_size)
        return S3FDDetector.from_state_dict(
            state,
            source=str(path),
            device=resolved,
            facedet_scale=facedet_scale,
            batch_size=batch_size,
            provenance=provenance,
        )
    if name == "hog":
        return HOGDetector()
    raise ConfigError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
