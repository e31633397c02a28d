"""Facial landmark backends for LMD (``syncnet-eval lmd``): 68-point detectors behind one protocol.

Both backends give the 68-point (iBUG 300-W / Multi-PIE) scheme, whose points 48-67 are the
mouth (48-59 the outer lip contour, 60-67 the inner). This module is light (no numpy at import):
the CLI reads the registry (:data:`REGISTRY`, :data:`BACKENDS`) for ``--landmarks``; a backend's
module is imported when :func:`get_backend` builds it.

- ``fan``: face_alignment's FAN 2D (its S3FD finds the face), the detector RAD-NeRF, ER-NeRF,
  SyncTalk and TalkingGaussian evaluate LMD with; the ``[lmd]`` extra.
- ``dlib``: dlib's HOG face detector and 68-point shape predictor, whose model file ships inside
  the ``face-recognition-models`` pip package (no download); the ``[lmd-dlib]`` extra. The same
  papers' code offers it as its other backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..registry import choose, load

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "MOUTH_POINTS",
    "REGISTRY",
    "LandmarkBackend",
    "LandmarkSpec",
    "get_backend",
]
# Mouth points of the 68-point scheme, 0-based: 48-67 inclusive (20 points).
MOUTH_POINTS = range(48, 68)


class LandmarkBackend(Protocol):
    """A 68-point landmark detector.

    Attributes:
        name: ``fan`` or ``dlib`` (``--landmarks``).
        version: the detector's package versions, e.g. ``dlib 20.0.1, face-recognition-models
            0.3.0``.
        detail: which model files and which face among several, in words.
    """

    name: str
    version: str
    detail: str

    def landmarks(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """68 landmarks of one face in a frame.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR frame.

        Returns:
            (68, 2) float64 [x, y] in pixels of the given frame, or ``None`` when no face is
            found.
        """
        ...


@dataclass(frozen=True)
class LandmarkSpec:
    """One landmark backend of the registry.

    Attributes:
        name: the ``--landmarks`` value.
        help: one sentence: the detector, and the extra that installs it.
        backend: ``module:class`` in this package, built with the ``device`` keyword when
            ``uses_device``.
        uses_device: it runs on a torch device (else on the CPU).
    """

    name: str
    help: str
    backend: str
    uses_device: bool = False

    def build(self, device: str = "cpu") -> LandmarkBackend:
        """The backend (its module, and the extra's packages, are imported now)."""
        cls: Any = load(self.backend, __name__)
        made: LandmarkBackend = cls(device=device) if self.uses_device else cls()
        return made


REGISTRY: dict[str, LandmarkSpec] = {
    spec.name: spec
    for spec in (
        LandmarkSpec("fan", "face_alignment's FAN 2D (the [lmd] extra)", ".fan:FanBackend", True),
        LandmarkSpec(
            "dlib", "dlib's 68-point shape predictor (the [lmd-dlib] extra)", ".dlib68:DlibBackend"
        ),
    )
}
BACKENDS: tuple[str, ...] = tuple(REGISTRY)
# The papers' evaluation code builds its LMD meter with the FAN backend.
DEFAULT_BACKEND = "fan"


def get_backend(name: str, *, device: str = "cpu") -> LandmarkBackend:
    """Build the backend named ``name`` (one of :data:`BACKENDS`).

    Args:
        name: ``fan`` or ``dlib``.
        device: torch device for ``fan`` (``cpu``, ``cuda``...); dlib runs on the CPU.

    Raises:
        ConfigError: for an unknown name.
        DependencyError: when the backend's extra is not installed (the message names it).
    """
    spec: LandmarkSpec = choose(REGISTRY, name, "landmark backend")
    return spec.build(device)
