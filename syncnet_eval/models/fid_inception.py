"""The Inception-v3 of FID: TensorFlow's 2015-12-05 graph as pytorch-fid and torch-fidelity port it.

FID (Heusel et al. 2017) is defined on the 2048-d ``pool_3`` features of one particular network,
the Inception-v3 TensorFlow released on 2015-12-05 (``inception-2015-12-05.tgz``), which TTUR's
reference ``fid.py`` loads. It is not torchvision's Inception-v3: other weights, and a graph with
quirks that pytorch-fid (``FIDInception*`` blocks), torch-fidelity
(``feature_extractor_inceptionv3.py``) and clean-fid (NVIDIA's TorchScript export) reproduce:

- every average pool inside the mixed blocks (3x3, stride 1, padding 1) averages only the pixels
  inside the map: TensorFlow's ``SAME`` average pooling does not count the padding;
- the last mixed block (``Mixed_7c``) pools its pool branch with a 3x3 **max** pool (the graph
  has max pooling there, where the paper and torchvision have average pooling);
- batch normalisation has epsilon 0.001 and convolutions have no bias;
- the classifier has 1008 outputs (1000 ImageNet classes plus 8 unused); FID does not use it.

This module is our own code, written from that description; its parameter and buffer names
are the ones of pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (torchvision's naming:
``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch_pool.bn.running_var``, ``fc.bias``...), so the
published file loads strictly (566 entries). torch-fidelity's release
``weights-inception-2015-12-05-6726825d.pth`` has the same sha256, i.e. it is the same file.
Input scaling and resizing are the caller's (:mod:`syncnet_eval.fid`): this network takes
(N, 3, 299, 299) float32 scaled to [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
import torch.nn.functional as F

from ..errors import ModelWeightsError
from .state import describe_checkpoint, key_mismatch

__all__ = [
    "FEATURE_DIM",
    "INPUT_SIDE_PX",
    "FidInceptionV3",
    "load_fid_inception_state",
    "seeded_state_dict",
]

# Side of the square input the graph was trained and exported at (TTUR resizes to it).
INPUT_SIDE_PX = 299
# Channels of pool_3, the layer FID is defined on.
FEATURE_DIM = 2048
# Outputs of the 2015-12-05 graph's classifier (1000 ImageNet classes + 8 unused).
_LOGITS = 1008
# TensorFlow's batch-norm epsilon in that graph.
_BN_EPS = 1e-3

_Size = int | tuple[int, int]


class _ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: the graph's unit."""

    def __init__(
        self, c_in: int, c_out: int, kernel: _Size, stride: int = 1, padding: _Size = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _same_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3x3/1 ``SAME`` average pool: the border averages only real pixels."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _Mixed35(nn.Module):
    """The 35x35 mixed block (``Mixed_5b/5c/5d``): 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, c_in: int, pool_channels: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(c_in, 64, 1)
        self.branch5x5_1 = _ConvBN(c_in, 48, 1)
        self.branch5x5_2 = _ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, padding=1)
        self.branch_pool = _ConvBN(c_in, pool_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        five = self.branch5x5_2(self.branch5x5_1(x))
        double = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pooled = self.branch_pool(_same_avg_pool(x))
        return torch.cat([self.branch1x1(x), five, double, pooled], 1)


class _Reduce35(nn.Module):
    """35x35 -> 17x17 (``Mixed_6a``): strided 3x3, strided double 3x3, 3x3/2 max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = _ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pooled = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.branch3x3(x), double, pooled], 1)


