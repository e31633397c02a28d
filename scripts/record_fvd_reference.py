"""Record reference I3D features for tests/test_fvd.py's parity test.

Run in the reference venv (torch, PyAV, cd-fvd from PyPI), never in CI:

    git -C <pytorch-i3d checkout> show 05783d11f9632b25fe3d50395a9c9bb51f848d6d:pytorch_i3d.py \
        > /tmp/pytorch_i3d.py     # piergiaj/pytorch-i3d, read and run, never committed
    PYTHONPATH=$PWD /work/venv-ref/bin/python scripts/record_fvd_reference.py \
        --pytorch-i3d /tmp/pytorch_i3d.py

What it does:

1. decodes the first 16 frames of a clip from ../shared/media with PyAV and keeps a small
   non-square patch (every 4th pixel of a centred crop), so the stored input stays small and the
   224 x 224 resize is exercised;
2. builds pytorch-i3d's ``InceptionI3d(400)`` (the PyTorch port of DeepMind's network) and
   loads the seeded weights of tests/i3d_helpers.py strictly (the names are the same as ours);
3. preprocesses with cd-fvd's ``preprocess_i3d`` (PyPI ``cd-fvd``: the TF FVD ``preprocess``
   in PyTorch: bilinear resize to 224, ``2 * x / 255 - 1``);
4. runs the clip and its time-reversed copy and averages pytorch-i3d's per-step logits over
   time (the TF graph's ``Mean``, which pytorch-i3d's forward leaves out);
5. writes frames, features and provenance to tests/data/fvd_reference.npz.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
from pathlib import Path
import sys

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from i3d_helpers import REFERENCE_SEED, seeded_i3d_state  # noqa: E402

PYTORCH_I3D_COMMIT = "05783d11f9632b25fe3d50395a9c9bb51f848d6d"
CLIP = ROOT.parent / "shared" / "media" / "hdtf_WDA_KatieHill_000.mp4"
FRAMES = 16
SUBSAMPLE = 4  # keep every 4th pixel of the crop
PATCH = (56, 72)  # stored frame size (H, W): non-square, not a divisor of 224


def decode_patch(path: Path) -> np.ndarray:
    """(16, 56, 72, 3) uint8: the first frames, a centred crop taken every 4th pixel."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == FRAMES:
                break
    video = np.stack(frames)
    _, h, w, _ = video.shape
    ch, cw = PATCH[0] * SUBSAMPLE, PATCH[1] * SUBSAMPLE
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(video[:, top : top + ch : SUBSAMPLE, left : left + cw : SUBSAMPLE])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytorch-i3d", type=Path, required=True, help="pytorch_i3d.py")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "fvd_reference.npz")
    args = parser.parse_args()

    from cdfvd.third_party.i3d.utils import preprocess_i3d
    import torch

    spec = importlib.util.spec_from_file_location("pytorch_i3d", args.pytorch_i3d)
    assert spec is not None and spec.loader is not None
    pytorch_i3d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pytorch_i3d)

    frames = decode_patch(args.clip)
    clips = np.stack([frames, frames[::-1]])
    model = pytorch_i3d.InceptionI3d(400, in_channels=3)
    model.load_state_dict(seeded_i3d_state(REFERENCE_SEED), strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(preprocess_i3d(clips))  # (2, 400, T')
    features = logits.mean(dim=2).double().numpy()

    provenance = {
        "clip": args.clip.name,
        "frames": f"first {FRAMES}, centred crop, every {SUBSAMPLE}th pixel, {PATCH[0]}x{PATCH[1]}",
        "clips": ["frames", "frames reversed in time"],
        "weights": f"tests/i3d_helpers.py seeded_i3d_state({REFERENCE_SEED})",
        "model": f"piergiaj/pytorch-i3d@{PYTORCH_I3D_COMMIT} pytorch_i3d.InceptionI3d(400), "
        "logits averaged over time",
        "preprocess": "cd-fvd " + importlib.metadata.version("cd-fvd") + " preprocess_i3d",
        "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, frames=frames, features=features, provenance=json.dumps(provenance)
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): features {features.shape}")


if __name__ == "__main__":
    main()
