"""S3FD face detector (Zhang et al. 2017) as syncnet_python runs it (spec section 3).

The network is a VGG16-SSD with six detection levels. Parameter names follow syncnet_python's
``sfd_face.pth`` (``vgg.N``, ``L2Norm3_3``, ``extras.N``, ``loc.N``, ``conf.N``), so the official
file and the parity-test file load strictly. Everything that changes numbers is reproduced: the
RGB input with means (123, 117, 104), the 0.25 INTER_LINEAR downscale, ``ceil_mode`` in pool3,
fc6's dilation 6, the prior layout, the 0.05 / 0.3 / 5000 / 750 first stage, the ``> 0.9``
threshold and the second NMS at 0.1.

Unlike the reference, frames run through the network in batches, and the post-processing is
vectorised (the greedy NMS loops over kept boxes only).
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..constants import FACEDET_SCALE
from ..errors import ConfigError, ModelWeightsError
from ..models.state import describe_checkpoint, key_mismatch
from .base import check_frame_batch

__all__ = [
    "CONF_THRESHOLD",
    "S3FDDetector",
    "S3FDNet",
    "S3FDOutput",
    "build",
    "decode_boxes",
    "load_s3fd_state",
    "make_priors",
    "preprocess_frames",
    "raw_detections",
    "scaled_size",
]

logger = logging.getLogger(__name__)

CONF_THRESHOLD = 0.9  # run_pipeline.py inference_video: detect_faces(conf_th=0.9)
# Means the reference subtracts, in the RGB order of the tensor it feeds the network.
RGB_MEANS = (123.0, 117.0, 104.0)
# Detect() of the reference's box_utils: candidate prefilter, NMS IoU, NMS pool, boxes kept.
PREFILTER_THRESHOLD = 0.05
NMS_THRESHOLD = 0.3
NMS_TOP_K = 5000
KEEP_TOP_K = 750
# detect_faces: the pixel-space NMS on the thresholded boxes keeps only near-disjoint boxes.
FINAL_NMS_THRESHOLD = 0.1
# SSD prior layout: one square anchor per cell; anchor side = 4 x stride.
PRIOR_STEPS = (4, 8, 16, 32, 64, 128)
PRIOR_MIN_SIZES = (16, 32, 64, 128, 256, 512)
PRIOR_VARIANCES = (0.1, 0.2)
# Smallest network input side (px) whose feature maps survive pool5 (see S3FDNet).
MIN_INPUT_SIDE_PX = 28


class _L2Norm(nn.Module):
    """Channel-wise L2 normalisation with a learned per-channel scale (ParseNet)."""

    def __init__(self, channels: int, init_scale: float) -> None:
        super().__init__()
        self.eps = 1e-10
        self.weight = nn.Parameter(torch.full((channels,), float(init_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One reduction pass and one temporary (the reference: pow, sum, sqrt, add, div, mul);
        # equal to float rounding (~5e-7 on the scaled maps).
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True).add_(self.eps)
        return torch.div(x, norm).mul_(self.weight.view(1, -1, 1, 1))


def _vgg_layers() -> list[nn.Module]:
    """VGG16 trunk up to fc7; list indices match the ``vgg.N`` keys of ``sfd_face.pth``."""
    layers: list[nn.Module] = []
    c_in = 3
    # (out channels, convs in block, pool after block with ceil_mode?)
    blocks = ((64, 2, False), (128, 2, False), (256, 3, True), (512, 3, False), (512, 3, False))
    for c_out, n_convs, ceil in blocks:
        for _ in range(n_convs):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c_in = c_out
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil))
    layers += [
        nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),  # fc6 (31)
        nn.ReLU(inplace=True),
        nn.Conv2d(1024, 1024, kernel_size=1),  # fc7 (33)
        nn.ReLU(inplace=True),
    ]
    return layers


class S3FDOutput(NamedTuple):
    """Raw network output for a batch.

    Attributes:
        loc: (N, P, 4) float32 box regressions (cx, cy, w, h offsets) for the P priors.
        face_prob: (N, P) float32 softmax probability of the face class.
        feature_hw: per detection level, the (height, width) of its feature map.
    """

    loc: torch.Tensor
    face_prob: torch.Tensor
    feature_hw: tuple[tuple[int, int], ...]


class S3FDNet(nn.Module):
    """S3FD network of syncnet_python (spec section 3.4), without its post-processing.

    Input: (N, 3, H', W') float32, RGB order, mean-subtracted (see :func:`preprocess_frames`).
    Output: :class:`S3FDOutput` with one row per prior, ordered level, row, column.
    """

    def __init__(self) -> None:
        super().__init__()
        self.vgg = nn.ModuleList(_vgg_layers())
        self.L2Norm3_3 = _L2Norm(256, 10.0)
        self.L2Norm4_3 = _L2Norm(512, 8.0)
        self.L2Norm5_3 = _L2Norm(512, 5.0)
        self.extras = nn.ModuleList(
            [
                nn.Conv2d(1024, 256, kernel_size=1),
                nn.Conv2d(256, 512, kernel_size=3, stride=2, padding=1),  # conv6_2
                nn.Conv2d(512, 128, kernel_size=1),
                nn.Conv2d(128, 256, kernel_size=3, stride=2, padding=1),  # conv7_2
            ]
        )
        source_channels = (256, 512, 512, 1024, 512, 256)
        self.loc = nn.ModuleList(nn.Conv2d(c, 4, kernel_size=3, padding=1) for c in source_channels)
        # Level 0 predicts three background logits and one face logit ("max-out" background).
        conf_channels = (4, 2, 2, 2, 2, 2)
        self.conf = nn.ModuleList(
            nn.Conv2d(c, k, kernel_size=3, padding=1)
            for c, k in zip(source_channels, conf_channels, strict=True)
        )

    def forward(self, x: torch.Tensor) -> S3FDOutput:
        """Run the network on a (N, 3, H', W') float32 batch.

        On a CPU, with ``x`` channels-last (as :func:`preprocess_frames` returns it), each
        convolution and its ReLU run as one oneDNN call with the ReLU fused (bit-identical to
        conv then ReLU) and no layout reorder of the activations between layers.
        """
        sources: list[torch.Tensor] = []
        # Sources are taken after the ReLUs of conv3_3 (15), conv4_3 (22), conv5_3 (29), fc7 (34).
        x = self._vgg_range(x, 0, 16)
        sources.append(self.L2Norm3_3(x))
        x = self._vgg_range(x, 16, 23)
        sources.append(self.L2Norm4_3(x))
        x = self._vgg_range(x, 23, 30)
        sources.append(self.L2Norm5_3(x))
        x = self._vgg_range(x, 30, len(self.vgg))
        sources.append(x)
        for k, layer in enumerate(self.extras):
            x = _conv_relu(layer, x)
            if k % 2 == 1:
                sources.append(x)

        locs: list[torch.Tensor] = []
        confs: list[torch.Tensor] = []
        feature_hw: list[tuple[int, int]] = []
        for level, source in enumerate(sources):
            loc = self.loc[level](source)
            conf = self.conf[level](source)
            if level == 0:
                background = conf[:, 0:3].max(dim=1, keepdim=True).values
                conf = torch.cat((background, conf[:, 3:]), dim=1)
            feature_hw.append((int(loc.shape[2]), int(loc.shape[3])))
            locs.append(loc.permute(0, 2, 3, 1).reshape(loc.shape[0], -1, 4))
            confs.append(conf.permute(0, 2, 3, 1).reshape(conf.shape[0], -1, 2))
        face_prob = torch.softmax(torch.cat(confs, dim=1), dim=-1)[..., 1]
        return S3FDOutput(torch.cat(locs, dim=1), face_prob, tuple(feature_hw))

    def _vgg_range(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``vgg[start:stop]`` on ``x``, each Conv2d + ReLU pair as one fused call."""
        k = start
        while k < stop:
            layer = self.vgg[k]
            relu_next = k + 1 < stop and isinstance(self.vgg[k + 1], nn.ReLU)
            if isinstance(layer, nn.Conv2d) and relu_next:
                x = _conv_relu(layer, x)
                k += 2
            else:
                x = layer(x)
                k += 1
        return x


