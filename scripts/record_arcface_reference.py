"""Record insightface's own outputs for the ArcFace parity tests (tests/test_identity.py).

Runs insightface's code, never ours: ``recognition/arcface_torch/backbones/iresnet.py`` and
``python-package/insightface/utils/face_align.py`` of a checkout of deepinsight/insightface,
loaded by file path (the checkout is temporary and never committed). Needs torch, numpy, cv2
and scikit-image, e.g. the reference venv:

    git clone https://github.com/deepinsight/insightface /tmp/insightface
    /work/venv-ref/bin/python scripts/record_arcface_reference.py --insightface /tmp/insightface

Writes ``tests/data/arcface_reference.json``:

- ``embeddings``: for iresnet18/50/100 built by insightface's iresnet.py and filled with the
  seeded weights of :func:`seeded_state` (every tensor of the state dict, in sorted key order,
  from one ``torch.Generator`` seeded with ``SEED``), the L2-normalised embeddings of the
  :func:`pattern_crops` (x / 255 - 0.5) / 0.5, eval mode, float32 on the CPU;
- ``alignment``: for a few five-point sets on :func:`pattern_frame`, the matrix of
  insightface's ``estimate_norm`` and the sha256 of ``norm_crop``'s 112x112 crop.

tests/conftest.py builds the same seeded weights, crops and frame with the same recipes (kept
in step by the tests themselves: any difference fails them).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
from pathlib import Path
import subprocess
from types import ModuleType
from typing import Any

import numpy as np
import torch

SEED = 2025
ARCHES = ("iresnet18", "iresnet50", "iresnet100")
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "arcface_reference.json"


def seeded_state(state: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic stand-in weights for an IResNet state dict (tests/conftest.py: the same).

    Convolutions and the linear layer: normal with std 1/sqrt(fan_in); BatchNorm scales
    1 + 0.1 N(0,1), shifts and running means 0.1 N(0,1), running variances 0.5 + U(0,1); PReLU
    slopes 0.25 + 0.05 N(0,1); BatchNorm counters kept. Keys in sorted order, one generator.
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key in sorted(state):
        t = state[key]
        if key.endswith("num_batches_tracked"):
            out[key] = t.clone()
            continue
        shape = tuple(t.shape)
        if key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith(("running_mean", "bias")):
            out[key] = 0.1 * torch.randn(shape, generator=gen)
        elif "prelu" in key:
            out[key] = 0.25 + 0.05 * torch.randn(shape, generator=gen)
        elif t.dim() == 1:  # BatchNorm scale
            out[key] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            fan_in = math.prod(shape[1:])
            out[key] = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
    return out


def pattern_crops() -> np.ndarray:
    """(2, 112, 112, 3) uint8 RGB test crops from closed-form patterns (no random numbers)."""
    y, x = np.mgrid[0:112, 0:112].astype(np.float64)
    crops = []
    for k in (1, 2):
        channels = [
            127.5 + 120 * np.sin(x / (7 + 3 * k) + c) * np.cos(y / (11 + 2 * k) - c * k)
            for c in range(3)
        ]
        crops.append(np.stack(channels, axis=-1))
    return np.clip(np.round(np.stack(crops)), 0, 255).astype(np.uint8)


def pattern_frame() -> np.ndarray:
    """(240, 320, 3) uint8 frame from closed-form patterns, for the alignment records."""
    y, x = np.mgrid[0:240, 0:320].astype(np.float64)
    channels = [127.5 + 120 * np.sin(x / 9 + c) * np.cos(y / 13 - 2 * c) for c in range(3)]
    return np.clip(np.round(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def point_sets() -> list[list[list[float]]]:
    """Five-point sets: the template moved (scale, rotation, shift) plus fixed jitter."""
    template = np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
         [70.7299, 92.2041]]
    )  # fmt: skip
    sets = []
    for scale, angle, shift in ((1.0, 0.0, (0, 0)), (1.7, 0.2, (60, 30)), (0.8, -0.35, (150, 90))):
        c, s = math.cos(angle), math.sin(angle)
        moved = scale * template @ np.array([[c, s], [-s, c]]) + np.array(shift)
        jitter = 1.5 * np.sin(np.arange(10).reshape(5, 2) * 1.3 + scale)
        sets.append((moved + jitter).round(4).tolist())
    return sets


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--insightface", type=Path, required=True, help="deepinsight/insightface")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    root: Path = args.insightface
    backbones = _load(root / "recognition/arcface_torch/backbones/iresnet.py", "ref_iresnet")
    align = _load(root / "python-package/insightface/utils/face_align.py", "ref_face_align")
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()

    crops = pattern_crops()
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)
    embeddings: dict[str, Any] = {}
    for arch in ARCHES:
        net = getattr(backbones, arch)(False, fp16=False)
        net.load_state_dict(seeded_state(net.state_dict(), SEED))
        net.eval()
        with torch.inference_mode():
            feats = net(x).double()
        feats = feats / feats.norm(dim=1, keepdim=True)
        embeddings[arch] = [[round(v, 8) for v in row] for row in feats.tolist()]
        print(arch, "done")

    frame = pattern_frame()
    alignment = []
    for points in point_sets():
        lmk = np.array(points, dtype=np.float32)
        matrix = align.estimate_norm(lmk)
        crop = align.norm_crop(frame, lmk)
        alignment.append(
            {
                "points": points,
                "matrix": np.asarray(matrix, dtype=np.float64).tolist(),
                "crop_sha256": hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest(),
            }
        )

    import cv2
    import skimage

    record = {
        "source": f"deepinsight/insightface@{commit}",
        "files": [
            "recognition/arcface_torch/backbones/iresnet.py",
            "python-package/insightface/utils/face_align.py",
        ],
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "scikit-image": skimage.__version__,
        },
        "seed": SEED,
        "recorded_by": "scripts/record_arcface_reference.py",
        "embeddings": embeddings,
        "alignment": alignment,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
