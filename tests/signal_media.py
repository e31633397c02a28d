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


# -- two faces side by side, the audio owned by one at a time (the owner measure's oracle) ------

PANEL = 128  # each face's panel, px (the composite is 2 * PANEL wide: small, so fast)
# Each panel's face box: centred, 60 x 76 px (score with --min-face-size below 76); with the
# crop margin (0.4) the crop stays inside its own panel sideways (38 * 1.4 = 53.2 < 64).
_BOX_HALF = (30, 38)
OWNER_MIN_FACE_PX = 50


def _frames_of(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames of ``path`` (BGR, PANEL x PANEL), played forwards then backwards as
    often as needed (a longer clip from a short one; the content is the shared media's)."""
    frames = []
    with av.open(str(path)) as container:
        for f in container.decode(video=0):
            frames.append(f.to_ndarray(format="bgr24", width=PANEL, height=PANEL))
            if len(frames) == count:  # enough without looping: decode no further
                return frames
    loop = frames + frames[-2:0:-1]
    return [loop[k % len(loop)] for k in range(count)]


def _audio_of(path: Path, count: int) -> np.ndarray:
    """``count`` frames' worth of 16 kHz mono int16 speech from ``path`` (forwards, then
    backwards: the envelope of speech either way)."""
    from syncnet_eval.decode import read_audio

    audio = read_audio(path)
    loop = np.concatenate([audio, audio[::-1]])
    need = count * (RATE // FPS)
    return np.resize(loop, need).astype(np.int16)


def write_owner_composite(
    path: Path, left: Path, right: Path, owners: list[str], seed: int = 0
) -> list[np.ndarray]:
    """Two shared-media faces side by side (``left`` in the left panel, track 0; ``right``,
    track 1) under one speech track (``left``'s audio), each frame's owner given by
    ``owners`` (one of ``"left"``, ``"right"``, ``"both"`` per frame).

    The owner's panel brightness follows the audio's per-frame level; the other panel's
    follows a random envelope of its own (lips that move, to other words); under ``"both"``
    both panels follow the audio. What the signal embedder measures (crop brightness against
    audio amplitude) is then in sync for the owner alone, by construction.

    Returns:
        The face boxes per frame of the pipeline's 25 fps stream (``detections``).
    """
    n = len(owners)
    rng = np.random.default_rng(seed)
    audio = _audio_of(left, n)
    level = np.sqrt(np.mean(audio.reshape(n, -1).astype(np.float64) ** 2, axis=1))
    follows = level / (level.max() + 1e-9)
    others = [rng.uniform(0.0, 1.0, n), rng.uniform(0.0, 1.0, n)]
    panels = [_frames_of(left, n), _frames_of(right, n)]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = 2 * PANEL, PANEL
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "12", "preset": "ultrafast"}
        stream = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for f in range(n):
            halves = []
            for side, name in enumerate(("left", "right")):
                env = follows[f] if owners[f] in (name, "both") else others[side][f]
                gain = 0.25 + 0.75 * env
                halves.append(np.clip(panels[side][f] * gain, 0, 255).astype(np.uint8))
            image = np.ascontiguousarray(np.concatenate(halves, axis=1))
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, audio.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                audio[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = RATE, start
            frame.time_base = Fraction(1, RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return _composite_boxes(path)


def _composite_boxes(path: Path) -> list[np.ndarray]:
    """Both panels' face boxes on every frame of the pipeline's q2 dump of ``path``."""
    import tempfile

    from syncnet_eval.decode import REFERENCE_QSCALE, iter_jpegs, transcode_reference_avi

    with tempfile.TemporaryDirectory() as tmp:
        avi = Path(tmp) / "video.avi"
        transcode_reference_avi(path, avi)
        dumped = sum(1 for _ in iter_jpegs(avi, REFERENCE_QSCALE))
    ax, ay = _BOX_HALF
    c = PANEL // 2
    rows = [[c - ax + dx, c - ay, c + ax + dx, c + ay, 0.99] for dx in (0, PANEL)]
    return [np.array(rows, dtype=np.float64) for _ in range(dumped)]
