"""Record the ``lpips`` package's LPIPS on seeded weights, for tests/test_lpips.py to compare ours.

Runs in a reference environment with the ``lpips`` package (richzhang/PerceptualSimilarity, 0.1.4)
and torchvision, neither of which CI has:

    /work/venv-ref/bin/python scripts/record_lpips_reference.py [--media ../shared/media]

For each backbone (``alex``, ``vgg``) it builds ``lpips.LPIPS(net=..., version='0.1',
pnet_rand=True)`` (torchvision's architecture, nothing downloaded), loads stand-in weights drawn
by ``tests/lpips_cases.py`` (the same draws the test makes for our networks) and scores the frame
pairs of ``lpips_cases.PAIRS`` (crops decoded from ../shared/media). It records:

- ``backbone_keys``: torchvision's ``features.*`` keys and shapes (the layout ours must load);
- ``seeded``: seeded backbone and seeded heads, per pair;
- ``real_heads``: seeded backbone with the package's own v0.1 heads (its ``weights/v0.1/<net>.pth``,
  the published files), per pair; and the same heads over a blur sweep of the first pair's
  frames (``blur_real_heads``), to see whether LPIPS rises with blur with these weights.

The frames' sha256 and the weights' fingerprints are recorded too, so that the test can tell a
decoder or generator difference from a disagreement between the two LPIPS implementations.
Writes tests/data/lpips_reference.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import re
import sys
from typing import Any

import cv2
import lpips
import numpy as np
import torch
import torchvision

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import lpips_cases  # noqa: E402  (the tests' helper module, imported from its folder)

BLUR_SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
_SLICE_KEY = re.compile(r"slice\d+\.(\d+)\.(weight|bias)")


def _backbone_shapes(net: str) -> list[tuple[str, tuple[int, ...]]]:
    """torchvision's ``features.*`` keys and shapes, in state-dict order."""
    model = torchvision.models.alexnet() if net == "alex" else torchvision.models.vgg16()
    return [(f"features.{k}", tuple(v.shape)) for k, v in model.features.state_dict().items()]


def _reference(net: str, heads: str) -> tuple[torch.nn.Module, dict[str, float]]:
    """The package's LPIPS with a seeded backbone and ``heads`` (``seeded`` or ``real``)."""
    model = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False)
    backbone = lpips_cases.seeded_tensors(_backbone_shapes(net), lpips_cases.SEEDS[net])
    renamed = {}
    for key in model.net.state_dict():
        found = _SLICE_KEY.fullmatch(key)
        assert found is not None, key
        renamed[key] = backbone[f"features.{found.group(1)}.{found.group(2)}"]
    assert len(renamed) == len(backbone)
    model.net.load_state_dict(renamed)
    prints = {"backbone": lpips_cases.fingerprint(backbone)}
    if heads == "seeded":
        seeded = lpips_cases.seeded_tensors(
            lpips_cases.head_shapes(model.chns),
            lpips_cases.SEEDS[net] + lpips_cases.HEADS_SEED_OFFSET,
            heads=True,
        )
        missing, unexpected = model.load_state_dict(seeded, strict=False)
        # lin<k> and lins.<k> are the same modules: the file's lin<k> keys fill both.
        assert not unexpected and not any(re.match(r"lin\d", k) for k in missing)
        prints["heads"] = lpips_cases.fingerprint(seeded)
    return model.eval(), prints


def _lpips(model: torch.nn.Module, a: np.ndarray, b: np.ndarray) -> list[float]:
    """Per-pair values, the inputs made as the package's own im2tensor makes them."""
    ta = torch.cat([lpips.im2tensor(frame) for frame in a])
    tb = torch.cat([lpips.im2tensor(frame) for frame in b])
    with torch.no_grad():
        return [float(v) for v in model(ta, tb).flatten()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument(
        "--out", type=Path, default=REPO / "tests" / "data" / "lpips_reference.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    a, b = lpips_cases.frame_pairs(args.media)
    record: dict[str, Any] = {
        "generator": "scripts/record_lpips_reference.py",
        "lpips_package": getattr(lpips, "__version__", "0.1.4"),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "frames_sha256": {"a": lpips_cases.frames_sha256(a), "b": lpips_cases.frames_sha256(b)},
        "backbone_keys": {
            net: [[k, list(shape)] for k, shape in _backbone_shapes(net)] for net in ("alex", "vgg")
        },
        "fingerprints": {},
        "seeded": {},
        "real_heads": {},
        "blur_sigmas": list(BLUR_SIGMAS),
        "blur_real_heads": {},
    }
    for net in ("alex", "vgg"):
        seeded, prints = _reference(net, "seeded")
        record["fingerprints"][net] = prints
        record["seeded"][net] = _lpips(seeded, a, b)
        real, _ = _reference(net, "real")
        record["real_heads"][net] = _lpips(real, a, b)
        sweep = []
        for sigma in BLUR_SIGMAS:
            blurred = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in a])
            sweep.append(_lpips(real, a, blurred))
        record["blur_real_heads"][net] = sweep
        print(net, "seeded", record["seeded"][net])
        print(net, "real heads", record["real_heads"][net])
        for sigma, row in zip(BLUR_SIGMAS, sweep, strict=True):
            print(f"{net} blur sigma {sigma}: {[round(v, 4) for v in row]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
