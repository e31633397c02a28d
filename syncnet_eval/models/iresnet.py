"""IResNet, the face-recognition backbone of insightface's arcface_torch, written from its code.

Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition" (CVPR 2019),
trained and released by insightface's ``recognition/arcface_torch`` (``backbones/iresnet.py``).
The network maps a 112x112 RGB face, aligned to insightface's 5-point template and scaled to
[-1, 1], to a 512-d identity embedding:

- a 3x3 stem (64 channels), BatchNorm, PReLU, stride 1;
- four stages of "improved" basic blocks (BN, 3x3 conv, BN, PReLU, 3x3 conv with the stage's
  stride, BN, plus the shortcut; a 1x1 conv + BN shortcut where the shape changes), each stage
  halving the resolution (112 -> 56 -> 28 -> 14 -> 7) with 64, 128, 256, 512 channels;
- BN, flatten (512 * 7 * 7), a linear layer to the embedding and a last BatchNorm1d
  (``features``, its scale frozen at 1 in training).

Module names follow arcface_torch's (``layer3.12.prelu.weight``, ``features.running_var``...),
so the released ``backbone.pth`` files load strictly. Training-only parts have no weights and
are left out: dropout (0 in the released configs, and off in ``eval()``), gradient
checkpointing, fp16 autocast.
"""

from __future__ import annotations

from collections.abc import Mapping
import re

import torch
from torch import nn

from ..errors import ModelWeightsError
from .state import key_mismatch

__all__ = ["ARCFACE_INPUT_PX", "IRESNET_LAYERS", "IResNet", "iresnet_from_state"]

# The face crop the network takes: 112x112, so that four stride-2 stages leave 7x7 maps for the
# linear layer (arcface_torch's fc_scale = 7 * 7).
ARCFACE_INPUT_PX = 112
_FINAL_MAP_PX = 7
# BatchNorm eps of arcface_torch (all its BN layers use 1e-5).
_BN_EPS = 1e-5
_STAGE_CHANNELS = (64, 128, 256, 512)
# Blocks per stage of arcface_torch's backbones (backbones/iresnet.py: iresnet18 ... iresnet200).
IRESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "iresnet18": (2, 2, 2, 2),
    "iresnet34": (3, 4, 6, 3),
    "iresnet50": (3, 4, 14, 3),
    "iresnet100": (3, 13, 30, 3),
    "iresnet200": (6, 26, 60, 6),
}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class _Block(nn.Module):
    """arcface_torch's IBasicBlock: BN-conv-BN-PReLU-conv(stride)-BN, plus the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=_BN_EPS)
        self.conv1 = _conv3x3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3x3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(cout, eps=_BN_EPS),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut: torch.Tensor = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(nn.Module):
    """The backbone (see the module docstring).

    Args:
        layers: blocks per stage, e.g. ``IRESNET_LAYERS["iresnet100"]``.
        num_features: embedding size (512 in every released model).
    """

    def __init__(self, layers: tuple[int, int, int, int], num_features: int = 512) -> None:
        super().__init__()
        self.conv1 = _conv3x3(3, _STAGE_CHANNELS[0])
        self.bn1 = nn.BatchNorm2d(_STAGE_CHANNELS[0], eps=_BN_EPS)
        self.prelu = nn.PReLU(_STAGE_CHANNELS[0])
        cin = _STAGE_CHANNELS[0]
        stages = []
        for cout, blocks in zip(_STAGE_CHANNELS, layers, strict=True):
            stage = [_Block(cin, cout, 2)] + [_Block(cout, cout, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn2 = nn.BatchNorm2d(cin, eps=_BN_EPS)
        self.fc = nn.Linear(cin * _FINAL_MAP_PX * _FINAL_MAP_PX, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of aligned faces.

        Args:
            x: (B, 3, 112, 112) float32 RGB scaled to [-1, 1] (``(x / 255 - 0.5) / 0.5``).

        Returns:
            (B, num_features) float32 embeddings, not normalised.
        """
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        out: torch.Tensor = self.features(self.fc(x))
        return out


def _stage_depths(state: Mapping[str, torch.Tensor]) -> tuple[int, int, int, int] | None:
    """Blocks per stage, read from the key names (``layer2.12.conv1.weight`` -> 13 or more)."""
    depths = [0, 0, 0, 0]
    for key in state:
        found = re.match(r"layer([1-4])\.(\d+)\.", key)
        if found is not None:
            stage = int(found.group(1)) - 1
            depths[stage] = max(depths[stage], int(found.group(2)) + 1)
    if 0 in depths:
        return None
    return depths[0], depths[1], depths[2], depths[3]


def iresnet_from_state(state: Mapping[str, torch.Tensor], source: str) -> tuple[IResNet, str]:
    """Build the IResNet a state dict is for and load it strictly.

    The depth is read from the key names and must be one of :data:`IRESNET_LAYERS`; the
    embedding size from ``fc.weight``. Keys saved from ``DistributedDataParallel``
    (``module.`` prefix) are accepted.

    Args:
        state: an arcface_torch backbone state dict (``torch.save(backbone.state_dict())``).
        source: the file, for messages.

    Returns:
        The model (CPU, ``eval()``) and its architecture name, e.g. ``iresnet100``.

    Raises:
        ModelWeightsError: the keys are not those of an arcface_torch IResNet, naming ``source``.
    """
    given = {k.removeprefix("module."): v for k, v in state.items()}
    depths = _stage_depths(given)
    arch = next((name for name, layers in IRESNET_LAYERS.items() if layers == depths), None)
    fc = given.get("fc.weight")
    if arch is None or fc is None or fc.dim() != 2:
        known = ", ".join(IRESNET_LAYERS)
        raise ModelWeightsError(
            f"{source}: not an arcface_torch IResNet backbone (blocks per stage {depths}; "
            f"known: {known}); pass the backbone.pth of an insightface arcface_torch model"
        )
    # Built without storage (no random init of 65 M parameters), then given the file's tensors.
    with torch.device("meta"):
        model = IResNet(IRESNET_LAYERS[arch], num_features=int(fc.shape[0]))
    problems = key_mismatch(model.state_dict(), given)
    if problems:
        raise ModelWeightsError(f"{source}: not an arcface_torch {arch} backbone ({problems})")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in given.items()}
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.eval(), arch
