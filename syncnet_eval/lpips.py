"""LPIPS (Zhang et al. 2018), version 0.1, per frame pair, written from the published code.

Zhang, Isola, Efros, Shechtman, Wang, "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", CVPR 2018, Eq. 1:

    d(x, x0) = sum_l 1 / (H_l W_l) sum_{h,w} || w_l * (y_hat^l_hw - y_hat0^l_hw) ||_2^2

with y_hat^l the activations of layer l unit-normalised along channels and w_l a learned
non-negative per-channel weight. As the ``lpips`` package 0.1.4 (richzhang/PerceptualSimilarity,
``lpips/lpips.py``, ``LPIPS.forward`` with ``version='0.1'``, ``lpips=True``,
``spatial=False``) computes it, step by step:

1. RGB in [-1, 1]: uint8 ``v`` becomes ``v / 127.5 - 1`` (the package's ``im2tensor``);
2. the "scaling layer": ``(x - shift) / scale`` per channel, shift (-0.030, -0.088, -0.188),
   scale (0.458, 0.448, 0.450) (ImageNet's mean and standard deviation, moved to [-1, 1]);
3. five ReLU activations of the backbone (AlexNet relu1..5 or VGG16 relu1_2..relu5_3);
4. each divided by its channel-wise L2 norm plus 1e-10 (``normalize_tensor``);
5. the squared difference of the two images' normalised activations, through the layer's
   bias-free 1x1 convolution to one channel (the weights w_l, squared in Eq. 1's notation),
   averaged over the map (``spatial_average``);
6. summed over the five layers.

Frames are used at their own size (no resizing, as the package does); both frames of a pair
must have the same size. The network runs in float32, as the package's; the per-pair values
are returned as float64.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .device import resolve_device
from .errors import ConfigError, InputError, ModelWeightsError
from .models import weights as wm
from .models.lpips_nets import (
    LPIPS_NETS,
    LpipsHeads,
    backbone_state,
    build_backbone,
    heads_state,
)
from .models.state import load_state_dict

__all__ = ["DEFINITION", "LPIPS_VERSION", "SCALING_SHIFT", "SCALING_SCALE", "LpipsMetric"]

logger = logging.getLogger(__name__)

LPIPS_VERSION = "0.1"
# The package's ScalingLayer (lpips/lpips.py): input in [-1, 1] goes to (x - shift) / scale.
SCALING_SHIFT = (-0.030, -0.088, -0.188)
SCALING_SCALE = (0.458, 0.448, 0.450)
# normalize_tensor's eps, added to the channel norm (lpips/__init__.py).
_NORM_EPS = 1e-10
# Frame pairs per forward pass: VGG16's first tapped map alone is 64 floats a pixel.
_BATCH_PAIRS = 4

DEFINITION = (
    f"LPIPS v{LPIPS_VERSION} (Zhang et al. 2018, 'The Unreasonable Effectiveness of Deep "
    "Features as a Perceptual Metric', Eq. 1) as the lpips package 0.1.4 computes it "
    "(richzhang/PerceptualSimilarity lpips/lpips.py, LPIPS(version='0.1').forward): RGB "
    "scaled to [-1, 1], its scaling layer, five ReLU activations of the backbone, each "
    "unit-normalised along channels, squared differences through the v0.1 1x1 linear heads, "
    "spatial mean, summed over layers; per frame pair at the frames' own size"
)


def _package_heads(net: str) -> Path | None:
    """``weights/v0.1/<net>.pth`` of an installed ``lpips`` package, found without importing
    it (its import needs torchvision)."""
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "weights" / f"v{LPIPS_VERSION}" / f"{net}.pth"
        if candidate.is_file():
            return candidate
    return None


def _resolve_heads(name: str, net: str, explicit: Path | None, offline: bool = False) -> Path:
    """The heads file: explicit, else ``SYNCNET_EVAL_WEIGHTS`` or the cache, else an installed
    ``lpips`` package's copy (when it is the official file), else downloaded."""
    if explicit is None and wm.find_weights(name) is None:
        packaged = _package_heads(net)
        if packaged is not None:
            try:
                wm.verify_weights(packaged, wm.OPTIONAL[name])
            except ModelWeightsError as exc:
                logger.warning("not using the lpips package's heads: %s", exc)
            else:
                logger.info("using %s heads from the lpips package: %s", name, packaged)
                return packaged
    return wm.resolve_weights(name, explicit, offline=offline)


def _file_record(path: Path, official: str) -> dict[str, Any]:
    digest = wm.weights_sha256(path)
    return {"file": str(path), "sha256": digest, "official": wm.official_name(digest) == official}


