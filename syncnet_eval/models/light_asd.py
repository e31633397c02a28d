"""Light-ASD (Liao et al., CVPR 2023), an active-speaker detector, written from its paper.

The network judges whether the face of a track speaks the audio, frame by frame:

- visual encoder on (B, T, 112, 112) grey faces: three blocks, each two parallel branches (a
  k x k spatial conv then a k-tap temporal conv, k = 3 and 5) summed and mixed by a 1x1x1 conv;
  the first block halves the resolution, a 3x3 stride-2 max pool follows blocks 1 and 2, and a
  spatial max over the last map gives (B, T, 128);
- audio encoder on (B, 4T, 13) MFCC at 100 Hz: the same two-branch blocks in 2-D (a k-tap conv
  over the cepstra, then a k-tap conv over time), a stride-2 max pool over time after blocks 1
  and 2 (100 Hz -> 25 Hz), a mean over the cepstra: (B, T, 128);
- the two sums go through a bidirectional GRU made of two one-way GRUs (the second runs on the
  time-reversed sequence), each followed by GELU;
- a linear layer to two classes; the frame's score is the "speaking" logit (>= 0: speaking).

Module and parameter names follow the published checkpoints (``model.visualEncoder.block1.s_3``,
``lossAV.FC``...), so both load strictly. ``lossV`` (the visual-only head used in training) is
kept so that every key of a checkpoint is matched, and is never used at inference.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import ModelWeightsError
from .state import describe_checkpoint, key_mismatch

__all__ = ["ASD_FACE_PX", "LightASD", "load_light_asd_state"]

# The network's face input: the centre 112x112 of the 224x224 face crop, grey (its authors'
# Columbia/demo code crops face[56:168, 56:168]).
ASD_FACE_PX = 112
# Grey-level normalisation of the visual frontend (its training statistics).
_GREY_MEAN = 0.4161
_GREY_STD = 0.1688
# BatchNorm settings of the published code; eps changes the inference arithmetic.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01
_EMBED_DIM = 128


def _bn3d(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class _VisualBlock(nn.Module):
    """Two branches (k = 3, 5): spatial k x k conv (stride 2 when ``downsample``), then a
    k-frame temporal conv, each with BN + ReLU; summed, then 1x1x1 conv + BN + ReLU."""

    def __init__(self, c_in: int, c_out: int, *, downsample: bool) -> None:
        super().__init__()
        stride = (1, 2, 2) if downsample else (1, 1, 1)
        for k in (3, 5):
            pad = k // 2
            spatial = nn.Conv3d(
                c_in, c_out, (1, k, k), stride=stride, padding=(0, pad, pad), bias=False
            )
            temporal = nn.Conv3d(c_out, c_out, (k, 1, 1), padding=(pad, 0, 0), bias=False)
            setattr(self, f"s_{k}", spatial)
            setattr(self, f"bn_s_{k}", _bn3d(c_out))
            setattr(self, f"t_{k}", temporal)
            setattr(self, f"bn_t_{k}", _bn3d(c_out))
        self.last = nn.Conv3d(c_out, c_out, 1, bias=False)
        self.bn_last = _bn3d(c_out)

    def _branch(self, x: torch.Tensor, k: int) -> torch.Tensor:
        x = torch.relu(getattr(self, f"bn_s_{k}")(getattr(self, f"s_{k}")(x)))
        return torch.relu(getattr(self, f"bn_t_{k}")(getattr(self, f"t_{k}")(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self._branch(x, 3) + self._branch(x, 5)
        return torch.relu(self.bn_last(self.last(mixed)))


class _AudioBlock(nn.Module):
    """Two branches (k = 3, 5): a k-tap conv over the cepstra, then a k-tap conv over time, each
    with BN + ReLU; summed, then 1x1 conv + BN + ReLU. Input (B, C, 13, time)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        for k in (3, 5):
            pad = k // 2
            setattr(self, f"m_{k}", nn.Conv2d(c_in, c_out, (k, 1), padding=(pad, 0), bias=False))
            setattr(self, f"bn_m_{k}", _bn2d(c_out))
            setattr(self, f"t_{k}", nn.Conv2d(c_out, c_out, (1, k), padding=(0, pad), bias=False))
            setattr(self, f"bn_t_{k}", _bn2d(c_out))
        self.last = nn.Conv2d(c_out, c_out, 1, bias=False)
        self.bn_last = _bn2d(c_out)

    def _branch(self, x: torch.Tensor, k: int) -> torch.Tensor:
        x = torch.relu(getattr(self, f"bn_m_{k}")(getattr(self, f"m_{k}")(x)))
        return torch.relu(getattr(self, f"bn_t_{k}")(getattr(self, f"t_{k}")(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self._branch(x, 3) + self._branch(x, 5)
        return torch.relu(self.bn_last(self.last(mixed)))


class _VisualEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = _VisualBlock(1, 32, downsample=True)
        self.block2 = _VisualBlock(32, 64, downsample=False)
        self.block3 = _VisualBlock(64, _EMBED_DIM, downsample=False)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, 112, 112) normalised grey -> (B, T, 128)."""
        x = self.pool(self.block1(x))
        x = self.pool(self.block2(x))
        x = self.block3(x)  # (B, 128, T, 14, 14)
        return x.amax(dim=(3, 4)).transpose(1, 2)


class _AudioEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = _AudioBlock(1, 32)
        self.block2 = _AudioBlock(32, 64)
        self.block3 = _AudioBlock(64, _EMBED_DIM)
        # Halves the time axis only (100 Hz MFCC -> 50 -> 25 Hz, the video rate).
        self.pool = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 4T) MFCC -> (B, T, 128)."""
        x = self.pool(self.block1(x))
        x = self.pool(self.block2(x))
        x = self.block3(x)  # (B, 128, 13, T)
        return x.mean(dim=2).transpose(1, 2)


class _BiGRU(nn.Module):
    """A forward GRU, GELU, a GRU over the reversed sequence (reversed back), GELU."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gru_forward = nn.GRU(dim, dim, num_layers=1, batch_first=True)
        self.gru_backward = nn.GRU(dim, dim, num_layers=1, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.gru_forward(x)[0])
        x = self.gru_backward(x.flip(1))[0].flip(1)
        return nn.functional.gelu(x)


class _Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.visualEncoder = _VisualEncoder()  # noqa: N815 - the checkpoints' key names
        self.audioEncoder = _AudioEncoder()  # noqa: N815
        self.GRU = _BiGRU(_EMBED_DIM)


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.FC = nn.Linear(_EMBED_DIM, 2)


class LightASD(nn.Module):
    """The Light-ASD network: grey faces and MFCC of one track in, a speaking logit per frame."""

    def __init__(self) -> None:
        super().__init__()
        self.model = _Backbone()
        self.lossAV = _Head()  # noqa: N815 - the checkpoints' key names
        self.lossV = _Head()  # noqa: N815 - training-only visual head, loaded, never used

    def forward(self, faces: torch.Tensor, mfcc: torch.Tensor) -> torch.Tensor:
        """Speaking logits of a batch of equally long clips.

        Args:
            faces: (B, T, 112, 112) float grey levels 0-255.
            mfcc: (B, 4T, 13) float MFCC at 100 Hz (python_speech_features' defaults).

        Returns:
            (B, T) logits; a frame speaks when its logit is >= 0.
        """
        grey = (faces / 255.0 - _GREY_MEAN) / _GREY_STD
        visual = self.model.visualEncoder(grey.unsqueeze(1))
        audio = self.model.audioEncoder(mfcc.unsqueeze(1).transpose(2, 3))
        joint = self.model.GRU(visual + audio)
        logits: torch.Tensor = self.lossAV.FC(joint)[..., 1]
        return logits


def load_light_asd_state(model: LightASD, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy a Light-ASD checkpoint into ``model``, refusing missing, unexpected or mis-shaped keys
    (every key of the published checkpoints is matched, BatchNorm counters included).

    A checkpoint saved from ``nn.DataParallel`` (keys prefixed ``module.``) is accepted.

    Raises:
        ModelWeightsError: naming ``source`` and every offending key.
    """
    given = {k.removeprefix("module."): v for k, v in state.items()}
    problems = key_mismatch(model.state_dict(), given)
    if problems:
        other = describe_checkpoint(given)
        if other is not None and "Light-ASD" not in other:
            raise ModelWeightsError(
                f"{source}: these are {other}, not a Light-ASD checkpoint; pass one of Light-ASD's "
                "weight/*.model files as --asd-weights"
            )
        raise ModelWeightsError(f"{source}: not a Light-ASD checkpoint ({problems})")
    model.load_state_dict(given, strict=True)
