"""DeSync (Synchformer) as a measure: its pre-processing, written from the published code, and
the seam for the network.

Definition (:data:`DESYNC_DEFINITION`): Synchformer (Iashin et al., "Synchformer: Efficient
Synchronization from Sparse Cues", ICASSP 2024) predicts an audio-visual offset as one of 21
classes, -2.0 s to +2.0 s in 0.2 s steps, from 4.8 s of video and audio. MMAudio (Cheng et al.,
CVPR 2025) reports DeSync with its benchmark (hkchengrex/av-benchmark: the README's "DeSync
Score"; ``extract.py`` ``encode_audio_with_sync``, ``extract_video.py``
``encode_video_with_sync``, ``data/video_dataset.py`` ``sync_transform``, ``evaluate.py``):
the first 4.8 s and the last 4.8 s of each clip are scored and the mean absolute predicted
offset in seconds is reported. Inputs, as there:

- **video**: 25 fps RGB frames, shorter side resized to 224 (bicubic, antialiased), centre
  crop 224x224, scaled to [0, 1] and normalised with mean 0.5, sd 0.5; 16-frame segments every
  8 frames (14 segments = 120 frames = 4.8 s);
- **audio**: 16 kHz samples as floats, 10240-sample segments every 5120 (the video segments'
  0.64 s every 0.32 s); each a 128-band power mel spectrogram (torchaudio ``MelSpectrogram``:
  n_fft 1024, window 400, hop 160, HTK mel scale, no filter normalisation, centred with reflect
  padding), ``log(x + 1e-6)``, zero-padded from 65 to 66 columns, normalised as AST's
  ``(x - (-4.2677393)) / (2 * 4.5689974)``: (1, 128, 66) per segment.

The network (Motionformer video features, AST audio features, the synchronisation transformer)
is **not** part of this package yet: :func:`use_model` plugs one in (a library user with the
published code), and ``--expert desync`` says so in one line otherwise. Its 0.2 s classes cannot
see errors of 1-3 frames (40-120 ms): use SyncNet's offset for those.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
import functools
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from .constants import AUDIO_SAMPLES_PER_FRAME, FPS, SAMPLE_RATE_HZ
from .errors import DependencyError
from .measures import TrackInputs

__all__ = [
    "DESYNC_DEFINITION",
    "OFFSET_GRID_S",
    "SCORED_FRAMES",
    "DesyncMeasure",
    "SynchformerModel",
    "audio_segments",
    "desync_from_logits",
    "mel_filter_bank",
    "segment_starts",
    "sync_crops",
    "use_model",
    "video_frames",
    "video_segments",
]

DESYNC_DEFINITION = (
    "DeSync: mean absolute Synchformer offset (21 classes, -2..+2 s by 0.2 s; Iashin et al. "
    "2024) over the first and the last 4.8 s, as MMAudio (Cheng et al., CVPR 2025) and "
    "hkchengrex/av-benchmark compute it (224 centre crop at 25 fps, 16-frame segments every 8; "
    "128-band log-mel of 10240-sample segments every 5120)"
)

SYNC_SIZE = 224  # av-benchmark video_dataset.py _SYNC_SIZE
SEGMENT_FRAMES, SEGMENT_STEP_FRAMES = 16, 8  # extract_video.py encode_video_with_sync
SCORED_SEGMENTS = 14  # evaluate.py: [:, :14] and [:, -14:]
SCORED_FRAMES = SEGMENT_FRAMES + (SCORED_SEGMENTS - 1) * SEGMENT_STEP_FRAMES  # 120 = 4.8 s
AUDIO_SEGMENT_SAMPLES, AUDIO_STEP_SAMPLES = 10240, 5120  # extract.py encode_audio_with_sync
SCORED_SAMPLES = SCORED_FRAMES * AUDIO_SAMPLES_PER_FRAME  # 76800
N_FFT, WIN, HOP, N_MELS = 1024, 400, 160, 128  # extraction_models.py sync_mel_spectrogram
SPEC_FRAMES = 66  # pad_or_truncate(x, 66)
AST_MEAN, AST_STD = -4.2677393, 4.5689974
# make_class_grid(-2, 2, 21): the offset classes, seconds.
OFFSET_GRID_S = np.linspace(-2.0, 2.0, 21)


class SynchformerModel(Protocol):
    """The network: offset logits of 14 video segments against 14 audio segments."""

    def offset_logits(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(21,) logits from (14, 16, 3, 224, 224) video and (14, 1, 128, 66) audio segments."""
        ...