def _fused_conv_relu_available() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(  # type: ignore[no-untyped-call]
            torch.ops.mkldnn, "_convolution_pointwise"
        )
    except (AttributeError, RuntimeError):
        return False


_FUSED_CONV_RELU = _fused_conv_relu_available()


def _conv_relu(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``relu(conv(x))``; one oneDNN call with a fused ReLU for fp32 channels-last CPU input."""
    if (
        _FUSED_CONV_RELU
        and isinstance(conv, nn.Conv2d)
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.is_contiguous(memory_format=torch.channels_last)
        and not torch.is_autocast_enabled("cpu")
    ):
        fused: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
            x,
            conv.weight,
            conv.bias,
            conv.padding,
            conv.stride,
            conv.dilation,
            conv.groups,
            "relu",
            [],
            "",
        )
        return fused
    return F.relu(conv(x), inplace=True)


def load_s3fd_state(
    net: S3FDNet, state: Mapping[str, torch.Tensor], source: str = "<state dict>"
) -> None:
    """Copy ``state`` into ``net`` strictly.

    Args:
        net: the network to fill.
        state: a state dict with the key names of syncnet_python's ``sfd_face.pth``.
        source: where ``state`` came from, for the error message.

    Raises:
        ModelWeightsError: naming every missing, unexpected or mis-shaped key and ``source``.
    """
    problems = key_mismatch(net.state_dict(), state)
    other = describe_checkpoint(state) if problems else None
    if other is not None and not other.startswith("S3FD"):
        raise ModelWeightsError(
            f"{source}: these are {other}, not S3FD weights; pass sfd_face.pth as --s3fd-weights"
        )
    if problems:
        raise ModelWeightsError(
            f"{source}: not an S3FD state dict with sfd_face.pth key names "
            f"({problems}); pass the sfd_face.pth from syncnet_python"
        )
    net.load_state_dict(dict(state), strict=True)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(H', W') that ``cv2.resize(fx=fy=scale)`` produces: each side rounded to nearest."""
    probe = cv2.resize(np.zeros((height, width), np.uint8), dsize=(0, 0), fx=scale, fy=scale)
    return int(probe.shape[0]), int(probe.shape[1])


def preprocess_frames(frames_bgr: np.ndarray, scale: float = FACEDET_SCALE) -> torch.Tensor:
    """Downscale and normalise frames exactly as the reference's ``detect_faces`` does.

    Args:
        frames_bgr: (N, H, W, 3) uint8 BGR frames.
        scale: resize factor for both axes (``cv2.resize`` fx=fy, INTER_LINEAR on uint8, whose
            fixed-point rounding the reference depends on).

    Returns:
        (N, 3, H', W') float32 tensor in RGB order holding R-123, G-117, B-104.
    """
    check_frame_batch(frames_bgr)
    resized = [
        cv2.resize(
            np.ascontiguousarray(frame),
            dsize=(0, 0),
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_LINEAR,
        )
        for frame in frames_bgr
    ]
    batch = np.stack(resized)[..., ::-1].astype(np.float32)
    batch -= np.asarray(RGB_MEANS, dtype=np.float32)
    # (N, H', W', 3) memory seen as (N, 3, H', W'): channels-last, the layout oneDNN's
    # convolutions run in without reordering, and no transposing copy.
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


def make_priors(input_hw: tuple[int, int], feature_hw: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """SSD priors of the reference's ``PriorBox`` (spec section 3.5).

    Args:
        input_hw: (H', W') of the network input.
        feature_hw: (height, width) of each level's feature map, as the network produced them.

    Returns:
        (P, 4) float32 (cx, cy, w, h), normalised by the input size, ordered level, row, column.
    """
    height, width = input_hw
    levels = []
    for (fh, fw), step, min_size in zip(feature_hw, PRIOR_STEPS, PRIOR_MIN_SIZES, strict=True):
        # Same float64 arithmetic as the reference ((j + 0.5) / (W' / step)), rounded to float32
        # once at the end as its FloatTensor does.
        cx = (np.arange(fw, dtype=np.float64) + 0.5) / (width / step)
        cy = (np.arange(fh, dtype=np.float64) + 0.5) / (height / step)
        grid_cy, grid_cx = np.meshgrid(cy, cx, indexing="ij")
        level = np.empty((fh * fw, 4), dtype=np.float64)
        level[:, 0] = grid_cx.ravel()
        level[:, 1] = grid_cy.ravel()
        level[:, 2] = min_size / width
        level[:, 3] = min_size / height
        levels.append(level)
    return torch.from_numpy(np.concatenate(levels).astype(np.float32))


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Turn (..., P, 4) regressions into normalised corner boxes (x1, y1, x2, y2), float32.

    The operation order follows the reference's ``decode`` so that float rounding agrees.
    """
    centre = priors[..., :2] + loc[..., :2] * PRIOR_VARIANCES[0] * priors[..., 2:]
    size = priors[..., 2:] * torch.exp(loc[..., 2:] * PRIOR_VARIANCES[1])
    top_left = centre - size / 2
    return torch.cat((top_left, size + top_left), dim=-1)


def _greedy_nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, pool: int, keep_max: int
) -> torch.Tensor:
    """Greedy NMS of the reference's ``box_utils.nms`` on float32 tensors.

    Args:
        boxes: (K, 4) float32 corners.
        scores: (K,) float32.
        iou_threshold: a box is dropped when its IoU with a kept box exceeds this.
        pool: only the ``pool`` best-scoring boxes take part.
        keep_max: stop after this many kept boxes (the rest would be truncated anyway).

    Returns:
        (M,) int64 indices into ``boxes``, best score first.
    """
    # Ascending stable sort read backwards, as the reference walks its ascending sort from the
    # end; with ties this keeps its order too (torch's CPU sort is stable).
    order = torch.sort(scores, stable=True).indices[-pool:].flip(0)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    while order.numel() > 0 and len(keep) < keep_max:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        if rest.numel() == 0:
            break
        w = (torch.minimum(x2[rest], x2[i]) - torch.maximum(x1[rest], x1[i])).clamp(min=0.0)
        h = (torch.minimum(y2[rest], y2[i]) - torch.maximum(y1[rest], y1[i])).clamp(min=0.0)
        inter = w * h
        iou = inter / ((area[rest] - inter) + area[i])
        order = rest[iou.le(iou_threshold)]
    return torch.tensor(keep, dtype=torch.int64)


def _first_stage(
    boxes: torch.Tensor, face_prob: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates with probability > ``threshold``, NMS 0.3 over the best 5000, at most 750.

    Returns:
        ((M, 4) float32 normalised corners, (M,) float32 scores), best first.
    """
    mask = face_prob.gt(threshold)
    cand_boxes = boxes[mask]
    cand_scores = face_prob[mask]
    if cand_scores.numel() == 0:
        return cand_boxes, cand_scores
    keep = _greedy_nms(cand_boxes, cand_scores, NMS_THRESHOLD, NMS_TOP_K, KEEP_TOP_K)
    return cand_boxes[keep], cand_scores[keep]


def _final_nms(dets: np.ndarray, iou_threshold: float) -> np.ndarray:
    """The reference's ``nms_`` on (K, 5) float64 pixel boxes; keeps IoU <= ``iou_threshold``."""
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[overlap <= iou_threshold]
    return dets[keep]


def _too_small(input_hw: tuple[int, int]) -> bool:
    return min(input_hw) < MIN_INPUT_SIDE_PX


def _run_network(
    net: S3FDNet, batch: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward a preprocessed batch; returns CPU ((N, P, 4) boxes, (N, P) face probabilities)."""
    with torch.inference_mode():
        out = net(batch.to(device))
        priors = make_priors((int(batch.shape[2]), int(batch.shape[3])), out.feature_hw)
        boxes = decode_boxes(out.loc.float().cpu(), priors)
        return boxes, out.face_prob.float().cpu()


def raw_detections(
    net: S3FDNet, batch: torch.Tensor, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The reference network's output tensor: ``Detect`` applied to each frame of the batch.

    Args:
        net: an :class:`S3FDNet` in eval mode on ``device``.
        batch: (N, 3, H', W') float32 from :func:`preprocess_frames`.
        device: where ``net`` lives.

    Returns:
        (N, 2, 750, 5) float32 on the CPU; row ``[n, 1, j]`` = (score, x1, y1, x2, y2) of the
        j-th kept face box (normalised corners, best first), zeros past the last one; class 0
        (background) stays zero as in the reference.
    """
    out = torch.zeros(batch.shape[0], 2, KEEP_TOP_K, 5)
    if _too_small((int(batch.shape[2]), int(batch.shape[3]))):
        return out
    boxes, face_prob = _run_network(net, batch, torch.device(device))
    for n in range(batch.shape[0]):
        kept_boxes, kept_scores = _first_stage(boxes[n], face_prob[n], PREFILTER_THRESHOLD)
        count = kept_scores.shape[0]
        out[n, 1, :count, 0] = kept_scores
        out[n, 1, :count, 1:] = kept_boxes
    return out


class S3FDDetector:
    """Face detector running syncnet_python's S3FD pipeline on batches of frames.

    Args:
        net: the network, weights loaded (see :func:`load_s3fd_state`).
        device: where to run it.
        facedet_scale: input downscale (reference 0.25).
        conf_threshold: keep boxes scoring above this (reference 0.9).
        batch_size: frames per forward pass (speed and memory only).
        provenance: the weight file's path, sha256 and official flag
            (:func:`~syncnet_eval.models.weights.weights_provenance`), copied into the records
            of the videos it detects faces in.

    Raises:
        ConfigError: for a scale outside (0, 1], a threshold outside [0, 1) or a batch size < 1.
    """

    name = "s3fd"

    def __init__(
        self,
        net: S3FDNet,
        *,
        device: torch.device | str = "cpu",
        facedet_scale: float = FACEDET_SCALE,
        conf_threshold: float = CONF_THRESHOLD,
        batch_size: int = 8,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        if not 0 < facedet_scale <= 1:
            raise ConfigError(f"facedet_scale must be in (0, 1], got {facedet_scale}")
        if not 0 <= conf_threshold < 1:
            raise ConfigError(f"conf_threshold must be in [0, 1), got {conf_threshold}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be positive, got {batch_size}")
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        if self.device.type == "cpu":  # see S3FDNet.forward
            self.net = self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.facedet_scale = facedet_scale
        self.conf_threshold = conf_threshold
        self.batch_size = batch_size
        self.provenance: dict[str, Any] = dict(provenance or {})

    @classmethod
    def from_state_dict(
        cls,
        state: Mapping[str, torch.Tensor],
        *,
        source: str = "<state dict>",
        device: torch.device | str = "cpu",
        facedet_scale: float = FACEDET_SCALE,
        conf_threshold: float = CONF_THRESHOLD,
        batch_size: int = 8,
        provenance: Mapping[str, Any] | None = None,
    ) -> S3FDDetector:
        """Build the network, load ``state`` strictly and wrap it.

        Args:
            state: state dict with the key names of ``sfd_face.pth``.
            source: where ``state`` came from, for error messages.
            device: see the class.
            facedet_scale: see the class.
            conf_threshold: see the class.
            batch_size: see the class.
            provenance: see the class.

        Raises:
            ModelWeightsError: if ``state`` does not fit the network.
            ConfigError: for invalid settings.
        """
        net = S3FDNet()
        load_s3fd_state(net, state, source)
        return cls(
            net,
            device=device,
            facedet_scale=facedet_scale,
            conf_threshold=conf_threshold,
            batch_size=batch_size,
            provenance=provenance,
        )

    def raw_detections(self, frames_bgr: np.ndarray) -> torch.Tensor:
        """(N, 2, 750, 5) reference ``Detect`` output for (N, H, W, 3) uint8 BGR frames."""
        batch = preprocess_frames(frames_bgr, self.facedet_scale)
        return raw_detections(self.net, batch, self.device)

    def detect(self, frames_bgr: np.ndarray) -> list[np.ndarray]:
        """Detect faces in every frame.

        Args:
            frames_bgr: (N, H, W, 3) uint8 BGR frames, all the same size.

        Returns:
            Per frame, a (K, 5) float64 array of [x1, y1, x2, y2, score] in pixels of the given
            frame, best score first (K may be 0).
        """
        check_frame_batch(frames_bgr)
        n_frames, height, width = frames_bgr.shape[:3]
        if n_frames == 0:
            return []
        input_hw = scaled_size(height, width, self.facedet_scale)
        if _too_small(input_hw):
            logger.warning(
                "frames of %dx%d px are too small for S3FD at scale %g (input %dx%d < %d px); "
                "no faces detected",
                width,
                height,
                self.facedet_scale,
                input_hw[1],
                input_hw[0],
                MIN_INPUT_SIDE_PX,
            )
            return [np.zeros((0, 5), dtype=np.float64) for _ in range(n_frames)]
        # Greedy NMS only lets a box be suppressed by a better-scoring one, so dropping the
        # candidates that the final threshold would reject anyway leaves the surviving boxes
        # unchanged (the 5000/750 caps only ever cut the lowest scores). Both comparisons are
        # strict, like the reference's.
        prefilter = max(PREFILTER_THRESHOLD, self.conf_threshold)
        pixel_scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        results: list[np.ndarray] = []
        for start in range(0, n_frames, self.batch_size):
            chunk = frames_bgr[start : start + self.batch_size]
            batch = preprocess_frames(chunk, self.facedet_scale)
            boxes, face_prob = _run_network(self.net, batch, self.device)
            for n in range(boxes.shape[0]):
                kept_boxes, kept_scores = _first_stage(boxes[n], face_prob[n], prefilter)
                # After the reference's strict "> conf_th" walk down the sorted rows.
                above = kept_scores.gt(self.conf_threshold)
                dets = (
                    torch.cat(((kept_boxes[above] * pixel_scale), kept_scores[above, None]), dim=1)
                    .numpy()
                    .astype(np.float64)
                )
                if dets.shape[0] > 0:
                    dets = _final_nms(dets, FINAL_NMS_THRESHOLD)
                results.append(dets.reshape(-1, 5))
        return results


def build(
    *,
    weights: Path | None = None,
    device: torch.device | str = "cpu",
    facedet_scale: float = FACEDET_SCALE,
    offline: bool = False,
    batch_size: int = 8,
) -> S3FDDetector:
    """The registry's builder (``faces.get_detector("s3fd")``): the weights found (or
    downloaded), loaded and checked key by key.

    Not official? The run's driver says so once per command (``engines.scorer``), with the same
    words as for SyncNet's weights; the provenance records it in every record.
    """
    from ..device import resolve_device
    from ..models.state import load_state_dict
    from ..models.weights import resolve_weights, weights_provenance

    path = resolve_weights("s3fd", weights, offline=offline)
    state = load_state_dict(path)
    resolved = device if isinstance(device, torch.device) else resolve_device(device)
    logger.debug("S3FD on %s, scale %g, batch %d", resolved, facedet_scale, batch_size)
    return S3FDDetector.from_state_dict(
        state,
        source=str(path),
        device=resolved,
        facedet_scale=facedet_scale,
        batch_size=batch_size,
        provenance=weights_provenance("s3fd", path),
    )
