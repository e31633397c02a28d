"""Opt-in fast modes (keyframe detection, reduced precision) and decode prefetching."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from syncnet_eval.config import PipelineConfig, ScoreConfig
from syncnet_eval.decode import prefetch
from syncnet_eval.embed import Bf16Stream, SyncNetEmbedder
from syncnet_eval.errors import ConfigError
from syncnet_eval.models.syncnet import SyncNet
from syncnet_eval.tracking import interpolate_keyframes


def test_keyframe_boxes_are_interpolated_between_matching_boxes() -> None:
    keyed = {
        0: np.array([[0.0, 0, 100, 100, 0.99], [500, 500, 600, 600, 0.97]]),
        4: np.array([[8.0, 0, 108, 100, 0.95]]),  # second face lost: not propagated
        8: np.zeros((0, 5)),
    }
    frames = interpolate_keyframes(keyed, 9)
    assert len(frames) == 9
    np.testing.assert_allclose(frames[2], [[4.0, 0, 104, 100, 0.97]])
    assert len(frames[0]) == 2 and len(frames[4]) == 1
    assert all(len(f) == 0 for f in frames[5:])  # no match at frame 8: nothing invented


def test_keyframes_do_not_bridge_non_overlapping_boxes() -> None:
    keyed = {0: np.array([[0.0, 0, 50, 50, 0.99]]), 3: np.array([[200.0, 200, 250, 250, 0.99]])}
    frames = interpolate_keyframes(keyed, 4)
    assert [len(f) for f in frames] == [1, 0, 0, 1]


def test_interpolated_frames_are_sorted_best_first() -> None:
    keyed = {
        0: np.array([[0.0, 0, 100, 100, 0.5], [300, 0, 400, 100, 0.9]]),
        2: np.array([[0.0, 0, 100, 100, 0.99], [300, 0, 400, 100, 0.6]]),
    }
    mid = interpolate_keyframes(keyed, 3)[1]
    assert list(mid[:, 4]) == sorted(mid[:, 4], reverse=True)


def test_fast_mode_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        PipelineConfig(detect_every=0)
    with pytest.raises(ConfigError):
        ScoreConfig(precision="int8")


def test_bf16_embeddings_stay_close_to_fp32() -> None:
    torch.manual_seed(0)
    model = SyncNet().eval()
    frames = np.random.default_rng(0).integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    fp32 = SyncNetEmbedder(model, torch.device("cpu"), 4).embed_lips([frames])
    bf16 = SyncNetEmbedder(model, torch.device("cpu"), 4, precision="bf16").embed_lips([frames])
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    rel = (bf16 - fp32).norm() / fp32.norm()
    assert 0 < rel < 0.05  # it does move the numbers (hence opt-in), but not by much


def test_prefetch_keeps_order_propagates_errors_and_stops_on_close() -> None:
    assert list(prefetch(iter(range(10)), depth=2)) == list(range(10))

    def failing():
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(prefetch(failing()))

    produced: list[int] = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = prefetch(endless(), depth=2)
    assert next(gen) == 0
    gen.close()
    before = threading.active_count()
    assert len(produced) < 10  # bounded: the producer waits for the consumer
    assert threading.active_count() <= before


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")
def test_bf16_on_cpu_runs_packed_bf16_streams_for_lips_and_audio() -> None:
    torch.manual_seed(0)
    model = SyncNet().eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (9, 224, 224, 3), dtype=np.uint8)
    mfcc = rng.standard_normal((60, 13)).astype(np.float32)
    fp32 = SyncNetEmbedder(model, torch.device("cpu"), 4)
    bf16 = SyncNetEmbedder(model, torch.device("cpu"), 4, precision="bf16")
    for a, b in [
        (fp32.embed_lips([frames]), bf16.embed_lips([frames[:6], frames[6:]])),
        (fp32.embed_audio(mfcc, 10), bf16.embed_audio(mfcc, 10)),
    ]:
        assert b.dtype == torch.float32 and b.shape == a.shape
        assert 0 < (b - a).norm() / a.norm() < 0.05
    # weights were packed once per stream and input size, not per batch
    assert sorted(k[0] for k in bf16._bf16_streams) == ["audio", "lip"]
    assert all(isinstance(s, Bf16Stream) for s in bf16._bf16_streams.values())