_FACTORY: list[Callable[[str, str], SynchformerModel]] = []


def use_model(factory: Callable[[str, str], SynchformerModel] | None) -> None:
    """Plug in the network ``--expert desync`` runs: ``factory(weights, device)`` returns a
    :class:`SynchformerModel` (``None`` removes it)."""
    _FACTORY.clear()
    _load.cache_clear()
    if factory is not None:
        _FACTORY.append(factory)


@functools.lru_cache(maxsize=1)
def _load(weights: str, device: str) -> SynchformerModel:
    if not _FACTORY:
        raise DependencyError(
            f"--expert desync: the Synchformer network is not part of this version of "
            f"syncnet-eval (its pre-processing and the DeSync measure are); weights {weights} "
            f"were not loaded. Plug the published network in with "
            f"syncnet_eval.desync.use_model(factory) (docs/experts.md)"
        )
    return _FACTORY[0](weights, device)


def segment_starts(length: int, size: int, step: int) -> list[int]:
    """Starts of the ``(length - size) // step + 1`` segments (av-benchmark's partition)."""
    return [i * step for i in range(max(0, (length - size) // step + 1))]


def video_frames(frames_bgr: np.ndarray) -> torch.Tensor:
    """(n, 3, 224, 224) float32 frames as ``sync_transform`` makes them from (n, H, W, 3) uint8
    BGR: :func:`sync_crops`, then ``(x / 255 - 0.5) / 0.5``."""
    return (sync_crops(frames_bgr).float() / 255.0 - 0.5) / 0.5


def sync_crops(frames_bgr: np.ndarray) -> torch.Tensor:
    """(n, 3, 224, 224) uint8 RGB: shorter side to 224 (bicubic, antialiased, on uint8), centre
    crop (the measure keeps these, 150 kB a frame, whatever the input's size)."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames_bgr[..., ::-1])).permute(0, 3, 1, 2)
    h, w = rgb.shape[-2:]
    short, long = (h, w) if h <= w else (w, h)
    new_long = int(SYNC_SIZE * long / short)
    size = (SYNC_SIZE, new_long) if h <= w else (new_long, SYNC_SIZE)
    if (h, w) != size:
        # On uint8 directly: torchvision's v2.Resize runs torch's native uint8 antialiased
        # bicubic kernel on the CPU (av-benchmark transforms in its DataLoader); resizing floats
        # and rounding moves 15% of the pixels by up to 5 levels.
        rgb = F.interpolate(rgb, size=size, mode="bicubic", antialias=True)
    top = int(round((size[0] - SYNC_SIZE) / 2.0))
    left = int(round((size[1] - SYNC_SIZE) / 2.0))
    return rgb[:, :, top : top + SYNC_SIZE, left : left + SYNC_SIZE].contiguous()


def video_segments(frames: torch.Tensor) -> torch.Tensor:
    """(S, 16, 3, 224, 224) segments every 8 frames of (n, 3, 224, 224) frames."""
    starts = segment_starts(len(frames), SEGMENT_FRAMES, SEGMENT_STEP_FRAMES)
    return torch.stack([frames[s : s + SEGMENT_FRAMES] for s in starts])


@functools.cache
def mel_filter_bank() -> torch.Tensor:
    """(513, 128) HTK-scale triangular filters, 0-8000 Hz, unnormalised (torchaudio's
    ``melscale_fbanks`` as ``MelSpectrogram`` builds them)."""
    freqs = torch.linspace(0, SAMPLE_RATE_HZ // 2, N_FFT // 2 + 1)
    m_max = 2595.0 * np.log10(1.0 + (SAMPLE_RATE_HZ / 2) / 700.0)
    m_pts = torch.linspace(0.0, float(m_max), N_MELS + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def audio_segments(audio: np.ndarray) -> torch.Tensor:
    """(S, 1, 128, 66) normalised log-mel segments of (L,) int16 16 kHz audio."""
    wav = torch.from_numpy(audio.astype(np.float32) / 32768.0)
    starts = segment_starts(wav.numel(), AUDIO_SEGMENT_SAMPLES, AUDIO_STEP_SAMPLES)
    x = torch.stack([wav[s : s + AUDIO_SEGMENT_SAMPLES] for s in starts])
    spec = torch.stft(
        x,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=WIN,
        window=torch.hann_window(WIN),
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    power = spec.abs().pow(2.0)
    mel = torch.matmul(power.transpose(-1, -2), mel_filter_bank()).transpose(-1, -2)
    logmel = torch.log(mel + 1e-6)
    logmel = F.pad(logmel, (0, SPEC_FRAMES - logmel.shape[-1]), value=0.0)
    return ((logmel - AST_MEAN) / (2 * AST_STD)).unsqueeze(1)


def desync_from_logits(logits: list[torch.Tensor]) -> dict[str, Any]:
    """DeSync and the offsets of each scored stretch from their (21,) offset logits."""
    offsets = [float(OFFSET_GRID_S[int(torch.argmax(lg))]) for lg in logits]
    return {
        "desync_s": float(np.mean(np.abs(offsets))),
        "desync_offsets_s": [round(o, 1) for o in offsets],
    }


class DesyncMeasure:
    """The ``desync`` track measure: keeps the first and the last 4.8 s of frames, then asks
    the network for each stretch's offset."""

    def __init__(self, weights: str, device: str = "auto") -> None:
        self._model = _load(weights, device)
        self._first: list[torch.Tensor] = []
        # The last 4.8 s with audio: frames past the audio's end (up to 2 s) are dropped.
        self._last: deque[torch.Tensor] = deque(maxlen=SCORED_FRAMES + 2 * FPS)
        self._count = 0

    def observe(self, frames: np.ndarray) -> None:
        for frame in sync_crops(frames):
            if self._count < SCORED_FRAMES:
                self._first.append(frame)
            self._last.append(frame)
            self._count += 1

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        audio = np.asarray(inputs.audio)
        n = min(self._count, audio.size // AUDIO_SAMPLES_PER_FRAME)  # frames with audio
        kept = list(self._last)
        end = len(kept) - (self._count - n)
        if round(inputs.fps) != FPS or n < SCORED_FRAMES or end < SCORED_FRAMES:
            return {"desync_s": None, "desync_offsets_s": None}
        start = (n - SCORED_FRAMES) * AUDIO_SAMPLES_PER_FRAME
        stretches = [
            (torch.stack(self._first), audio[:SCORED_SAMPLES]),
            (torch.stack(kept[end - SCORED_FRAMES : end]), audio[start : start + SCORED_SAMPLES]),
        ]
        logits = []
        with torch.inference_mode():
            for crops, samples in stretches:
                video = video_segments((crops.float() / 255.0 - 0.5) / 0.5)
                logits.append(self._model.offset_logits(video, audio_segments(samples)))
        return desync_from_logits(logits)


def create_measure(options: Mapping[str, Any]) -> DesyncMeasure:
    """The measure for one track from the run's expert options (``weights``, ``device``)."""
    return DesyncMeasure(str(options["weights"]), str(options.get("device", "auto")))
