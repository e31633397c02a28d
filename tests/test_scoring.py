"""The batched offset kernel against a direct per-window loop and planted shifts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from syncnet_eval.scoring import distance_by_shift, score_offsets


def _loop_reference(video: torch.Tensor, audio: torch.Tensor, vshift: int) -> torch.Tensor:
    """The reference's calc_pdist: zero-pad audio, pairwise_distance per window."""
    padded = torch.nn.functional.pad(audio, (0, 0, vshift, vshift))
    rows = []
    for i in range(video.shape[0]):
        rows.append(
            torch.nn.functional.pairwise_distance(
                video[[i], :].repeat(2 * vshift + 1, 1), padded[i : i + 2 * vshift + 1]
            )
        )
    return torch.stack(rows)


def _planted(n: int, dim: int, offset: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio embeddings whose window i matches video window i + offset (audio leads)."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(n + 40, dim, generator=gen)
    video = base[20 : 20 + n]
    audio = base[20 + offset : 20 + offset + n] + 0.01 * torch.randn(n, dim, generator=gen)
    return video, audio


def test_distance_kernel_equals_pairwise_distance_loop() -> None:
    video, audio = _planted(57, 64, 0)
    audio = torch.randn_like(audio)
    ours = distance_by_shift(video, audio, 15, chunk_windows=7)
    ref = _loop_reference(video, audio, 15)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("offset", [-7, -1, 0, 3, 12])
def test_planted_shift_is_found_with_reference_sign(offset: int) -> None:
    # Video window i matches audio window i - offset: the sound of frame i comes `offset`
    # windows earlier, i.e. the audio leads for positive offsets (reference: vshift - argmin).
    video, audio = _planted(80, 32, offset)
    scores = score_offsets(video, audio, vshift=15)
    assert scores.av_offset == offset
    assert scores.dist_by_shift.shape == (31,)
    assert scores.lse_d == pytest.approx(float(scores.dist_by_shift.min()))
    assert scores.lse_c == pytest.approx(
        float(np.sort(scores.dist_by_shift)[15] - scores.dist_by_shift.min()), abs=1e-5
    )
    assert scores.lse_c > 0
    assert scores.num_windows == 80


def test_index_k_pairs_video_i_with_audio_i_plus_k_minus_vshift() -> None:
    video, audio = _planted(40, 16, 0, seed=3)
    d = distance_by_shift(video, audio, 4)
    i, k = 10, 6  # audio window i + k - 4 = 12
    expected = torch.linalg.vector_norm(video[i] - audio[12] + 1e-6)
    assert float(d[i, k]) == pytest.approx(float(expected), rel=1e-6)
    # Beyond the ends the reference pairs with zero rows, which stay in the mean.
    assert float(d[0, 0]) == pytest.approx(float(torch.linalg.vector_norm(video[0] + 1e-6)))


def test_framewise_confidence_is_median_filtered() -> None:
    video, audio = _planted(30, 8, 2, seed=5)
    scores = score_offsets(video, audio, vshift=5)
    assert scores.framewise_conf.shape == (30,)
    # Zero-padded 9-tap median: the first value is the median of 4 zeros and 5 values.
    raw = (
        np.median(scores.dist_by_shift)
        - distance_by_shift(video, audio, 5)[:, 5 - scores.av_offset].numpy()
    )
    assert scores.framewise_conf[0] == pytest.approx(
        float(np.median(np.r_[np.zeros(4), raw[:5]])), abs=1e-5
    )


def test_no_windows_is_an_error() -> None:
    with pytest.raises(ValueError):
        score_offsets(torch.zeros(0, 8), torch.zeros(0, 8))
