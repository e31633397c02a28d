"""Two-stream SyncNet (Chung & Zisserman 2016), written from the layer table of the reference.

Key names match the official ``syncnet_v2.model`` state dict (``netcnnaud.*``, ``netcnnlip.*``,
``netfcaud.*``, ``netfclip.*``), so the official file and the parity-test file load strictly.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import ModelWeightsError
from .state import describe_checkpoint, key_mismatch

__all__ = ["SyncNet", "load_syncnet_state"]

# Side length range of frames the lip stream accepts: the conv/pool arithmetic must end on a
# 6x6 map for the (1, 6, 6) conv that feeds the 512-d linear layer.
LIP_MIN_SIDE_PX = 211
LIP_MAX_SIDE_PX = 242


def _conv_bn_relu2d(
    c_in: int, c_out: int, kernel: int | tuple[int, int], padding: int = 0
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=kernel, stride=1, padding=padding),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _conv_bn_relu3d(
    c_in: int,
    c_out: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int] = (1, 1, 1),
    padding: tuple[int, int, int] = (0, 0, 0),
) -> list[nn.Module]:
    return [
        nn.Conv3d(c_in, c_out, kernel_size=kernel, stride=stride, padding=padding),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
    ]


def _head() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, 1024)
    )


class SyncNet(nn.Module):
    """Audio stream on (N, 1, 13, 20) MFCC windows, lip stream on (N, 3, 5, H, W) BGR 0-255 clips.

    Both streams return raw (N, 1024) float embeddings, without L2 normalisation.
    """

    def __init__(self) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_conv_bn_relu2d(1, 64, 3, padding=1),  # 0-2
            nn.MaxPool2d(kernel_size=1, stride=1),  # 3: a no-op kept for the key indices
            *_conv_bn_relu2d(64, 192, 3, padding=1),  # 4-6
            nn.MaxPool2d(kernel_size=3, stride=(1, 2)),  # 7
            *_conv_bn_relu2d(192, 384, 3, padding=1),  # 8-10
            *_conv_bn_relu2d(384, 256, 3, padding=1),  # 11-13
            *_conv_bn_relu2d(256, 256, 3, padding=1),  # 14-16
            nn.MaxPool2d(kernel_size=3, stride=2),  # 17
            *_conv_bn_relu2d(256, 512, (5, 4)),  # 18-20
        )
        self.netcnnlip = nn.Sequential(
            *_conv_bn_relu3d(3, 96, (5, 7, 7), stride=(1, 2, 2)),  # 0-2
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),  # 3
            *_conv_bn_relu3d(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),  # 4-6
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),  # 7
            *_conv_bn_relu3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),  # 8-10
            *_conv_bn_relu3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),  # 11-13
            *_conv_bn_relu3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),  # 14-16
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),  # 17
            *_conv_bn_relu3d(256, 512, (1, 6, 6)),  # 18-20
        )
        self.netfcaud = _head()
        self.netfclip = _head()

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(N, 1, 13, 20) MFCC windows -> (N, 1024) audio embeddings."""
        out: torch.Tensor = self.netfcaud(self.netcnnaud(mfcc).flatten(1))
        return out

    def forward_lip(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, 5, H, W) float BGR 0-255 clips -> (N, 1024) lip embeddings."""
        out: torch.Tensor = self.netfclip(self.netcnnlip(clips).flatten(1))
        return out


def load_syncnet_state(model: SyncNet, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``model`` strictly, refusing missing, unexpected or mis-shaped keys.

    BatchNorm ``num_batches_tracked`` counters are optional (old checkpoints lack them) and are
    not used in eval mode.

    Raises:
        ModelWeightsError: naming every offending key and ``source``.
    """
    expected = {
        k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")
    }
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    problems = key_mismatch(expected, given)
    if problems:
        other = describe_checkpoint(given)
        if other is not None and not other.startswith("SyncNet"):
            raise ModelWeightsError(
                f"{source}: these are {other}, not SyncNet weights; pass syncnet_v2.model (or "
                "your own SyncNet state dict) as --syncnet-weights"
            )
        raise ModelWeightsError(f"{source}: not a SyncNet state dict ({problems})")
    model.load_state_dict(given, strict=False)
