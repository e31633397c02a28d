"""FVD features: I3D parity with pytorch-i3d, the clip and resize protocol, weight loading."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path

from i3d_helpers import seeded_i3d_state
import numpy as np
import pytest
import torch
from torch import nn

from syncnet_eval.errors import ConfigError, InputError, ModelWeightsError
from syncnet_eval.fvd import (
    CLIP_LENGTH_FRAMES,
    DEFINITION,
    I3D_FILENAME,
    FvdExtractor,
    preprocess_clips,
)
from syncnet_eval.models.i3d import InceptionI3d, load_i3d_state
from syncnet_eval.models.weights import WEIGHTS_ENV_VAR

REFERENCE = Path(__file__).parent / "data" / "fvd_reference.npz"


@pytest.fixture(scope="module")
def seeded_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("i3d") / "seeded_i3d.pt"
    torch.save(seeded_i3d_state(), path)
    return path


@pytest.fixture(scope="module")
def extractor(seeded_weights: Path) -> FvdExtractor:
    return FvdExtractor(weights=seeded_weights)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def clip_pair(reference: dict[str, np.ndarray]) -> np.ndarray:
    """(2, 16, 56, 72, 3): the recorded clip and the same frames in reverse order."""
    frames = reference["frames"]
    return np.stack([frames, frames[::-1]])


@pytest.fixture(scope="module")
def pair_features(extractor: FvdExtractor, clip_pair: np.ndarray) -> np.ndarray:
    return extractor.features(clip_pair)


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of two feature sets (unbiased covariances), numpy only: the test's own
    oracle for the distance, independent of syncnet_eval.frechet."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


@pytest.mark.slow
def test_features_match_pytorch_i3d_given_the_same_weights(
    pair_features: np.ndarray, reference: dict[str, np.ndarray]
) -> None:
    """Oracle: piergiaj/pytorch-i3d with cd-fvd's preprocessing, recorded by
    scripts/record_fvd_reference.py on the same seeded weights and frames."""
    provenance = json.loads(str(reference["provenance"]))
    assert "pytorch-i3d" in provenance["model"]
    assert pair_features.shape == (2, 400) and pair_features.dtype == np.float64
    np.testing.assert_allclose(pair_features, reference["features"], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_fvd_of_a_set_against_itself_is_zero_and_time_order_counts(
    extractor: FvdExtractor, clip_pair: np.ndarray, pair_features: np.ndarray
) -> None:
    """Set {A, B} (B: A mirrored) against itself, extracted again in another batch order and
    batch size, is at FVD 0; against {A reversed, B reversed} it is at least the squared
    distance of the means (the trace term is never negative), which is well above 0: a
    network blind to frame order (frame-wise features averaged over time) would give 0."""
    a, a_reversed = clip_pair
    b = np.ascontiguousarray(a[:, :, ::-1])
    again = extractor.features(np.stack([a_reversed, a, b, b[::-1]]))
    np.testing.assert_allclose(again[[1, 0]], pair_features, rtol=1e-5, atol=1e-5)
    forward, backward = again[[1, 2]], again[[0, 3]]
    scale = 2 * float(np.trace(np.cov(pair_features, rowvar=False)))
    assert abs(_frechet(pair_features, again[[1, 0]])) <= 1e-6 * scale
    means_apart = float(((forward.mean(axis=0) - backward.mean(axis=0)) ** 2).sum())
    # Features reproduce to 1e-5 per entry, so noise alone moves the 400 means' squared
    # distance by at most about 400 * (2e-5) ** 2 = 1.6e-7.
    assert means_apart > 1e-2
    assert _frechet(forward, backward) >= means_apart - 1e-6


def test_preprocess_scales_to_minus_one_one_and_resizes_a_flat_frame_to_itself() -> None:
    """Oracle: a bilinear resize of a flat frame is that frame; 0 -> -1, 255 -> 1, v -> 2v/255-1,
    whatever the input size."""
    for h, w in ((37, 53), (224, 224), (480, 640)):
        clips = np.zeros((2, 3, h, w, 3), dtype=np.uint8)
        clips[0] = 255
        clips[1, :, :, :, 1] = 51
        x = preprocess_clips(clips)
        assert x.shape == (2, 3, 3, 224, 224) and x.dtype == torch.float32
        # Within float32 rounding: the interpolation weights' sum may round on some SIMD paths.
        assert torch.allclose(x[0], torch.tensor(1.0), rtol=0, atol=1e-6)
        assert torch.allclose(x[1, 1], torch.tensor(2 * 51 / 255 - 1), rtol=0, atol=1e-6)
        assert torch.allclose(x[1, 0::2], torch.tensor(-1.0), rtol=0, atol=1e-6)


def test_preprocess_keeps_frame_order_and_channels() -> None:
    clips = np.zeros((1, 4, 224, 224, 3), dtype=np.uint8)
    for t in range(4):
        clips[0, t, :, :, t % 3] = 10 * (t + 1)
    x = preprocess_clips(clips)
    for t in range(4):
        assert float(x[0, t % 3, t].mean()) == pytest.approx(2 * 10 * (t + 1) / 255 - 1)


class _CountingFrames:
    """Frames 0..n-1, each filled with its own index, counting how many were taken."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n):
            self.taken += 1
            yield np.full((6, 8, 3), i % 256, dtype=np.uint8)


