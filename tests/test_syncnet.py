"""SyncNet architecture, strict weight loading and the streaming lip embedder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from syncnet_eval.embed import SyncNetEmbedder, num_windows
from syncnet_eval.errors import ModelWeightsError
from syncnet_eval.models.syncnet import SyncNet, load_syncnet_state


def _seeded_model() -> SyncNet:
    torch.manual_seed(0)
    model = SyncNet().eval()
    for mod in model.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    return model


def test_state_dict_with_a_missing_key_is_refused_and_named() -> None:
    state = SyncNet().state_dict()
    del state["netcnnlip.4.weight"]
    with pytest.raises(ModelWeightsError, match=r"missing keys: netcnnlip\.4\.weight"):
        load_syncnet_state(SyncNet(), state, "w.model")


def test_unexpected_and_misshaped_keys_are_refused_and_named() -> None:
    state = SyncNet().state_dict()
    state["extra.weight"] = torch.zeros(1)
    state["netfcaud.3.bias"] = torch.zeros(7)
    with pytest.raises(ModelWeightsError) as err:
        load_syncnet_state(SyncNet(), state, "w.model")
    assert "extra.weight" in str(err.value)
    assert "netfcaud.3.bias (7,)" in str(err.value)


def test_official_layout_loads_without_batchnorm_counters() -> None:
    source = _seeded_model()
    state = {k: v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    target = SyncNet()
    load_syncnet_state(target, state, "w.model")
    torch.testing.assert_close(target.netfclip[3].bias, source.netfclip[3].bias)


def test_lip_stream_accepts_sides_211_to_242_only() -> None:
    model = _seeded_model()
    with torch.inference_mode():
        for side in (211, 224, 242):
            assert model.forward_lip(torch.rand(1, 3, 5, side, side) * 255).shape == (1, 1024)
        with pytest.raises(RuntimeError):
            model.forward_lip(torch.rand(1, 3, 5, 256, 256) * 255)


def test_streamed_lip_embeddings_equal_per_window_forward() -> None:
    model = _seeded_model()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (13, 224, 224, 3), dtype=np.uint8)
    embedder = SyncNetEmbedder(model, torch.device("cpu"), batch_size=3)
    chunks = [frames[:4], frames[4:9], frames[9:]]  # chunk edges inside windows
    streamed = embedder.embed_lips(iter(chunks))
    with torch.inference_mode():
        x = torch.from_numpy(frames).float().permute(3, 0, 1, 2)  # (3, T, H, W) BGR 0-255
        per_window = torch.cat([model.forward_lip(x[:, v : v + 5].unsqueeze(0)) for v in range(9)])
    assert streamed.shape == (9, 1024)
    torch.testing.assert_close(streamed, per_window, rtol=1e-4, atol=1e-4)


def test_audio_windows_use_mfcc_columns_4v_to_4v_plus_19() -> None:
    model = _seeded_model()
    embedder = SyncNetEmbedder(model, torch.device("cpu"), batch_size=4)
    cc = np.random.default_rng(1).normal(size=(4 * 10 - 1, 13))
    ours = embedder.embed_audio(cc, 5)
    with torch.inference_mode():
        ref = torch.cat(
            [
                model.forward_aud(torch.from_numpy(cc.T[None, None, :, 4 * v : 4 * v + 20]).float())
                for v in range(5)
            ]
        )
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_window_count_drops_the_last_start_like_the_reference() -> None:
    assert num_windows(317, 202880) == 312
    assert num_windows(100, 640 * 50) == 45  # audio-limited
    assert num_windows(5, 640 * 5) == 0


def test_max_windows_still_drains_the_whole_stream() -> None:
    # Callers count frames while the embedder consumes the stream: stopping early at
    # max_windows undercounted the last chunk's frames (one window fewer than the reference).
    model = _seeded_model()
    embedder = SyncNetEmbedder(model, torch.device("cpu"), batch_size=4)
    frames = np.random.default_rng(2).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    seen = []

    def stream():
        for _ in range(5):
            seen.append(len(frames))
            yield frames

    out = embedder.embed_lips(stream(), max_windows=6)
    assert out.shape == (6, 1024)
    assert sum(seen) == 15  # every chunk was pulled


def test_growing_rows_keeps_every_row_in_order_across_regrowth() -> None:
    from syncnet_eval.embed import _GrowingRows

    rng = torch.Generator().manual_seed(3)
    parts = [torch.randn(n, 8, generator=rng) for n in (5, 250, 1, 300, 64, 200)]
    rows = _GrowingRows(8, torch.device("cpu"), capacity=10)  # starts at 256, grows twice
    for p in parts:
        rows.append(p)
    assert torch.equal(rows.rows(), torch.cat(parts))


def test_fused_conv_relu_equals_conv_then_relu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import syncnet_eval.embed as embed_mod

    if not embed_mod._FUSED_CONV_RELU:
        pytest.skip("this torch build has no fused oneDNN convolution + ReLU")
    embedder = SyncNetEmbedder(_seeded_model(), torch.device("cpu"), batch_size=8)
    frames = torch.from_numpy(
        np.random.default_rng(4).integers(0, 256, (10, 224, 224, 3), dtype=np.uint8)
    )
    with torch.inference_mode():
        fused = embedder._lip_windows(frames)
        monkeypatch.setattr(embed_mod, "_FUSED_CONV_RELU", False)
        plain = embedder._lip_windows(frames)
    # Two oneDNN code paths: their convolutions may sum in another order on another CPU, so the
    # check is to float rounding (a wrong post-op, e.g. no ReLU, moves embeddings by whole units).
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-4)


def test_s3fd_weights_given_as_syncnet_weights_are_named() -> None:
    from syncnet_eval.models.state import load_state_dict

    from conftest import PARITY_S3FD_WEIGHTS

    if not PARITY_S3FD_WEIGHTS.is_file():
        pytest.skip("S3FD parity weights not found")
    with pytest.raises(ModelWeightsError) as exc:
        load_syncnet_state(SyncNet(), load_state_dict(PARITY_S3FD_WEIGHTS), "sfd.pth")
    message = str(exc.value)
    assert "S3FD face detector weights" in message and len(message) < 300  # not 200 key names
