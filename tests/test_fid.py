"""FID features: the TF1 resize, parity with torch-fidelity, a blur oracle, the weights.

The network runs with seeded random weights (``seeded_state_dict``), never the real ones;
``tests/data/fid_reference.npz`` holds torch-fidelity's numbers for the same weights and frames
(``scripts/record_fid_reference.py``, run in a venv with torchvision).
"""

from __future__ import annotations

from collections.abc import Iterator
import hashlib
from itertools import pairwise
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from syncnet_eval.errors import ModelWeightsError
from syncnet_eval.fid import FidExtractor, resize_bilinear_tf1
from syncnet_eval.frechet import FeatureStats, frechet_from_stats
from syncnet_eval.models.fid_inception import seeded_state_dict

from conftest import MEDIA_DIR

REFERENCE = Path(__file__).resolve().parent / "data" / "fid_reference.npz"


def _first_frames(path: Path, count: int) -> np.ndarray:
    """The first ``count`` frames, (count, H, W, 3) uint8 RGB (as the recording script)."""
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, np.ndarray]]:
    with np.load(REFERENCE) as data:
        yield {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def extractor(
    tmp_path_factory: pytest.TempPathFactory, reference: dict[str, np.ndarray]
) -> FidExtractor:
    seed = json.loads(str(reference["meta"]))["seed"]
    path = tmp_path_factory.mktemp("fid") / "seeded_fid_inception.pth"
    torch.save(seeded_state_dict(seed), path)
    return FidExtractor(weights=path)


# -- the resize -------------------------------------------------------------------------------


def test_tf1_resize_halving_keeps_every_other_pixel() -> None:
    # TF1's align_corners=False samples source i * in / out: halving lands on even pixels.
    images = torch.rand(2, 3, 598, 598) * 255
    assert torch.equal(resize_bilinear_tf1(images), images[:, :, ::2, ::2])
    same = torch.rand(1, 3, 299, 299)
    assert torch.equal(resize_bilinear_tf1(same), same)


def test_tf1_resize_interpolates_a_ramp_without_half_pixel_centres() -> None:
    # A horizontal ramp x -> x on a 100-wide image: output column i samples i * 100 / 299
    # (clamped to the last pixel past it), exactly what TF 1.x does; rows stay equal.
    ramp = torch.arange(100, dtype=torch.float32).repeat(1, 1, 50, 1)
    out = resize_bilinear_tf1(ramp)
    expected = np.minimum(np.arange(299) * 100 / 299, 99)
    np.testing.assert_allclose(out[0, 0, 0].numpy(), expected, atol=1e-4)
    assert torch.equal(out[0, 0, 0], out[0, 0, -1])


# -- the extractor ----------------------------------------------------------------------------


def test_protocol_names_network_weights_and_resize(extractor: FidExtractor) -> None:
    protocol = extractor.protocol
    assert extractor.dim == protocol["dim"] == 2048
    assert protocol["layer"] == "pool_3" and protocol["weights_official"] is False
    assert len(str(protocol["weights_sha256"])) == 64
    assert "TensorFlow 1.x" in str(protocol["resize"])
    json.dumps(protocol)
    with pytest.raises(ValueError, match="uint8"):
        extractor.features(np.zeros((1, 8, 8, 3), dtype=np.float32))


@pytest.mark.slow
def test_features_and_fid_equal_torch_fidelitys(
    extractor: FidExtractor, reference: dict[str, np.ndarray]
) -> None:
    meta = json.loads(str(reference["meta"]))
    assert float(seeded_state_dict(meta["seed"])["Conv2d_1a_3x3.conv.weight"].double().sum()) == (
        pytest.approx(meta["weights_check"], rel=1e-6)
    ), "the seeded weights differ from the recorded ones (torch's generator changed?)"
    columns = reference["columns"]
    stats = []
    for index, name in enumerate(meta["clips"]):
        frames = _first_frames(MEDIA_DIR / name, meta["frames_per_clip"])
        digest = hashlib.sha256(frames.tobytes()).hexdigest()
        assert digest == str(reference[f"clip{index}_sha256"]), f"{name} decodes differently"
        features = extractor.features(frames)
        assert features.shape == (len(frames), 2048) and features.dtype == np.float64
        ref_rows = reference[f"clip{index}_sampled"]
        scale = np.abs(ref_rows).max()
        assert np.abs(features[:, columns] - ref_rows).max() <= 1e-3 * scale, name
        ref_mean = reference[f"clip{index}_mean"]
        assert np.abs(features.mean(axis=0) - ref_mean).max() <= 1e-3 * np.abs(ref_mean).max()
        clip_stats = FeatureStats()
        clip_stats.add(features)
        stats.append(clip_stats)
    for (i, j), expected in zip(reference["pairs"], reference["fid_torch_fidelity"], strict=True):
        assert frechet_from_stats(stats[i], stats[j]) == pytest.approx(expected, rel=1e-3)


@pytest.mark.slow
def test_fid_rises_with_blur_strength(extractor: FidExtractor) -> None:
    frames = _first_frames(MEDIA_DIR / "hallo_gufeng1_libai_224.mp4", 4)
    original = FeatureStats()
    original.add(extractor.features(frames))
    fids = []
    for sigma in (1.0, 3.0, 9.0):
        blurred = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])
        stats = FeatureStats()
        stats.add(extractor.features(blurred))
        fids.append(frechet_from_stats(original, stats))
    assert all(a < b for a, b in pairwise(fids)), fids


# -- weights ----------------------------------------------------------------------------------


def test_missing_official_weights_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCNET_EVAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelWeightsError) as exc:
        FidExtractor(offline=True)
    message = str(exc.value)
    assert "\n" not in message
    assert "pt_inception-2015-12-05-6726825d.pth" in message
    assert str(tmp_path / "weights") in message and "--fid-weights FILE" in message


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"netcnnaud.0.weight": torch.zeros(1)}, path)
    with pytest.raises(ModelWeightsError, match="not the FID Inception-v3.*SyncNet"):
        FidExtractor(weights=path)
