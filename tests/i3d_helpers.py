"""Seeded Inception-I3D weights for the FVD tests and scripts/record_fvd_reference.py.

Not trained weights and never presented as such: numpy draws (the same on every torch
version, so the recording and the test build the same network) scaled so that activations
neither vanish nor explode through the 60 layers.
"""

from __future__ import annotations

import numpy as np
import torch

from syncnet_eval.models.i3d import InceptionI3d

# The seed the recorded reference (tests/data/fvd_reference.npz) was made with.
REFERENCE_SEED = 2025


def seeded_i3d_state(seed: int = REFERENCE_SEED) -> dict[str, torch.Tensor]:
    """A state dict for :class:`InceptionI3d` (pytorch-i3d's names), drawn from ``seed``.

    Conv weights are He-normal (std sqrt(2 / fan_in)); BatchNorm scale and running variance
    uniform in [0.5, 1.5]; BatchNorm shift, running mean and the logits bias normal(0, 0.1).
    """
    rng = np.random.RandomState(seed)
    state: dict[str, torch.Tensor] = {}
    for name, tensor in InceptionI3d().state_dict().items():
        shape = tuple(tensor.shape)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.long)
            continue
        if name.endswith("conv3d.weight"):
            fan_in = int(np.prod(shape[1:]))
            values = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif name.endswith(("bn.weight", "running_var")):
            values = rng.uniform(0.5, 1.5, shape)
        else:  # bn.bias, running_mean, logits.conv3d.bias
            values = rng.normal(0.0, 0.1, shape)
        state[name] = torch.from_numpy(values.astype(np.float32))
    return state