@pytest.mark.parametrize(
    ("n", "stride", "max_clips", "starts"),
    [
        (15, 16, None, []),
        (16, 16, None, [0]),
        (47, 16, None, [0, 16]),
        (48, 16, None, [0, 16, 32]),
        (40, 8, None, [0, 8, 16, 24]),
        (60, 20, None, [0, 20, 40]),
        (100, 16, 2, [0, 16]),
    ],
)
def test_clips_start_every_stride_frames(
    seeded_weights: Path, n: int, stride: int, max_clips: int | None, starts: list[int]
) -> None:
    """Oracle: a video of n frames gives (n - 16) // stride + 1 clips starting at k * stride
    (frame i's pixels hold i)."""
    extractor = FvdExtractor(weights=seeded_weights, stride=stride, max_clips=max_clips)
    clips = list(extractor.clips(_CountingFrames(n)))
    assert [int(c[0, 0, 0, 0]) for c in clips] == starts
    for clip, start in zip(clips, starts, strict=True):
        assert clip.shape == (CLIP_LENGTH_FRAMES, 6, 8, 3) and clip.dtype == np.uint8
        assert clip[:, 0, 0, 0].tolist() == list(range(start, start + CLIP_LENGTH_FRAMES))


def test_clips_stream_without_reading_ahead(extractor: FvdExtractor) -> None:
    frames = _CountingFrames(64)
    stream = extractor.clips(frames)
    next(stream)
    assert frames.taken == CLIP_LENGTH_FRAMES
    next(stream)
    assert frames.taken == 2 * CLIP_LENGTH_FRAMES


def test_protocol_records_what_the_features_depend_on(extractor: FvdExtractor) -> None:
    protocol = extractor.protocol
    assert extractor.dim == 400 and extractor.clip_length == 16 and extractor.stride == 16
    assert protocol["clip_length_frames"] == 16 and protocol["stride_frames"] == 16
    assert protocol["resolution_px"] == 224 and protocol["dim"] == 400
    assert "Mean" in str(protocol["layer"]) and len(str(protocol["weights_sha256"])) == 64
    assert "Unterthiner" in DEFINITION and "StyleGAN-V" in DEFINITION


def test_bad_frames_and_clips_are_refused(extractor: FvdExtractor) -> None:
    with pytest.raises(InputError, match="uint8"):
        extractor.features(np.zeros((1, 16, 8, 8, 3), dtype=np.float32))
    with pytest.raises(InputError, match="at least 9"):
        extractor.features(np.zeros((1, 8, 8, 8, 3), dtype=np.uint8))
    frames = [np.zeros((6, 8, 3), np.uint8), np.zeros((6, 9, 3), np.uint8)]
    with pytest.raises(InputError, match="frame 1"):
        list(extractor.clips(frames))
    with pytest.raises(ConfigError):
        FvdExtractor(weights=Path("unused"), stride=0)


def test_missing_default_weights_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV_VAR, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ModelWeightsError) as caught:
        FvdExtractor()
    message = str(caught.value)
    assert I3D_FILENAME in message and str(tmp_path) in message and "\n" not in message


def test_default_weights_are_found_in_the_weights_directory(
    seeded_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / I3D_FILENAME).symlink_to(seeded_weights)
    monkeypatch.setenv(WEIGHTS_ENV_VAR, str(tmp_path))
    assert FvdExtractor().protocol["weights"] == str(tmp_path / I3D_FILENAME)


class _Renamed(nn.Module):
    """The network's tensors as buffers t0, t1, ... in its order: a port with other names."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        super().__init__()
        for i, tensor in enumerate(tensors):
            self.register_buffer(f"t{i}", tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _same_weights(a: nn.Module, b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, b[k]) for k, v in a.state_dict().items() if "num_batches" not in k)


def test_torchscript_archive_with_other_names_loads_by_position(tmp_path: Path) -> None:
    state = seeded_i3d_state(seed=7)
    tensors = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    path = tmp_path / "renamed_torchscript.pt"
    torch.jit.script(_Renamed(tensors)).save(str(path))
    model = InceptionI3d()
    load_i3d_state(model, path)
    assert _same_weights(model, state)


def test_state_dict_under_a_prefix_loads_by_name(tmp_path: Path) -> None:
    state = seeded_i3d_state(seed=8)
    path = tmp_path / "wrapped.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    model = InceptionI3d()
    load_i3d_state(model, path)
    assert _same_weights(model, state)


def test_another_network_is_refused_naming_the_file(tmp_path: Path) -> None:
    state = seeded_i3d_state(seed=9)
    del state["Mixed_4c.b1b.conv3d.weight"]
    path = tmp_path / "not_i3d.pt"
    torch.save(state, path)
    with pytest.raises(ModelWeightsError, match="not an Inception-I3D") as caught:
        load_i3d_state(InceptionI3d(), path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
