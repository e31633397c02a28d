"""What every face detector is: the :class:`FaceDetector` protocol and its input check."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["FaceDetector", "check_frame_batch", "detector_provenance"]


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in a batch of frames."""

    name: str

    def detect(self, frames_bgr: np.ndarray) -> list[np.ndarray]:
        """Detect faces in every frame.

        Args:
            frames_bgr: (N, H, W, 3) uint8 BGR frames, all the same size.

        Returns:
            N float64 arrays of shape (K, 5): [x1, y1, x2, y2, score] in pixels of the given
            frame, best score first; K may be 0.
        """
        ...


def check_frame_batch(frames_bgr: Any) -> None:
    """Raise ``ValueError`` unless ``frames_bgr`` is an (N, H, W, 3) uint8 array."""
    if not isinstance(frames_bgr, np.ndarray) or frames_bgr.ndim != 4 or frames_bgr.shape[3] != 3:
        shape = getattr(frames_bgr, "shape", None)
        raise ValueError(f"expected a (N, H, W, 3) BGR frame batch, got shape {shape}")
    if frames_bgr.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames_bgr.dtype}")


def detector_provenance(detector: FaceDetector) -> dict[str, Any]:
    """The weight file a detector was built from, as record provenance (``s3fd_weights``,
    ``..._sha256``, ``..._official``; see :func:`~syncnet_eval.models.weights.weights_provenance`);
    empty for a detector without weights (HOG, test doubles)."""
    provenance = getattr(detector, "provenance", None)
    return dict(provenance) if isinstance(provenance, dict) else {}