class _Mixed17(nn.Module):
    """The 17x17 mixed block (``Mixed_6b..6e``): factorised 7x7 convolutions."""

    def __init__(self, c_in: int, mid: int) -> None:
        super().__init__()
        row, col = (1, 7), (7, 1)
        row_pad, col_pad = (0, 3), (3, 0)
        self.branch1x1 = _ConvBN(c_in, 192, 1)
        self.branch7x7_1 = _ConvBN(c_in, mid, 1)
        self.branch7x7_2 = _ConvBN(mid, mid, row, padding=row_pad)
        self.branch7x7_3 = _ConvBN(mid, 192, col, padding=col_pad)
        self.branch7x7dbl_1 = _ConvBN(c_in, mid, 1)
        self.branch7x7dbl_2 = _ConvBN(mid, mid, col, padding=col_pad)
        self.branch7x7dbl_3 = _ConvBN(mid, mid, row, padding=row_pad)
        self.branch7x7dbl_4 = _ConvBN(mid, mid, col, padding=col_pad)
        self.branch7x7dbl_5 = _ConvBN(mid, 192, row, padding=row_pad)
        self.branch_pool = _ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = self.branch7x7dbl_1(x)
        for layer in (
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            double = layer(double)
        pooled = self.branch_pool(_same_avg_pool(x))
        return torch.cat([self.branch1x1(x), seven, double, pooled], 1)


class _Reduce17(nn.Module):
    """17x17 -> 8x8 (``Mixed_7a``): strided 3x3 and 7x7-then-strided-3x3 branches, max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = _ConvBN(c_in, 192, 1)
        self.branch3x3_2 = _ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_2(self.branch3x3_1(x))
        seven = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            seven = layer(seven)
        pooled = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([three, seven, pooled], 1)


class _Mixed8(nn.Module):
    """The 8x8 mixed block (``Mixed_7b``, ``Mixed_7c``): split 1x3/3x1 branches.

    ``max_pool``: the pool branch max-pools instead of averaging (``Mixed_7c`` of the 2015-12-05
    graph; pytorch-fid's ``FIDInceptionE_2``, torch-fidelity's ``InceptionE_2``).
    """

    def __init__(self, c_in: int, *, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _ConvBN(c_in, 320, 1)
        self.branch3x3_1 = _ConvBN(c_in, 384, 1)
        self.branch3x3_2a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = _ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_1(x)
        three = torch.cat([self.branch3x3_2a(three), self.branch3x3_2b(three)], 1)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        double = torch.cat([self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _same_avg_pool(x)
        return torch.cat([self.branch1x1(x), three, double, self.branch_pool(pooled)], 1)


class FidInceptionV3(nn.Module):
    """FID's Inception-v3 up to ``pool_3``: (N, 3, 299, 299) in [-1, 1] -> (N, 2048) float.

    ``fc`` (2048 -> 1008) is kept so that the published state dict loads strictly; FID never
    runs it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBN(80, 192, 3)
        self.Mixed_5b = _Mixed35(192, pool_channels=32)
        self.Mixed_5c = _Mixed35(256, pool_channels=64)
        self.Mixed_5d = _Mixed35(288, pool_channels=64)
        self.Mixed_6a = _Reduce35(288)
        self.Mixed_6b = _Mixed17(768, mid=128)
        self.Mixed_6c = _Mixed17(768, mid=160)
        self.Mixed_6d = _Mixed17(768, mid=160)
        self.Mixed_6e = _Mixed17(768, mid=192)
        self.Mixed_7a = _Reduce17(768)
        self.Mixed_7b = _Mixed8(1280, max_pool=False)
        self.Mixed_7c = _Mixed8(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, _LOGITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (N, 3, 299, 299) float, RGB scaled to [-1, 1]. Returns (N, 2048) pool_3."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        # pool_3: the mean over the 8x8 map (the graph's 8x8 VALID average pool).
        return x.mean(dim=(2, 3))


def load_fid_inception_state(model: FidInceptionV3, state: Mapping[str, torch.Tensor]) -> None:
    """Load a state dict strictly, with one line naming what does not fit.

    Raises:
        ModelWeightsError: keys or shapes differ from the 2015-12-05 FID Inception's.
    """
    problem = key_mismatch(model.state_dict(), state)
    if problem is not None:
        known = describe_checkpoint(state)
        what = f" (it looks like {known})" if known else ""
        raise ModelWeightsError(
            f"not the FID Inception-v3 (pt_inception-2015-12-05-6726825d.pth){what}: {problem}"
        )
    model.load_state_dict(dict(state), strict=True)


def seeded_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Random weights of this architecture for parity tests, never the real network's.

    Drawn from ``torch.Generator().manual_seed(seed)`` in state-dict order, so the tests and
    ``scripts/record_fid_reference.py`` (run under another torch) build the same tensors:
    convolutions He-normal (``std = sqrt(2 / fan_in)``, which keeps activations at a steady
    scale through the ReLUs), batch norm with random scale, shift and running statistics (so
    the eps and the running statistics are exercised), the classifier small.
    """
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, tensor in FidInceptionV3().state_dict().items():
        shape = tensor.shape
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros_like(tensor)
        elif name.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
        elif name.endswith(("bn.weight", "bn.running_var")):
            state[name] = 0.5 + torch.rand(shape, generator=generator)
        elif name.endswith(("bn.bias", "bn.running_mean")):
            state[name] = 0.1 * torch.randn(shape, generator=generator)
        else:  # fc.weight, fc.bias
            state[name] = 0.01 * torch.randn(shape, generator=generator)
    return state
