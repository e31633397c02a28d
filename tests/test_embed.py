"""The GPU throughput mode's shared forward passes (``embed.BatchedEmbedder``): the same
embeddings as one video at a time, on CPU here and on CUDA where there is one."""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
import contextlib
from pathlib import Path
import time

import numpy as np
import pytest
import torch

from syncnet_eval import embed
from syncnet_eval.config import ScoreConfig
from syncnet_eval.embed import BatchedEmbedder, SyncNetEmbedder, take_shared_pass
from syncnet_eval.engines.plan import BatchConfig, RunConfig, RunHooks
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.inputs import BatchInput
from syncnet_eval.models.state import load_state_dict
from syncnet_eval.models.syncnet import SyncNet, load_syncnet_state

from conftest import assert_same_records

# Per-window embeddings of a shared pass equal those of a pass of their own to float rounding.
EMBEDDING_TOL = 1e-5


def _model(weights: Path) -> SyncNet:
    model = SyncNet()
    load_syncnet_state(model, load_state_dict(weights), str(weights))
    return model.eval()


def _videos(seed: int, lengths: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frames (T, 224, 224, 3) uint8, MFCC (4T, 13) float32) per video."""
    rng = np.random.default_rng(seed)
    return [
        (
            rng.integers(0, 256, (t, 224, 224, 3), dtype=np.uint8),
            rng.standard_normal((4 * t, 13)).astype(np.float32),
        )
        for t in lengths
    ]


def _embed(embedder: SyncNetEmbedder, video: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    frames, cc = video
    chunks = [frames[i : i + 7] for i in range(0, len(frames), 7)]  # uneven chunk boundaries
    lips = embedder.embed_lips(chunks)
    audio = embedder.embed_audio(cc, lips.shape[0])
    return torch.cat([lips, audio]).cpu()


def _shared_vs_alone(model: SyncNet, device: torch.device) -> BatchedEmbedder:
    videos = _videos(0, (23, 9, 31, 14))
    alone = SyncNetEmbedder(model, device, batch_size=8)
    want = [_embed(alone, v) for v in videos]
    shared = BatchedEmbedder(model, device, batch_size=8)

    def one(video: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        with shared.stream():
            return _embed(shared, video)

    with shared, ThreadPoolExecutor(len(videos)) as pool:
        got = list(pool.map(one, videos))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=EMBEDDING_TOL, atol=EMBEDDING_TOL)
    return shared


def test_take_shared_pass_joins_requests_of_one_kind_up_to_the_batch_size() -> None:
    def req(key: str, n: int) -> object:
        return embed._Request((key,), torch.zeros(n, 1), 0.0)

    a1, b1, a2, a3, a4 = req("a", 3), req("b", 2), req("a", 4), req("a", 2), req("a", 1)
    pending = deque([a1, b1, a2, a3, a4])
    assert take_shared_pass(pending, 8) == [a1, a2, a4]  # a3 would overflow; a4 still fits
    assert list(pending) == [b1, a3]
    assert take_shared_pass(pending, 8) == [b1]
    big = req("a", 20)
    pending = deque([big, a1])
    assert take_shared_pass(pending, 8) == [big]  # never split; a larger request runs alone


def test_shared_passes_give_the_embeddings_of_one_video_at_a_time_on_cpu(
    syncnet_parity_weights: Path,
) -> None:
    shared = _shared_vs_alone(_model(syncnet_parity_weights), torch.device("cpu"))
    assert shared.windows_embedded == 2 * sum(t - 4 for t in (23, 9, 31, 14))


def test_registered_streams_share_one_pass(syncnet_parity_weights: Path) -> None:
    model = _model(syncnet_parity_weights)
    videos = _videos(1, (10, 10))
    # 10 frames in chunks of 7 and 3: two lip requests (3 windows each) and one audio request
    # (6 windows) per video; each pass joins the same request of both videos.
    # A long max_wait_s: a pass waits until both registered streams are waiting.
    shared = BatchedEmbedder(model, torch.device("cpu"), batch_size=64, max_wait_s=60.0)
    with shared, contextlib.ExitStack() as registered, ThreadPoolExecutor(2) as pool:
        for _ in videos:
            registered.enter_context(shared.stream())  # both registered before either submits
        got = list(pool.map(lambda v: _embed(shared, v), videos))
    assert (shared.forward_passes, shared.windows_embedded) == (3, 24)
    alone = SyncNetEmbedder(model, torch.device("cpu"), batch_size=64)
    for g, v in zip(got, videos, strict=True):
        torch.testing.assert_close(g, _embed(alone, v), rtol=EMBEDDING_TOL, atol=EMBEDDING_TOL)


def test_a_failed_pass_reaches_every_caller_and_close_stops_the_server(
    syncnet_parity_weights: Path,
) -> None:
    shared = BatchedEmbedder(_model(syncnet_parity_weights), torch.device("cpu"), batch_size=8)
    with shared, pytest.raises(RuntimeError):
        shared.embed_audio(np.zeros((40, 7), np.float32), 4)  # 7 MFCC coefficients, not 13
    deadline = time.monotonic() + 60  # a ceiling for a loaded machine, not a speed bound
    while shared._server.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not shared._server.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        shared.embed_audio(np.zeros((40, 13), np.float32), 4)


def test_streams_score_the_same_records_as_one_video_at_a_time(
    batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    items = [BatchInput(path=p, id=p.name) for p in batch_clips]
    config = BatchConfig(
        recipe="direct",
        score_config=ScoreConfig(device="cpu", batch_size=16),
        syncnet_weights=syncnet_parity_weights,
    )
    one = run_inputs(items, config, hooks=RunHooks(download_progress=False))
    many = run_inputs(items, config, RunConfig(streams=3), hooks=RunHooks(download_progress=False))
    assert [r.result.status for r in one.records] == ["ok"] * len(items)
    assert_same_records([r.to_dict() for r in many.records], [r.to_dict() for r in one.records])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_shared_passes_give_the_embeddings_of_one_video_at_a_time_on_cuda(
    syncnet_parity_weights: Path,
) -> None:
    shared = _shared_vs_alone(_model(syncnet_parity_weights), torch.device("cuda"))
    assert shared.forward_passes > 0
