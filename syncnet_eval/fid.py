"""FID features: frames -> 2048-d pool_3 vectors of FID's Inception-v3, torch-fidelity's protocol.

FID (Heusel et al. 2017, Sec. 5 "Performance Measure", Eq. 6) is the Fréchet distance
(:mod:`syncnet_eval.frechet`) between Gaussians fitted to the Inception ``pool_3`` features of
two image sets. The number depends on how a frame reaches the network, and the public
implementations differ there (docs/fid.md):

- TTUR's reference and torch-fidelity (and torchmetrics, which runs torch-fidelity's extractor)
  resize 8-bit RGB with TensorFlow 1.x's ``resize_bilinear`` (``align_corners=False``, source
  pixel ``dst * in / out`` without half-pixel centres, no anti-aliasing) to 299x299, on the
  0-255 values, then scale with ``(x - 128) / 128``;
- pytorch-fid scales to [0, 1] first and resizes with ``F.interpolate(..., "bilinear",
  align_corners=False)`` (half-pixel centres), then ``2x - 1``;
- clean-fid resizes with PIL's anti-aliased bicubic filter.

We follow torch-fidelity (the TF1-compatible bilinear resize, the reference's), and say so in
:attr:`FidExtractor.protocol`. Parity: ``tests/test_fid.py`` holds our features and FIDs to
torch-fidelity 0.4.0's, recorded by ``scripts/record_fid_reference.py`` with seeded weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .device import resolve_device
from .models import weights as wm
from .models.fid_inception import (
    FEATURE_DIM,
    INPUT_SIDE_PX,
    FidInceptionV3,
    load_fid_inception_state,
)
from .models.state import load_state_dict

__all__ = ["DEFINITION", "WEIGHTS_NAME", "FidExtractor", "resize_bilinear_tf1"]

# The registry name of the official weights in models.weights (the "optional" section).
WEIGHTS_NAME = "fid"
# Frames per forward pass: bounds memory (about 60 MB of activations a frame at 299x299).
_BATCH_FRAMES = 16

DEFINITION = (
    "FID: Fréchet distance (Heusel et al. 2017, 'GANs Trained by a Two Time-Scale Update Rule "
    "Converge to a Local Nash Equilibrium', Sec. 5, Eq. 6) between Gaussians fitted (mean, "
    "unbiased covariance) to the 2048-d pool_3 features of the TensorFlow 2015-12-05 "
    "Inception-v3 (pt_inception-2015-12-05-6726825d.pth), frames resized to 299x299 with "
    "TensorFlow 1.x bilinear resize and scaled (x - 128) / 128, as torch-fidelity (TTUR's fid.py)"
)

_RESIZE = (
    "bilinear to 299x299 like TensorFlow 1.x resize_bilinear (align_corners=False, no "
    "half-pixel centres, no anti-aliasing) on 0-255 values, as torch-fidelity's "
    "interpolate_bilinear_2d_like_tensorflow1x"
)


def _axis_weights(size_in: int, size_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices (low, high) and the high one's weight for one axis, TF1 style.

    TensorFlow 1.x maps output pixel ``i`` to source ``i * in / out`` (no half-pixel offset),
    in float32, as torch-fidelity does too (so the weights round the same way).
    """
    scale = torch.tensor(size_in / size_out, dtype=torch.float32)
    src = torch.arange(size_out, dtype=torch.float32) * scale
    low = src.long()  # src >= 0: truncation is floor
    high = (low + 1).clamp(max=size_in - 1)
    return low, high, src - low.to(torch.float32)


def resize_bilinear_tf1(images: torch.Tensor, side: int = INPUT_SIDE_PX) -> torch.Tensor:
    """Resize (N, C, H, W) float images to (N, C, side, side) like TF 1.x ``resize_bilinear``.

    ``align_corners=False`` in TensorFlow 1.x: output pixel ``i`` samples source ``i * in /
    out``, between its floor and the next pixel (clamped at the border), no anti-aliasing; so
    halving a side keeps every other pixel exactly. Horizontal pass, then vertical, as
    torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` (method ``slow``).
    """
    x_low, x_high, x_frac = (t.to(images.device) for t in _axis_weights(images.shape[3], side))
    y_low, y_high, y_frac = (t.to(images.device) for t in _axis_weights(images.shape[2], side))
    left = images[:, :, :, x_low]
    rows = left + (images[:, :, :, x_high] - left) * x_frac.view(1, 1, 1, side)
    top = rows[:, :, y_low, :]
    return top + (rows[:, :, y_high, :] - top) * y_frac.view(1, 1, side, 1)


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise ValueError(f"frames must be a uint8 numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"frames must be (N, H, W, 3) RGB, got shape {frames.shape}")


def _batches(frames: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, frames.shape[0], size):
        yield frames[start : start + size]


class FidExtractor:
    """FID's Inception-v3 features of RGB frames.

    Args:
        weights: a state dict file of the architecture (not hash-checked); ``None`` resolves
            the official ``pt_inception-2015-12-05-6726825d.pth`` through
            :mod:`syncnet_eval.models.weights` (``SYNCNET_EVAL_WEIGHTS``, the cache, else a
            download).
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        offline: never download the official file; a missing one is an error.

    Attributes:
        protocol: what the features depend on (network, weights file and sha256, resize and
            filter, input scaling, layer and dimension), JSON-ready.
        dim: 2048.

    Raises:
        ModelWeightsError: the weights are missing (one line naming the file and where to put
            it), unreadable, or not this network's.
    """

    dim = FEATURE_DIM

    def __init__(
        self, weights: Path | None = None, device: str = "cpu", *, offline: bool = False
    ) -> None:
        path = wm.resolve_weights(WEIGHTS_NAME, weights, offline=offline)
        self._device = resolve_device(device)
        model = FidInceptionV3()
        load_fid_inception_state(model, load_state_dict(path))
        self._model = model.eval().to(self._device)
        provenance = wm.weights_provenance(WEIGHTS_NAME, path)
        self.protocol: dict[str, Any] = {
            "network": "Inception-v3, TensorFlow 2015-12-05 graph (FID variant)",
            "weights": path.name,
            "weights_sha256": provenance[f"{WEIGHTS_NAME}_weights_sha256"],
            "weights_official": provenance[f"{WEIGHTS_NAME}_weights_official"],
            "resize": _RESIZE,
            "input_scaling": "(x - 128) / 128 on 0-255 RGB",
            "layer": "pool_3",
            "dim": FEATURE_DIM,
            "follows": "torch-fidelity 0.4 FeatureExtractorInceptionV3, feature '2048'",
        }

    def features(self, frames: np.ndarray) -> np.ndarray:
        """(N, 2048) float64 pool_3 features of (N, H, W, 3) uint8 RGB frames (any H, W).

        Raises:
            ValueError: ``frames`` is not a uint8 (N, H, W, 3) array.
        """
        _check_frames(frames)
        out = np.empty((frames.shape[0], FEATURE_DIM), dtype=np.float64)
        done = 0
        with torch.inference_mode():
            for batch in _batches(frames, _BATCH_FRAMES):
                x = torch.from_numpy(np.ascontiguousarray(batch)).to(self._device)
                x = x.permute(0, 3, 1, 2).to(torch.float32)
                x = (resize_bilinear_tf1(x) - 128) / 128
                out[done : done + len(batch)] = self._model(x).double().cpu().numpy()
                done += len(batch)
        return out