class LpipsMetric:
    """LPIPS v0.1 between paired frames (see the module docstring for the steps).

    Args:
        net: backbone, ``alex`` (the package's default) or ``vgg``.
        weights: the backbone's ImageNet weights (torchvision's file or any state dict with its
            ``features.*`` keys); ``None`` resolves the official file through
            :mod:`syncnet_eval.models.weights`.
        heads: the linear heads (the package's ``weights/v0.1/<net>.pth`` layout); ``None``
            looks in ``SYNCNET_EVAL_WEIGHTS`` and the cache, then in an installed ``lpips``
            package, then downloads.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        offline: never download an official file; a missing one is an error.

    Raises:
        ConfigError: unknown ``net`` or device.
        ModelWeightsError: a weight file is missing (one line naming it and where to put it),
            unreadable or of the wrong layout.
    """

    def __init__(
        self,
        net: str = "alex",
        weights: Path | None = None,
        heads: Path | None = None,
        device: str = "cpu",
        *,
        offline: bool = False,
    ) -> None:
        if net not in LPIPS_NETS:
            raise ConfigError(f"unknown LPIPS net {net!r}; use one of {', '.join(LPIPS_NETS)}")
        spec = LPIPS_NETS[net]
        self.net = net
        self.device = resolve_device(device)
        backbone_path = wm.resolve_weights(spec.backbone_weights, weights, offline=offline)
        heads_path = _resolve_heads(spec.heads_weights, net, heads, offline)
        self._backbone = build_backbone(net)
        self._backbone.load_state_dict(
            backbone_state(load_state_dict(backbone_path), self._backbone, str(backbone_path))
        )
        self._heads = LpipsHeads(spec.channels)
        self._heads.load_state_dict(
            heads_state(load_state_dict(heads_path), self._heads, str(heads_path))
        )
        self._backbone.eval().requires_grad_(False).to(self.device)
        self._heads.eval().requires_grad_(False).to(self.device)
        self._shift = torch.tensor(SCALING_SHIFT, device=self.device).view(1, 3, 1, 1)
        self._scale = torch.tensor(SCALING_SCALE, device=self.device).view(1, 3, 1, 1)
        self.protocol: dict[str, object] = {
            "measure": "lpips",
            "version": LPIPS_VERSION,
            "net": net,
            "layers": list(spec.taps),
            "channels": list(spec.channels),
            "backbone_weights": _file_record(backbone_path, spec.backbone_weights),
            "heads_weights": _file_record(heads_path, spec.heads_weights),
            "input": "RGB uint8 / 127.5 - 1, then (x - shift) / scale per channel",
            "scaling_shift": list(SCALING_SHIFT),
            "scaling_scale": list(SCALING_SCALE),
            "resize": "none: frames at their own size",
            "dtype": "float32",
            "definition": DEFINITION,
        }

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """LPIPS of each frame pair.

        Args:
            a: (N, H, W, 3) uint8 RGB frames.
            b: (N, H, W, 3) uint8 RGB frames, the same shape as ``a``.

        Returns:
            (N,) float64, 0 for identical frames.

        Raises:
            InputError: the arrays are not uint8 (N, H, W, 3) of one shape, or a side is
                smaller than the backbone accepts.
        """
        self._check(a, b)
        out = np.empty(len(a), dtype=np.float64)
        for start in range(0, len(a), _BATCH_PAIRS):
            stop = start + _BATCH_PAIRS
            out[start:stop] = self._pairs(a[start:stop], b[start:stop])
        return out

    def _check(self, a: np.ndarray, b: np.ndarray) -> None:
        for frames in (a, b):
            if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
                raise InputError("LPIPS takes uint8 RGB frames (N, H, W, 3)")
            if frames.ndim != 4 or frames.shape[-1] != 3:
                raise InputError(f"LPIPS takes (N, H, W, 3) frames, got shape {frames.shape}")
        if a.shape != b.shape:
            raise InputError(f"LPIPS pairs frames of one shape, got {a.shape} and {b.shape}")
        side = LPIPS_NETS[self.net].min_side_px
        if min(a.shape[1:3]) < side:
            raise InputError(
                f"LPIPS ({self.net}) needs frames of at least {side}x{side} px, got "
                f"{a.shape[2]}x{a.shape[1]}"
            )

    def _scaled(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return (x - self._shift) / self._scale

    @torch.inference_mode()
    def _pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        feats_a = self._backbone(self._scaled(a))
        feats_b = self._backbone(self._scaled(b))
        diffs = [(_unit(fa) - _unit(fb)) ** 2 for fa, fb in zip(feats_a, feats_b, strict=True)]
        values: np.ndarray = self._heads(diffs).double().cpu().numpy()
        return values


def _unit(features: torch.Tensor) -> torch.Tensor:
    """Channel-wise unit normalisation, as the package's ``normalize_tensor``."""
    norm = torch.sqrt(torch.sum(features**2, dim=1, keepdim=True))
    return features / (norm + _NORM_EPS)
