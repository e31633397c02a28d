"""Fake models of known output for the paper's row (``syncnet-eval row``), registered under
names of their own, and the pairs they are tested on: the plumbing (one decode, features
files, set values, outputs, gates) checked end to end without the published networks.

Each fake computes a number a test can compute again from frames it decodes itself:

- ``colour-stats`` (fid): per frame, [mean grey, grey standard deviation, mean absolute
  horizontal gradient] / 255 (blur lowers the last two);
- ``clip-stats`` (fvd): clips of 4 frames every 2; per clip the mean of the frame features;
- ``pixel-distance`` (lpips): per pair, the mean absolute difference / 255;
- ``colour-identity`` (csim): the L2-normalised [mean R, mean G, mean B, gradient] (+1 so no
  row is zero), and the cosine of two of them.

The set values are checked against :func:`frechet_direct` (scipy's ``sqrtm``), an oracle
independent of ``syncnet_eval.frechet``'s eigendecompositions.
"""

from __future__ import annotations

from pathlib import Path
import subprocess
from typing import Any

import av
import numpy as np

from syncnet_eval.extractors import ExtractorSpec, register_extractor

FAKES = {
    "fid": "colour-stats",
    "fvd": "clip-stats",
    "lpips": "pixel-distance",
    "csim": "colour-identity",
}
CLIP_LENGTH, CLIP_STRIDE = 4, 2


def frame_features(frames: np.ndarray) -> np.ndarray:
    """(N, 3) float64 of (N, H, W, 3) uint8 RGB frames: mean grey, its std, mean |dx|."""
    grey = frames.astype(np.float64).mean(axis=3)
    dx = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))
    return np.stack([grey.mean(axis=(1, 2)), grey.std(axis=(1, 2)), dx], axis=1) / 255.0


class ColourStats:
    dim = 3

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        self.protocol = {"network": "colour-stats (tests)", "resize": "none"}

    def features(self, frames: np.ndarray) -> np.ndarray:
        return frame_features(frames)


class ClipStats:
    dim = 3
    clip_length = CLIP_LENGTH
    stride = CLIP_STRIDE

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        self.protocol = {"network": "clip-stats (tests)"}

    def features(self, clips: np.ndarray) -> np.ndarray:
        return np.stack([frame_features(c).mean(axis=0) for c in clips])


class PixelDistance:
    def __init__(self, weights: Path | None = None, device: str = "cpu", net: str = "") -> None:
        self.protocol = {"network": "pixel-distance (tests)"}

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return np.asarray(diff.reshape(len(a), -1).mean(axis=1) / 255.0)


class ColourIdentity:
    name = "colour-identity"
    dim = 4

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        self.protocol = {"network": "colour-identity (tests)"}

    def embed(self, frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        rgb = frames.astype(np.float64).mean(axis=(1, 2)) / 255.0
        grad = frame_features(frames)[:, 2:3]
        rows = np.concatenate([rgb, grad], axis=1) + 1.0
        return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))

    def csim(self, embeddings: np.ndarray, identity: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings @ identity / np.linalg.norm(identity))


def _register() -> None:
    for role, cls in (
        ("fid", "ColourStats"),
        ("fvd", "ClipStats"),
        ("lpips", "PixelDistance"),
        ("csim", "ColourIdentity"),
    ):
        register_extractor(ExtractorSpec(FAKES[role], role, f"{cls} (tests)", f"row_helpers:{cls}"))  # type: ignore[arg-type]


def frechet_direct(mu1: Any, s1: Any, mu2: Any, s2: Any) -> float:
    """||mu1 - mu2||^2 + Tr(s1 + s2 - 2 sqrtm(s1 s2)) with scipy (the test oracle)."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def decode_rgb(path: Path) -> np.ndarray:
    """Every frame of ``path`` as (N, H, W, 3) uint8 RGB (PyAV; the test's own decode)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def cut_clip(src: Path, dst: Path, seconds: float, blur: float = 0.0, start: float = 0.0) -> Path:
    """``seconds`` of ``src`` from ``start``, lossless (FFV1 + PCM in Matroska), blurred by a
    Gaussian of ``blur`` px (0: none)."""
    vf = ["-vf", f"gblur=sigma={blur}"] if blur else []
    vf = ["-ss", str(start), *vf] if start else vf
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-t",
            str(seconds),
            *vf,
            "-c:v",
            "ffv1",
            "-c:a",
            "pcm_s16le",
            str(dst),
        ],
        check=True,
        capture_output=True,
    )
    return dst


_register()
