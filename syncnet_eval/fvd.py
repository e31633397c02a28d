"""FVD features: Inception-I3D (Kinetics-400) logits of 16-frame clips, StyleGAN-V's protocol.

FVD (Unterthiner et al. 2018, arXiv:1812.01717) is the Fréchet distance between Gaussians
fitted to I3D features of real and generated clips. This module turns frames into those
features; the distance itself is :mod:`syncnet_eval.frechet`'s (``FeatureStats``,
``frechet_from_stats``). The protocol follows StyleGAN-V (Skorokhodov et al., CVPR 2022;
``src/metrics/frechet_video_distance.py``), which reproduces the original TensorFlow code
(google-research ``frechet_video_distance``) in PyTorch:

- detector: StyleGAN-V's ``i3d_torchscript.pt``, a port of TF-hub's ``i3d-kinetics-400/1``
  (whose weights differ from the ones in DeepMind's kinetics-i3d repository), run through our
  :class:`~syncnet_eval.models.i3d.InceptionI3d`;
- clips of 16 consecutive frames (``fvd2048_16f``); every frame resized to 224 x 224 (bilinear,
  half-pixel centres, no antialias: ``torch.nn.functional.interpolate``), scaled to [-1, 1] as
  ``2 * x / 255 - 1`` (the TF code's ``preprocess``);
- feature: the 400 pre-softmax logits averaged over time (TF ``RGB/inception_i3d/Mean:0``;
  StyleGAN-V's ``return_features=True``).

Clip sampling is ours (StyleGAN-V takes one clip per video at a random offset for real data,
offset 0 for generated): clips start at frame 0 and every ``stride`` frames after it, default
16 (consecutive, non-overlapping clips); a tail shorter than a clip is dropped;
``max_clips`` keeps the first few (1: StyleGAN-V's clip of a generated video). docs/fvd.md has
the comparison.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .device import resolve_device
from .errors import ConfigError, InputError, ModelWeightsError
from .models.i3d import I3D_CLASSES, I3D_MIN_FRAMES, I3D_SIZE_PX, InceptionI3d, load_i3d_state
from .models.weights import WEIGHTS_ENV_VAR, search_dirs, weights_sha256

__all__ = [
    "CLIP_LENGTH_FRAMES",
    "DEFINITION",
    "I3D_FILENAME",
    "I3D_URL",
    "FvdExtractor",
    "preprocess_clips",
]

logger = logging.getLogger(__name__)

DEFINITION = (
    "FVD: Fréchet distance between Gaussians fitted to Inception-I3D (Kinetics-400) logits of "
    "16-frame clips (Unterthiner et al. 2018, arXiv:1812.01717, Sec. 2, Eq. 2); features per "
    "StyleGAN-V (Skorokhodov et al., CVPR 2022; src/metrics/frechet_video_distance.py): "
    "i3d_torchscript.pt, frames resized to 224x224 (bilinear), scaled to [-1, 1], pre-softmax "
    "logits averaged over time (400-d)"
)

# StyleGAN-V's fvd2048_16f: 16 consecutive frames per clip (the number the TF-hub I3D FVD was
# reported with in most video-generation papers since).
CLIP_LENGTH_FRAMES = 16
# StyleGAN-V's detector (its compute_fvd's detector_url). No size or sha256 of the file is
# published with it, so it is not in the weights manifest: it is looked up by name only.
I3D_FILENAME = "i3d_torchscript.pt"
I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
_RESIZE = "bilinear, align_corners=False, antialias=False (torch.nn.functional.interpolate)"
_BATCH_CLIPS = 4


def _default_weights() -> Path:
    """``i3d_torchscript.pt`` in the weights search directories, or a one-line error."""
    dirs = search_dirs()
    for directory in dirs:
        candidate = directory / I3D_FILENAME
        if candidate.is_file():
            return candidate
    where = ", ".join(str(d) for d in dirs)
    raise ModelWeightsError(
        f"{I3D_FILENAME} (StyleGAN-V's Kinetics-400 I3D, the FVD detector) not found in {where}; "
        f"download {I3D_URL} on a machine with internet access and copy it there (or into the "
        f"{WEIGHTS_ENV_VAR} directory), or pass the file explicitly"
    )


def preprocess_clips(clips: np.ndarray) -> torch.Tensor:
    """uint8 clips to the I3D input: resize every frame to 224 x 224, scale to [-1, 1].

    Args:
        clips: (n, T, H, W, 3) uint8 RGB, any H and W.

    Returns:
        (n, 3, T, 224, 224) float32 in [-1, 1]. The resize (bilinear, half-pixel centres, no
        antialias) is skipped when the frames are already 224 x 224; it is linear, so resizing
        before or after the affine scaling gives the same numbers up to rounding.
    """
    n, t, h, w, c = clips.shape
    frames = torch.from_numpy(np.ascontiguousarray(clips)).reshape(n * t, h, w, c)
    frames = frames.permute(0, 3, 1, 2).float()  # (n*T, 3, H, W)
    if (h, w) != (I3D_SIZE_PX, I3D_SIZE_PX):
        frames = F.interpolate(
            frames, size=(I3D_SIZE_PX, I3D_SIZE_PX), mode="bilinear", align_corners=False
        )
    frames = frames * (2.0 / 255.0) - 1.0
    return frames.reshape(n, t, c, I3D_SIZE_PX, I3D_SIZE_PX).permute(0, 2, 1, 3, 4).contiguous()


class FvdExtractor:
    """I3D features of video clips for FVD.

    Args:
        weights: I3D weights: StyleGAN-V's ``i3d_torchscript.pt`` (TorchScript) or a state dict
            with pytorch-i3d's names; ``None`` looks for ``i3d_torchscript.pt`` in the
            ``SYNCNET_EVAL_WEIGHTS`` directory, then the weights cache.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        stride: frames between the starts of consecutive clips (16: back to back; less:
            overlapping; more: gaps).
        max_clips: keep at most this many clips per video (the first ones); ``None``: all.

    Attributes:
        protocol: what the features depend on (network, weights file and sha256, clip length,
            stride, clip limit, resolution, resize, input range, layer, dimension).
        dim: feature dimension (400).
        clip_length: frames per clip (16).
        stride: frames between clip starts.

    Raises:
        ModelWeightsError: no weights found, or the file is not this network's.
        ConfigError: stride or max_clips below 1, or an unknown device.
    """

    def __init__(
        self,
        weights: Path | None = None,
        device: str = "cpu",
        *,
        stride: int = CLIP_LENGTH_FRAMES,
        max_clips: int | None = None,
    ) -> None:
        if stride < 1:
            raise ConfigError(f"FVD clip stride must be at least 1 frame, got {stride}")
        if max_clips is not None and max_clips < 1:
            raise ConfigError(f"FVD max clips per video must be at least 1, got {max_clips}")
        path = Path(weights) if weights is not None else _default_weights()
        if not path.is_file():
            raise ModelWeightsError(f"I3D weights {path} do not exist; pass an existing file")
        self.clip_length = CLIP_LENGTH_FRAMES
        self.stride = stride
        self.max_clips = max_clips
        self.dim = I3D_CLASSES
        self._device = resolve_device(device)
        model = InceptionI3d()
        load_i3d_state(model, path)
        self._model = model.eval().to(self._device)
        self.protocol: dict[str, object] = {
            "network": "Inception-I3D RGB, Kinetics-400 (TF-hub i3d-kinetics-400/1 port)",
            "weights": str(path),
            "weights_sha256": weights_sha256(path),
            "clip_length_frames": self.clip_length,
            "stride_frames": stride,
            "max_clips_per_video": max_clips,
            "resolution_px": I3D_SIZE_PX,
            "resize": _RESIZE,
            "input_range": "[-1, 1] = 2 * x / 255 - 1",
            "layer": "logits, pre-softmax, averaged over time (TF RGB/inception_i3d/Mean:0)",
            "dim": self.dim,
        }

    def clips(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Cut a stream of frames into clips, holding at most one clip of frames.

        Clip k covers frames ``k * stride`` to ``k * stride + 15``; a video of N >= 16 frames
        gives ``(N - 16) // stride + 1`` clips (before ``max_clips``), a shorter one none.

        Args:
            frames: (H, W, 3) uint8 RGB frames, all the same size.

        Yields:
            (16, H, W, 3) uint8 clips, in order.

        Raises:
            InputError: a frame that is not (H, W, 3) uint8, or whose size changes.
        """
        window: deque[np.ndarray] = deque(maxlen=self.clip_length)
        shape: tuple[int, ...] | None = None
        made = 0
        for index, frame in enumerate(frames):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InputError(
                    f"frame {index}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}"
                )
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise InputError(f"frame {index}: size {frame.shape} differs from {shape}")
            window.append(frame)
            start = index - self.clip_length + 1
            if start >= 0 and start % self.stride == 0:
                yield np.stack(window)
                made += 1
                if self.max_clips is not None and made >= self.max_clips:
                    return

    def features(self, clips: np.ndarray) -> np.ndarray:
        """I3D features of clips.

        Args:
            clips: (n, T, H, W, 3) uint8 RGB, T >= 9 (16 by the protocol), any H and W.

        Returns:
            (n, 400) float64: time-averaged pre-softmax Kinetics-400 logits.

        Raises:
            InputError: not (n, T, H, W, 3) uint8, or T below 9.
        """
        if clips.ndim != 5 or clips.shape[4] != 3 or clips.dtype != np.uint8:
            raise InputError(
                f"clips: expected (n, T, H, W, 3) uint8 RGB, got {clips.shape} {clips.dtype}"
            )
        if clips.shape[1] < I3D_MIN_FRAMES:
            raise InputError(
                f"clips of {clips.shape[1]} frames: I3D needs at least {I3D_MIN_FRAMES} "
                f"(FVD uses {self.clip_length})"
            )
        out = np.empty((clips.shape[0], self.dim), dtype=np.float64)
        with torch.inference_mode():
            for i in range(0, clips.shape[0], _BATCH_CLIPS):
                batch = preprocess_clips(clips[i : i + _BATCH_CLIPS]).to(self._device)
                out[i : i + batch.shape[0]] = self._model(batch).double().cpu().numpy()
        return out
