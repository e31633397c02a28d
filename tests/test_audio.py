"""MFCC equals python_speech_features.mfcc(signal, 16000)."""

from __future__ import annotations

import numpy as np
import pytest
import python_speech_features as psf

from syncnet_eval.audio import mfcc


@pytest.mark.parametrize("num_samples", [1, 399, 400, 401, 561, 16000, 640 * 317 + 13])
def test_mfcc_equals_python_speech_features_on_random_int16(num_samples: int) -> None:
    rng = np.random.default_rng(num_samples)
    audio = rng.integers(-32768, 32768, num_samples, dtype=np.int64).astype(np.int16)
    expected = psf.mfcc(audio, 16000)
    ours = mfcc(audio)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


def test_mfcc_of_silence_uses_eps_like_the_reference() -> None:
    audio = np.zeros(4000, dtype=np.int16)
    np.testing.assert_allclose(mfcc(audio), psf.mfcc(audio, 16000), rtol=0, atol=1e-5)


def test_video_of_k_frames_gives_4k_minus_1_columns() -> None:
    k = 50
    assert mfcc(np.ones(640 * k, dtype=np.int16)).shape == (4 * k - 1, 13)


def test_mfcc_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import syncnet_eval.audio as audio_mod

    rng = np.random.default_rng(7)
    audio = rng.integers(-32768, 32768, 16000 * 5 + 77, dtype=np.int64).astype(np.int16)
    whole = mfcc(audio)  # 500 frames: one block
    monkeypatch.setattr(audio_mod, "_BLOCK_FRAMES", 64)  # 8 blocks, the last one partial
    blocked = mfcc(audio)
    # Same arithmetic, but FFT and matrix products over other row counts may take other SIMD
    # paths (5e-14 seen on AVX-512): hold it far below the 1e-4 parity tolerance, not to the bit.
    # A misplaced block boundary moves values by whole units.
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-9)
    np.testing.assert_allclose(blocked, psf.mfcc(audio, 16000), rtol=0, atol=1e-5)
