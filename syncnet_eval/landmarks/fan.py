"""face_alignment's FAN 2D landmarks (the ``[lmd]`` extra), as the papers' LMD meter runs them.

RAD-NeRF/ER-NeRF's meter builds ``FaceAlignment(LandmarksType.TWO_D, flip_input=False)`` and
takes the last face ``get_landmarks`` returns; so does this backend. face_alignment fetches its
S3FD and 2DFAN4 files on first use through torch hub, which checks each download against the
sha256 prefix in its file name (``s3fd-619a316812.pth``, ``2DFAN4-cd938726ad.zip``).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DependencyError, ModelWeightsError

__all__ = ["FAN_FILES", "FanBackend", "files_needed"]

# The files face_alignment (1.3, 1.4) downloads for 2D landmarks, named with their sha256 prefix.
FAN_FILES = ("s3fd-619a316812.pth", "2DFAN4-cd938726ad.zip")
MISSING_EXTRA = (
    "--landmarks fan needs face_alignment, which is not installed; install the [lmd] extra "
    "(`pip install 'syncnet-eval[lmd]'`) or use --landmarks dlib"
)


def files_needed(cause: BaseException) -> str:
    """What to do when face_alignment cannot fetch its files: which files, where they go."""
    where = "the checkpoints folder of torch hub (TORCH_HOME, by default ~/.cache/torch/hub)"
    try:
        import torch.hub

        where = str(Path(torch.hub.get_dir()) / "checkpoints")
    except ImportError:  # pragma: no cover - torch comes with face_alignment
        pass
    return (
        f"--landmarks fan could not get face_alignment's model files {' and '.join(FAN_FILES)} "
        f"({cause}); it downloads them on first use into {where}: copy them there from a "
        "machine that has them, or use --landmarks dlib (no download; its numbers are not the "
        "papers')"
    )


def _import_face_alignment() -> Any:
    try:
        import face_alignment
    except ImportError as exc:
        raise DependencyError(MISSING_EXTRA) from exc
    return face_alignment


class FanBackend:
    """FAN 2D (face_alignment) with its S3FD face detector.

    Args:
        device: torch device (``cpu``, ``cuda``, ``cuda:1``...).

    Raises:
        DependencyError: face_alignment is not installed (names the ``[lmd]`` extra).
    """

    name = "fan"

    def __init__(self, *, device: str = "cpu") -> None:
        fa = _import_face_alignment()
        kind = getattr(fa.LandmarksType, "TWO_D", None) or fa.LandmarksType._2D
        try:
            self._model = fa.FaceAlignment(kind, flip_input=False, device=device)
        except OSError as exc:  # URLError and its kin: offline, a proxy, a full disk
            raise ModelWeightsError(files_needed(exc)) from exc
        self.version = f"face_alignment {importlib.metadata.version('face-alignment')}"
        self.detail = f"FAN 2D with its S3FD detector (last face), files {', '.join(FAN_FILES)}"

    def landmarks(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """See :meth:`syncnet_eval.landmarks.LandmarkBackend.landmarks`."""
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        found = self._model.get_landmarks(rgb)
        if not found:
            return None
        return np.asarray(found[-1], dtype=np.float64)[:, :2]
