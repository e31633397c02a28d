"""Inception-I3D (Carreira & Zisserman, CVPR 2017), the Kinetics-400 network behind FVD.

Written from DeepMind's published definition (``kinetics-i3d/i3d.py``, Sonnet): Inception-v1
inflated to 3-D, on (N, 3, T, 224, 224) RGB in [-1, 1]:

- ``Conv3d_1a_7x7`` (stride 2), ``MaxPool3d_2a_3x3`` (1x3x3, stride 1x2x2), ``Conv3d_2b_1x1``,
  ``Conv3d_2c_3x3``, ``MaxPool3d_3a_3x3`` (1x3x3, stride 1x2x2);
- ``Mixed_3b``, ``Mixed_3c``, ``MaxPool3d_4a_3x3`` (3x3x3, stride 2), ``Mixed_4b`` ... ``Mixed_4f``,
  ``MaxPool3d_5a_2x2`` (2x2x2, stride 2), ``Mixed_5b``, ``Mixed_5c``; each Inception block is four
  branches (1x1x1; 1x1x1 then 3x3x3; 1x1x1 then 3x3x3; 3x3x3 max pool then 1x1x1), concatenated;
- ``Logits``: 2x7x7 average pool (stride 1, no padding), a 1x1x1 conv with bias to 400 classes,
  the spatial axes squeezed, and the mean over the remaining time steps. That mean is the tensor
  the original FVD code reads (``RGB/inception_i3d/Mean:0``, "the kinetics-i3d-400-logits
  layer") and StyleGAN-V's ``return_features=True`` ("raw features before the softmax").

Every convolution and pool pads like TensorFlow's ``SAME``: the output has ceil(size / stride)
steps and the padding is split with the smaller half first; max pools pad with -inf (TensorFlow
ignores padded cells; the inputs are post-ReLU anyway). Each unit is conv (no bias) + BatchNorm
(eps 1e-3, Sonnet's default) + ReLU.

Parameter names follow pytorch-i3d (piergiaj), the usual PyTorch port of those checkpoints:
``Conv3d_1a_7x7.conv3d.weight``, ``Conv3d_1a_7x7.bn.running_var``, ``Mixed_4b.b1b.bn.bias``,
``logits.conv3d.bias``... :func:`load_i3d_state` takes a plain state dict with those names or a
TorchScript archive (StyleGAN-V publishes its detector as ``i3d_torchscript.pt``), see there.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
import math
from pathlib import Path
import zipfile

import torch
from torch import nn
import torch.nn.functional as F

from ..errors import ModelWeightsError
from .state import key_mismatch, load_state_dict

__all__ = ["I3D_CLASSES", "I3D_MIN_FRAMES", "I3D_SIZE_PX", "InceptionI3d", "load_i3d_state"]

logger = logging.getLogger(__name__)

# Kinetics-400: the logits FVD is defined on have one entry per class.
I3D_CLASSES = 400
# The spatial size the network was trained on; the final 7x7 average pool needs 224 / 32 = 7.
I3D_SIZE_PX = 224
# Fewest frames the final 2-step average pool accepts: three stride-2 stages leave ceil(T / 8)
# steps, and the pool needs 2 of them.
I3D_MIN_FRAMES = 9
# Sonnet's snt.BatchNorm default, used by kinetics-i3d (and by pytorch-i3d); eps changes the
# inference arithmetic.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01

Triple = tuple[int, int, int]

# The Inception blocks: (name, input channels, branch widths b0, b1a, b1b, b2a, b2b, b3b), from
# kinetics-i3d's i3d.py; a max pool (kernel, stride) stands between 3c/4b and 4f/5b.
_MIXED: tuple[tuple[str, int, tuple[int, int, int, int, int, int]], ...] = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
_POOL_BEFORE: dict[str, tuple[str, Triple, Triple]] = {
    "Mixed_4b": ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
}


def _same_padding(sizes: tuple[int, ...], kernel: Triple, stride: Triple) -> list[int]:
    """``F.pad`` argument (W, H, T order; before, after) for TensorFlow ``SAME`` padding."""
    pads: list[int] = []
    for size, k, s in zip(reversed(sizes), reversed(kernel), reversed(stride), strict=True):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


class _Unit3D(nn.Module):
    """Conv3d with SAME padding, then BatchNorm and ReLU (or a plain biased conv: the logits)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        *,
        logits: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.conv3d = nn.Conv3d(c_in, c_out, kernel, stride=stride, bias=logits)
        self.bn = None if logits else nn.BatchNorm3d(c_out, eps=_BN_EPS, momentum=_BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, _same_padding(tuple(x.shape[2:]), self.kernel, self.stride)))
        if self.bn is None:
            return x
        return F.relu(self.bn(x))


