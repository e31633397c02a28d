"""Loading weight files: ``torch.load(weights_only=True)`` and a strict key check.

Kept apart from :mod:`syncnet_eval.models.weights` (finding, downloading and verifying files),
which does not need torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
import re
from typing import Any

import torch

from ..errors import ModelWeightsError

__all__ = ["describe_checkpoint", "key_mismatch", "load_state_dict", "seeded_state_dict"]

# Key prefixes that give away which network a state dict belongs to.
_NETWORK_KEYS = {
    "SyncNet weights (syncnet_v2.model; --syncnet-weights)": ("netcnnaud.", "netcnnlip."),
    "S3FD face detector weights (sfd_face.pth; --s3fd-weights)": ("vgg.", "L2Norm3_3"),
    "a Light-ASD active-speaker checkpoint": ("model.visualEncoder", "model.audioEncoder"),
    "Wav2Lip's lip-sync expert (lipsync_expert.pth; --expert wav2lip)": (
        "face_encoder.",
        "audio_encoder.",
        "module.face_encoder.",
    ),
}


def _is_tensor_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _unsafe_global(message: str) -> str | None:
    """The global a ``weights_only`` load refused (``GLOBAL module.name``), if that is why."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if found is not None:
        return found.group(1)
    if "Weights only load failed" in message:
        return "an object torch does not allow"
    return None


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict safely (``weights_only=True``) onto the CPU.

    A checkpoint that wraps the tensors under a ``state_dict`` or ``model`` key is unwrapped.

    Args:
        path: ``.model`` / ``.pth`` file written by ``torch.save``.

    Returns:
        Parameter and buffer name -> CPU tensor.

    Raises:
        ModelWeightsError: the file cannot be read or unpickled safely, or holds no state dict.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (UnpicklingError, RuntimeError, EOFError)
        unsafe = _unsafe_global(str(exc))
        if unsafe is not None:
            # torch's own message advises weights_only=False, which would run the file's code:
            # we refuse the file and say why, nothing more.
            raise ModelWeightsError(
                f"cannot load weights {path}: refused: it holds a Python object ({unsafe}) "
                f"besides tensors, and loading it could run code; use a plain state dict saved "
                f"with torch.save(model.state_dict()) from a source you know"
            ) from exc
        cause = next((line for line in str(exc).splitlines() if line.strip()), "")
        cause = " ".join(cause.split()) or type(exc).__name__
        raise ModelWeightsError(
            f"cannot load weights {path}: {cause}; expected a PyTorch state dict saved with "
            f"torch.save (re-download it with `syncnet-eval weights download`)"
        ) from exc
    if not _is_tensor_dict(obj) and isinstance(obj, Mapping):
        nested = next(
            (obj[k] for k in ("state_dict", "model") if _is_tensor_dict(obj.get(k))), None
        )
        if nested is not None:
            obj = nested
    if not _is_tensor_dict(obj):
        raise ModelWeightsError(
            f"{path} is not a state dict (loaded a {type(obj).__name__}, expected a mapping of "
            f"names to tensors); pass a weight file saved with torch.save(model.state_dict())"
        )
    return obj if isinstance(obj, dict) else dict(obj)


def key_mismatch(expected: Mapping[str, Any], given: Mapping[str, Any]) -> str | None:
    """Describe how ``given`` state-dict keys differ from a model's ``expected`` ones.

    Returns:
        ``None`` when the key sets and shapes agree, else one line naming every missing,
        unexpected and mis-shaped key.
    """
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    misshaped = sorted(
        f"{k} {tuple(given[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in set(expected) & set(given)
        if tuple(given[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    if missing:
        problems.append("missing keys: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    if misshaped:
        problems.append("mis-shaped keys: " + ", ".join(misshaped))
    return "; ".join(problems) or None


def describe_checkpoint(keys: Mapping[str, Any]) -> str | None:
    """Which known network a state dict is for, judged by its key names (``None``: unknown)."""
    for what, prefixes in _NETWORK_KEYS.items():
        if any(k.startswith(prefixes) for k in keys):
            return what
    return None


def seeded_state_dict(shapes: Mapping[str, Any], seed: int) -> dict[str, torch.Tensor]:
    """Untrained parameters for parity tests, the same whatever built the model.

    After ``torch.manual_seed(seed)``, each key of ``shapes`` (a model's ``state_dict()``) in
    sorted order draws ``torch.randn`` of its shape: convolution and linear weights scaled by
    ``sqrt(2 / fan_in)``, biases by 0.1, BatchNorm scales ``1 + 0.1 z``, running means ``0.1
    z`` and running variances ``1 + 0.1 |z|``; integer buffers are kept. A published model and
    ours with the same key names and shapes get the same tensors, so their outputs can be
    compared. Never presented as real weights.
    """
    torch.manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key in sorted(shapes):
        like = shapes[key]
        if not torch.is_floating_point(like):
            out[key] = like.clone()
            continue
        z = torch.randn(tuple(like.shape), dtype=torch.float32)
        if key.endswith("running_var"):
            z = 1.0 + 0.1 * z.abs()
        elif key.endswith("running_mean") or key.endswith("bias"):
            z = 0.1 * z
        elif like.dim() == 1:  # a normalisation's scale
            z = 1.0 + 0.1 * z
        else:
            z = z * (2.0 / max(1, like[0].numel())) ** 0.5
        out[key] = z.to(like.dtype)
    return out
