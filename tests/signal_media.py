"""Clips whose audio and video carry a known signal, and an embedder that measures it: sync
made measurable without trained weights (the parity weights' distance curve is a V at offset 0
whatever the audio). Used by the fix/selftest tests and the offset-drift oracle."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from syncnet_eval.embedders import EmbedderSpec, register_embedder

FPS = 25
RATE = 16000


def write_signal_clip(
    path: Path, num_frames: int = 150, seed: int = 0, still_video: bool = False
) -> None:
    """Grey frames whose brightness follows a random per-frame envelope, and noise whose
    amplitude follows the same envelope: in sync by construction (pcm audio in Matroska).
    ``still_video``: the frames keep one brightness (a mouth that never moves), the audio is
    the same."""
    rng = np.random.default_rng(seed)
    env = rng.uniform(0.3, 1.0, num_frames)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = video.height = 224
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast"}
        audio = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for f in range(num_frames):
            level = 170 if still_video else int(40 + 200 * env[f])
            image = np.full((224, 224, 3), level, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        per_frame = RATE // FPS
        noise = rng.standard_normal(num_frames * per_frame) * np.repeat(env, per_frame) * 6000
        samples = np.clip(noise, -32767, 32767).astype(np.int16)
        for start in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = RATE, start
            frame.time_base = Fraction(1, RATE)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


class SignalEmbedder:
    """Embeds a lip window as its mean brightness and an audio window as its mean amplitude
    (exp(c0 / 2) of the MFCC, c0 being the log energy), each z-scored over the clip: the
    distance is smallest where the two envelopes line up.

    ``scale`` multiplies every embedding, and so every distance: a synced signal clip's LSE-C
    is about 2 at scale 1; at scale 4 it is in the range of real video under SyncNet, where
    thresholds written for SyncNet's distances (the drift segments' confidence bar) apply.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def _z(self, x: np.ndarray) -> torch.Tensor:
        z = self.scale * (x - x.mean()) / (x.std() + 1e-9)
        return torch.from_numpy(np.repeat(z[:, None], 4, axis=1).astype(np.float32))

    def embed_lips(
        self,
        chunks: Iterable[np.ndarray],
        max_windows: int | None = None,
        expected_windows: int | None = None,
    ) -> torch.Tensor:
        brightness = np.concatenate([c.reshape(len(c), -1).mean(axis=1) for c in chunks])
        windows = np.convolve(brightness, np.ones(5) / 5, mode="valid")
        return self._z(windows[:max_windows] if max_windows is not None else windows)

    def embed_audio(self, mfcc_t13: np.ndarray, n_windows: int) -> torch.Tensor:
        amplitude = np.exp(mfcc_t13[:, 0] / 2)
        windows = np.array([amplitude[4 * v : 4 * v + 20].mean() for v in range(n_windows)])
        return self._z(windows)


# The signal embedder as one more configuration: ``BatchConfig(..., embedder="signal")`` scores
# with it through the run driver (in this process or in worker processes), hashed by name.
SIGNAL_EMBEDDER = EmbedderSpec(
    "signal", "mean brightness vs mean amplitude (tests)", "signal_media:SignalEmbedder"
)
register_embedder(SIGNAL_EMBEDDER)
