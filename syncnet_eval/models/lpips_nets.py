"""The networks LPIPS runs on: AlexNet and VGG16 feature stacks and the 1x1 linear heads.

The backbones are written here from the layer tables of torchvision's ``AlexNet`` and ``VGG``
(configuration "D") ``features`` stacks, so their key names are torchvision's
(``features.0.weight``, ``features.3.bias``...) and its published ImageNet files
(``alexnet-owt-7be5be79.pth``, ``vgg16-397923af.pth``) load strictly into them; the files'
``classifier.*`` keys are not used by LPIPS and are dropped. The taps are those of the ``lpips``
package (richzhang/PerceptualSimilarity, ``pretrained_networks.py``): the output of each of the
five ReLUs that close its "slices" (AlexNet relu1..relu5; VGG16 relu1_2, relu2_2, relu3_3,
relu4_3, relu5_3).

The heads are the package's ``NetLinLayer``: one bias-free 1x1 convolution from C channels to 1
per tapped layer, stored as ``lin<k>.model.1.weight`` of shape (1, C, 1, 1) in its
``weights/v0.1/<net>.pth`` files (``model.0`` is a dropout layer that only trains).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re

import torch
from torch import nn

from ..errors import ModelWeightsError
from .state import key_mismatch

__all__ = [
    "LPIPS_NETS",
    "AlexNetFeatures",
    "TappedFeatures",
    "LpipsHeads",
    "LpipsNet",
    "Vgg16Features",
    "backbone_state",
    "build_backbone",
    "heads_state",
]


@dataclass(frozen=True)
class LpipsNet:
    """One backbone LPIPS can run on.

    Attributes:
        name: the ``lpips`` package's name for it (``alex``, ``vgg``).
        channels: channels of the five tapped activations.
        taps: indices in ``features`` of the ReLUs whose outputs are tapped.
        min_side_px: the least frame side the taps accept (the last tapped map is 1x1 or more).
        backbone_weights: weights-registry name of its ImageNet file.
        heads_weights: weights-registry name of its LPIPS v0.1 linear heads.
    """

    name: str
    channels: tuple[int, ...]
    taps: tuple[int, ...]
    min_side_px: int
    backbone_weights: str
    heads_weights: str


# The lpips package's `chns` and slice ends (pretrained_networks.py: alexnet slices end after
# features[1], [4], [7], [9], [11]; vgg16 after [3], [8], [15], [22], [29]).
LPIPS_NETS: dict[str, LpipsNet] = {
    "alex": LpipsNet(
        name="alex",
        channels=(64, 192, 384, 256, 256),
        taps=(1, 4, 7, 9, 11),
        # conv 11/4 (pad 2) then two 3/2 max pools before relu3: 31 px gives a 1x1 map there.
        min_side_px=31,
        backbone_weights="alexnet-imagenet",
        heads_weights="lpips-alex-v0.1",
    ),
    "vgg": LpipsNet(
        name="vgg",
        channels=(64, 128, 256, 512, 512),
        taps=(3, 8, 15, 22, 29),
        # four 2/2 max pools before relu5_3.
        min_side_px=16,
        backbone_weights="vgg16-imagenet",
        heads_weights="lpips-vgg-v0.1",
    ),
}


class TappedFeatures(nn.Module):
    """A ``features`` stack that returns the outputs of the layers listed in ``taps``."""

    def __init__(self, layers: list[nn.Module], taps: tuple[int, ...]) -> None:
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.taps = taps

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Tapped activations of (N, 3, H, W) float input, shallowest first."""
        out: list[torch.Tensor] = []
        last = self.taps[-1]
        for index, layer in enumerate(self.features):
            if index > last:
                break
            x = layer(x)
            if index in self.taps:
                out.append(x)
        return out


class AlexNetFeatures(TappedFeatures):
    """torchvision's ``AlexNet.features`` (Krizhevsky's "one weird trick" variant), tapped at
    relu1..relu5."""

    def __init__(self) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        ]
        super().__init__(layers, LPIPS_NETS["alex"].taps)


# VGG16 ("configuration D", Simonyan & Zisserman 2015): five stages of (channels, 3x3 convolutions
# each followed by a ReLU), each stage closed by a 2x2 max pool.
_VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


class Vgg16Features(TappedFeatures):
    """torchvision's ``vgg16().features`` (no batch norm), tapped at relu1_2, relu2_2, relu3_3,
    relu4_3 and relu5_3."""

    def __init__(self) -> None:
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, convs in _VGG16_STAGES:
            for _ in range(convs):
                layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU()]
                c_in = c_out
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        super().__init__(layers, LPIPS_NETS["vgg"].taps)


def build_backbone(net: str) -> TappedFeatures:
    """An untrained backbone for ``net`` (``alex`` or ``vgg``)."""
    return AlexNetFeatures() if net == "alex" else Vgg16Features()


class LpipsHeads(nn.Module):
    """The five bias-free 1x1 convolutions ("linear layers" w_l of Eq. 1), one per tap."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.weights = nn.ParameterList(
            nn.Parameter(torch.zeros(1, c, 1, 1), requires_grad=False) for c in channels
        )

    def forward(self, squared_diffs: list[torch.Tensor]) -> torch.Tensor:
        """(N,) sum over layers of the spatial mean of each head's 1-channel map."""
        total: torch.Tensor | None = None
        for weight, diff in zip(self.weights, squared_diffs, strict=True):
            term = nn.functional.conv2d(diff, weight).mean(dim=(2, 3))[:, 0]
            total = term if total is None else total + term
        assert total is not None
        return total


def backbone_state(
    state: Mapping[str, torch.Tensor], model: nn.Module, what: str
) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of a torchvision checkpoint, checked against ``model``.

    Args:
        state: a loaded state dict (the whole classifier file; ``classifier.*`` is dropped).
        model: the backbone it is for.
        what: the file, for the message.

    Raises:
        ModelWeightsError: a ``features`` key is missing, extra or mis-shaped.
    """
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    problem = key_mismatch(model.state_dict(), features)
    if problem is not None:
        raise ModelWeightsError(
            f"{what} does not fit torchvision's {type(model).__name__} layout: {problem}"
        )
    return features


_HEAD_KEY = re.compile(r"lin(\d+)\.model\.\d+\.weight")


def heads_state(
    state: Mapping[str, torch.Tensor], model: LpipsHeads, what: str
) -> dict[str, torch.Tensor]:
    """The ``lpips`` package's head tensors renamed for :class:`LpipsHeads`.

    Accepts ``lin<k>.model.1.weight`` (the published files, dropout at ``model.0``) and
    ``lin<k>.model.0.weight`` (saved without dropout); any other key is ignored (a whole
    ``LPIPS`` state dict also holds its backbone and scaling buffers).

    Raises:
        ModelWeightsError: a head is missing or mis-shaped.
    """
    renamed = {}
    for key, tensor in state.items():
        found = _HEAD_KEY.fullmatch(key)
        if found is not None:
            renamed[f"weights.{found.group(1)}"] = tensor
    problem = key_mismatch(model.state_dict(), renamed)
    if problem is not None:
        raise ModelWeightsError(f"{what} does not hold LPIPS linear heads: {problem}")
    return renamed
