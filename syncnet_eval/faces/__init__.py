"""Face detectors: the registry (:data:`REGISTRY`, :func:`get_detector`) and the
:class:`FaceDetector` protocol.

Every detector takes a (N, H, W, 3) uint8 BGR batch and returns, per frame, a (K, 5) float64
array of [x1, y1, x2, y2, score] in pixels of that frame, best score first.

- ``s3fd``: the reference's detector (:mod:`.s3fd`), its weights found or downloaded;
- ``hog``: dlib's HOG detector (:mod:`.hog`), as the goldens used; needs dlib.

This module is light (no numpy or torch): the configuration reads the registry's names for
``--detector``; a detector's module is imported when one is built. Adding a detector is one
:class:`DetectorSpec` entry here and its module with a ``build`` function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..constants import FACEDET_SCALE
from ..registry import choose, load

if TYPE_CHECKING:  # these load numpy and torch
    import torch

    from .base import FaceDetector, check_frame_batch, detector_provenance

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTOR_NAMES",
    "REGISTRY",
    "DetectorSpec",
    "FaceDetector",
    "check_frame_batch",
    "detector_provenance",
    "get_detector",
]


@dataclass(frozen=True)
class DetectorSpec:
    """One face detector of the registry.

    Attributes:
        name: the ``--detector`` value.
        help: one sentence saying what it is.
        needs_weights: its weights are found (or downloaded) by the run's driver, once.
        builder: ``module:function`` in this package building it from ``weights``,
            ``device``, ``facedet_scale``, ``offline`` and ``batch_size`` keywords.
    """

    name: str
    help: str
    needs_weights: bool
    builder: str

    def build(self, **settings: Any) -> FaceDetector:
        """The detector (its module is imported now)."""
        detector: FaceDetector = load(self.builder, __name__)(**settings)
        return detector


REGISTRY: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        DetectorSpec("s3fd", "S3FD, the reference's detector", True, ".s3fd:build"),
        DetectorSpec("hog", "dlib's HOG detector, as the goldens used", False, ".hog:build"),
    )
}
DETECTOR_NAMES: tuple[str, ...] = tuple(REGISTRY)
DEFAULT_DETECTOR = DETECTOR_NAMES[0]


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
    spec: DetectorSpec = choose(REGISTRY, name, "face detector")
    return spec.build(
        weights=weights,
        device=device,
        facedet_scale=facedet_scale,
        offline=offline,
        batch_size=batch_size,
    )


def __getattr__(name: str) -> Any:
    """The protocol and helpers of :mod:`.base`, imported on first use (numpy)."""
    if name in ("FaceDetector", "check_frame_batch", "detector_provenance"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