class _MaxPoolSame(nn.Module):
    """Max pool with SAME padding (padded cells never win)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = _same_padding(tuple(x.shape[2:]), self.kernel, self.stride)
        return F.max_pool3d(F.pad(x, pads, value=-math.inf), self.kernel, self.stride)


class _Mixed(nn.Module):
    """One Inception block: four branches concatenated on the channel axis."""

    def __init__(self, c_in: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = _Unit3D(c_in, w0)
        self.b1a = _Unit3D(c_in, w1a)
        self.b1b = _Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = _Unit3D(c_in, w2a)
        self.b2b = _Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = _MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = _Unit3D(c_in, w3b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.b0(x),
                self.b1b(self.b1a(x)),
                self.b2b(self.b2a(x)),
                self.b3b(self.b3a(x)),
            ],
            dim=1,
        )


class InceptionI3d(nn.Module):
    """The RGB Inception-I3D up to its time-averaged Kinetics-400 logits.

    Input (N, 3, T, H, W) float32 in [-1, 1], T >= 9 (16 for FVD), H = W = 224 for the trained
    network (the 7x7 average pool needs H, W >= 193). Output (N, 400) float32: pre-softmax logits
    averaged over the time steps left after the average pool (one step for T = 16).
    """

    def __init__(self, num_classes: int = I3D_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = _Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = _MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = _Unit3D(64, 64)
        self.Conv3d_2c_3x3 = _Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = _MaxPoolSame((1, 3, 3), (1, 2, 2))
        # The Inception blocks and the pools between them sit at the top level under their
        # TensorFlow end-point names (Mixed_3b.b0.conv3d.weight...), as in the checkpoints.
        order: list[str] = []
        for name, c_in, widths in _MIXED:
            if name in _POOL_BEFORE:
                pool, kernel, stride = _POOL_BEFORE[name]
                self.add_module(pool, _MaxPoolSame(kernel, stride))
                order.append(pool)
            self.add_module(name, _Mixed(c_in, widths))
            order.append(name)
        self._blocks = tuple(order)
        self.logits = _Unit3D(1024, num_classes, logits=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv3d_1a_7x7(x)
        x = self.MaxPool3d_2a_3x3(x)
        x = self.Conv3d_2b_1x1(x)
        x = self.Conv3d_2c_3x3(x)
        x = self.MaxPool3d_3a_3x3(x)
        for name in self._blocks:
            x = self.get_submodule(name)(x)
        # Dropout (keep 0.5 in training) is the identity at inference.
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        x = self.logits(x).squeeze(4).squeeze(3)  # (N, classes, T')
        return x.mean(dim=2)


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip holding ``<name>/code/`` (compiled methods) and
    ``<name>/constants.pkl``; a ``torch.save`` zip holds neither."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)


def _archive_state(path: Path) -> dict[str, torch.Tensor]:
    """Parameters and buffers of a TorchScript module, on the CPU.

    ``torch.jit.load`` rebuilds the module from its TorchScript code and tensors; it unpickles no
    arbitrary Python object (unlike ``torch.load(weights_only=False)``), and nothing of the
    module is run here but ``state_dict``.
    """
    try:
        module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:  # TorchScript raises RuntimeError and its own types
        cause = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise ModelWeightsError(
            f"cannot load TorchScript archive {path}: {' '.join(cause.split()) or exc!r}"
        ) from exc
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _strip_common_prefix(keys: list[str]) -> dict[str, str]:
    """Map each key to itself less the dotted prefix every key shares (``module.``, ``i3d.``)."""
    parts = [k.split(".") for k in keys]
    common = 0
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return {k: ".".join(p[common:]) for k, p in zip(keys, parts, strict=True)}


def _weights_only(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # BatchNorm's step counter plays no part at inference, and ports differ in keeping it.
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _match_state(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    """``given`` under ``expected``'s names: by name (less a shared prefix), else by position.

    The positional match is taken only when both hold the same number of tensors with the same
    shapes in the same order (a network scripted from the same module tree lists them so), and
    is logged; anything else is refused naming the first difference.
    """
    want = _weights_only(expected)
    have = _weights_only(given)
    renamed = _strip_common_prefix(list(have))
    by_name = {renamed[k]: v for k, v in have.items()}
    if key_mismatch(want, by_name) is None:
        return by_name
    want_shapes = [tuple(v.shape) for v in want.values()]
    have_shapes = [tuple(v.shape) for v in have.values()]
    if want_shapes == have_shapes:
        logger.info(
            "%s: parameter names differ from ours; matched %d tensors by position and shape",
            source,
            len(want),
        )
        return dict(zip(want, have.values(), strict=True))
    first = next(
        (i for i, (a, b) in enumerate(zip(want_shapes, have_shapes, strict=False)) if a != b),
        min(len(want_shapes), len(have_shapes)),
    )
    names = list(want)
    where = names[first] if first < len(names) else "the end"
    problems = key_mismatch(want, by_name) or ""
    shown = problems if len(problems) <= 300 else problems[:300] + "..."
    raise ModelWeightsError(
        f"{source}: not an Inception-I3D (Kinetics-400) checkpoint: its {len(have)} tensors "
        f"match neither our {len(want)} names ({shown}) nor their shapes in order (first "
        f"difference at {where})"
    )


def load_i3d_state(model: InceptionI3d, path: Path) -> None:
    """Load I3D weights into ``model``, in place.

    Accepts a ``torch.save`` state dict with pytorch-i3d's names (loaded with
    ``weights_only=True``), or a TorchScript archive such as StyleGAN-V's ``i3d_torchscript.pt``
    (its ``state_dict()`` is taken out with ``torch.jit.load``; the module's own forward,
    with its built-in resize, is never used). Names are matched after dropping a prefix that
    every key shares; failing that, tensors are matched by position when count, order and
    every shape agree (a port that renamed the modules but kept the network's order).
    BatchNorm's ``num_batches_tracked`` counters are ignored.

    Raises:
        ModelWeightsError: the file cannot be read, or its tensors are not this network's
            (naming the first mismatch).
    """
    path = Path(path)
    given = _archive_state(path) if _is_torchscript(path) else load_state_dict(path)
    matched = _match_state(model.state_dict(), given, str(path))
    missing, unexpected = model.load_state_dict(matched, strict=False)
    leftover = [k for k in [*missing, *unexpected] if not k.endswith("num_batches_tracked")]
    if leftover:  # _match_state checked the names; this would be our own bug
        raise ModelWeightsError(f"{path}: keys left unmatched: {', '.join(leftover)}")
