"""Record torch-fidelity's FID features and FIDs for tests/test_fid.py's parity test.

Runs in the reference venv (torch-fidelity needs torchvision, which the project's venv cannot
have), never in CI:

    PYTHONPATH=$PWD /work/venv-ref/bin/python scripts/record_fid_reference.py

It builds the seeded (random, not the real) FID Inception weights with our
``seeded_state_dict`` (the same tensors the test builds), loads them into torch-fidelity's
``FeatureExtractorInceptionV3`` (our key names are the published file's, so the load is strict),
extracts its 2048-d features of the first frames of a few shared clips (decoded with PyAV to
RGB, as the test does), and writes ``tests/data/fid_reference.npz`` (small): per clip the
frames' sha256, the feature mean, 64 sampled coordinates of every row; per pair of clips
torch-fidelity's FID (``fid_statistics_to_metric``) and pytorch-fid's
``calculate_frechet_distance`` on the same statistics.
"""

from __future__ import annotations

import argparse
import hashlib
from itertools import combinations
import json
from pathlib import Path
import tempfile

import av
import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
import torch_fidelity.version

from syncnet_eval.models.fid_inception import seeded_state_dict

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
# Square upsampled (224 -> 299), non-square (200x278), downsampled (512 -> 299).
CLIPS = (
    "hallo_gufeng1_libai_224.mp4",
    "dinet_test19.mp4",
    "hdtf_WDA_KatieHill_000.mp4",
)
FRAMES = 8
SEED = 2015
SAMPLED = 64  # feature coordinates kept per row


def first_frames(path: Path, count: int) -> np.ndarray:
    """The first ``count`` frames as (count, H, W, 3) uint8 RGB (PyAV's rgb24)."""
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "fid_reference.npz")
    args = parser.parse_args()
    state = seeded_state_dict(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seeded_fid_inception.pth"
        torch.save(state, path)
        extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
    columns = np.random.default_rng(SEED).choice(2048, size=SAMPLED, replace=False)
    arrays: dict[str, np.ndarray] = {"columns": np.sort(columns)}
    features = []
    for index, name in enumerate(CLIPS):
        frames = first_frames(MEDIA / name, FRAMES)
        batch = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            (feats,) = extractor(batch)
        features.append(feats)
        f64 = feats.double().numpy()
        arrays[f"clip{index}_sha256"] = np.array(hashlib.sha256(frames.tobytes()).hexdigest())
        arrays[f"clip{index}_mean"] = f64.mean(axis=0)
        arrays[f"clip{index}_sampled"] = f64[:, arrays["columns"]]
    pairs = list(combinations(range(len(CLIPS)), 2))
    fidelity, pytorch_fid = [], []
    for i, j in pairs:
        a, b = fid_features_to_statistics(features[i]), fid_features_to_statistics(features[j])
        fidelity.append(fid_statistics_to_metric(a, b, False)["frechet_inception_distance"])
        pytorch_fid.append(calculate_frechet_distance(a["mu"], a["sigma"], b["mu"], b["sigma"]))
    arrays["pairs"] = np.array(pairs)
    arrays["fid_torch_fidelity"] = np.array(fidelity, dtype=np.float64)
    arrays["fid_pytorch_fid"] = np.array(pytorch_fid, dtype=np.float64)
    arrays["meta"] = np.array(
        json.dumps(
            {
                "reference": f"torch-fidelity {torch_fidelity.version.__version__}",
                "torch": torch.__version__,
                "seed": SEED,
                "clips": CLIPS,
                "frames_per_clip": FRAMES,
                "weights_check": float(state["Conv2d_1a_3x3.conv.weight"].double().sum()),
            }
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    for (i, j), f1, f2 in zip(pairs, fidelity, pytorch_fid, strict=True):
        print(f"FID {CLIPS[i]} vs {CLIPS[j]}: torch-fidelity {f1:.6f}, pytorch-fid {f2:.6f}")


if __name__ == "__main__":
    main()
