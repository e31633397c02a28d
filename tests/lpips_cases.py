"""What the LPIPS tests and ``scripts/record_lpips_reference.py`` share: the seeded weights and the
frame pairs, built the same way on both sides.

Imports numpy, torch and PyAV only, so that the recording script can import it in the reference
venv (which has the ``lpips`` package and torchvision) as the tests do in ours.
"""

from __future__ import annotations

from collections.abc import Sequence
import hashlib
import math
from pathlib import Path

import av
import numpy as np
import torch

# Seeds of the stand-in weights (never the published ones), per backbone.
SEEDS = {"alex": 0, "vgg": 1}
HEADS_SEED_OFFSET = 100

# (video in ../shared/media, frame index, crop box x, y, width, height): two frames of one clip a
# little apart, two clips of different people, a generated clip against its source style.
CROP_W, CROP_H = 80, 64
PAIRS: tuple[tuple[tuple[str, int, int, int], tuple[str, int, int, int]], ...] = (
    (("hdtf_WDA_KatieHill_000.mp4", 0, 216, 345), ("hdtf_WDA_KatieHill_000.mp4", 10, 216, 345)),
    (("syncnet_example.avi", 5, 72, 95), ("syncnet_example.avi", 6, 72, 95)),
    (("latentsync_demo1_video.mp4", 0, 500, 760), ("latentsync_demo2_video.mp4", 0, 500, 760)),
    (("retalking_face_1.mp4", 3, 310, 290), ("dinet_test19.mp4", 3, 60, 170)),
)


def seeded_tensors(
    shapes: Sequence[tuple[str, tuple[int, ...]]], seed: int, *, heads: bool = False
) -> dict[str, torch.Tensor]:
    """Stand-in weights: one draw per tensor, in the order given, from one seeded generator.

    Backbone convolution weights are ``randn * sqrt(2 / fan_in)`` (He scaling, so activations
    keep their size through the layers), biases ``randn * 0.1``; heads (``heads=True``) are
    ``rand`` (uniform in [0, 1): non-negative, as the trained heads are).
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in shapes:
        if heads:
            out[key] = torch.rand(shape, generator=gen, dtype=torch.float32)
            continue
        tensor = torch.randn(shape, generator=gen, dtype=torch.float32)
        scale = math.sqrt(2.0 / math.prod(shape[1:])) if len(shape) > 1 else 0.1
        out[key] = tensor * scale
    return out


def head_shapes(channels: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
    """Keys and shapes of the lpips package's v0.1 head files."""
    return [(f"lin{k}.model.1.weight", (1, c, 1, 1)) for k, c in enumerate(channels)]


def fingerprint(tensors: dict[str, torch.Tensor]) -> float:
    """Sum of absolute values over all tensors (float64): a check that both sides drew the
    same numbers."""
    return float(sum(t.double().abs().sum().item() for t in tensors.values()))


def decode_crop(media_dir: Path, video: str, index: int, x: int, y: int) -> np.ndarray:
    """(CROP_H, CROP_W, 3) uint8 RGB crop of frame ``index`` (PyAV's rgb24 conversion)."""
    with av.open(str(media_dir / video)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == index:
                rgb = frame.to_ndarray(format="rgb24")
                return np.ascontiguousarray(rgb[y : y + CROP_H, x : x + CROP_W])
    raise ValueError(f"{video} has no frame {index}")


def frame_pairs(media_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The two (len(PAIRS), CROP_H, CROP_W, 3) uint8 RGB stacks of :data:`PAIRS`."""
    a = np.stack([decode_crop(media_dir, *left) for left, _ in PAIRS])
    b = np.stack([decode_crop(media_dir, *right) for _, right in PAIRS])
    return a, b


def frames_sha256(frames: np.ndarray) -> str:
    """sha256 of a uint8 stack's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()
