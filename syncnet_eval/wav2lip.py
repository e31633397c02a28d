"""Wav2Lip's lip-sync expert as a measure: its own pre-processing, written from the published code.

Definition (``WAV2LIP_DEFINITION``): Prajwal et al. 2020, section 3.1 (the expert's sync
probability is the cosine similarity of its audio and face embeddings), with the inputs built as
Rudrabha/Wav2Lip's ``color_syncnet_train.py`` builds them:

- **faces**: each frame's face box cropped (``preprocess.py``: ``frame[y1:y2, x1:x2]``), resized
  to 96x96 (``cv2.resize``, bilinear), 5 consecutive crops stacked on the channel axis in BGR
  order (channel ``3 t + c``), scaled by 1/255, the lower half of the rows kept: (15, 48, 96);
- **audio**: ``audio.py``'s ``melspectrogram`` with ``hparams.py``: samples as float in [-1, 1),
  pre-emphasis 0.97, STFT (n_fft 800, hop 200, Hann window 800, centred with reflect padding as
  librosa 0.7.0, the version Wav2Lip pins), |STFT| through an 80-band Slaney mel filter bank
  (55-7600 Hz), ``20 log10(max(1e-5, .)) - 20`` dB, mapped from [-100, 0] dB to [-4, 4] and
  clipped: (80, T) at 80 columns a second;
- **windows**: the face window starting at frame ``f`` goes with the 16 mel columns starting at
  ``int(80 * f / 25)`` (``crop_audio_window``).

The measure scores each face window against the audio windows ``f + s`` for ``s`` in
``-vshift..vshift`` (the SyncNet search's range) and reports the mean similarity at ``s = 0``
(``wav2lip_sync``), the offset with the highest mean similarity (``wav2lip_offset``, frames,
SyncNet's sign: positive = audio leads video) and that mean (``wav2lip_best_sync``). A shift's
mean is over the windows that have both a face window and a full mel window (no padding).

The face box (:data:`FaceBox`) is the frame as it is for whole-frame recipes (pre-cropped
faces, as Wav2Lip's preprocessed LRS2 frames are) and the track's face box inside the 224 crop
for the face-track recipe (:func:`syncnet_eval.crop.face_box_in_crop`).
"""

from __future__ import annotations

from collections.abc import Mapping
import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.signal import lfilter
import torch

from .constants import FPS, SAMPLE_RATE_HZ
from .device import resolve_device
from .errors import ModelWeightsError
from .measures import TrackInputs
from .models.state import describe_checkpoint, key_mismatch, load_state_dict
from .models.wav2lip_syncnet import Wav2LipSyncNet

__all__ = [
    "FACE_SIZE",
    "MEL_STEPS",
    "WAV2LIP_DEFINITION",
    "WINDOW_FRAMES",
    "Wav2LipMeasure",
    "face_windows",
    "load_expert",
    "mel_filter_bank",
    "mel_spectrogram",
    "mel_start",
    "mel_windows",
    "resize_faces",
    "shift_similarities",
]

WAV2LIP_DEFINITION = (
    "Wav2Lip lip-sync expert (Prajwal et al. 2020, sec. 3.1): cosine similarity of "
    "SyncNet_color's audio and face embeddings, inputs as Rudrabha/Wav2Lip "
    "color_syncnet_train.py / audio.py / hparams.py (5 BGR 96x96 crops, lower half; 80-band "
    "mel, 16 columns from int(80 f / 25)); offsets searched +-vshift frames"
)

# hparams.py (Rudrabha/Wav2Lip): the expert's audio front end.
N_FFT = 800  # n_fft = win_size: 50 ms at 16 kHz
HOP = 200  # 12.5 ms: 80 mel columns a second
NUM_MELS = 80
FMIN_HZ, FMAX_HZ = 55.0, 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB, REF_LEVEL_DB, MAX_ABS_VALUE = -100.0, 20.0, 4.0
MEL_PER_SECOND = SAMPLE_RATE_HZ // HOP  # the 80 of crop_audio_window's int(80 * f / fps)
# color_syncnet_train.py: syncnet_T = 5 frames, syncnet_mel_step_size = 16 columns, 96 px faces.
WINDOW_FRAMES = 5
MEL_STEPS = 16
FACE_SIZE = 96
BATCH = 64

# (x1, y1, x2, y2) of the face in each frame the measure sees; None: the whole frame.
FaceBox = tuple[int, int, int, int] | None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's ``htk=False``): linear below 1 kHz, logarithmic above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_step = np.log(6.4) / 27.0
    above = hz >= 1000.0
    return np.where(above, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))


@functools.cache
def mel_filter_bank() -> np.ndarray:
    """(80, 401) float32 Slaney-normalised triangular filters, 55-7600 Hz (librosa's
    ``filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)``)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE_HZ / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(FMIN_HZ)), _hz_to_mel(np.array(FMAX_HZ)), NUM_MELS + 2)
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    out: np.ndarray = weights.astype(np.float32)
    return out


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """Wav2Lip's normalised mel spectrogram of 16 kHz audio.

    Args:
        audio: (L,) int16 samples at 16 kHz (or floats in [-1, 1)).

    Returns:
        (80, 1 + L // 200) float values in [-4, 4], 80 columns a second.
    """
    wav = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio
    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], wav)
    padded = np.pad(emphasised, N_FFT // 2, mode="reflect")
    n_frames = 1 + (padded.size - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    magnitude = np.abs(np.fft.rfft(padded[index] * window, axis=1)).T
    level = np.dot(mel_filter_bank(), magnitude)
    min_level = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    db = 20 * np.log10(np.maximum(min_level, level)) - REF_LEVEL_DB
    scaled = (2 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS_VALUE
    out: np.ndarray = np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)
    return out


def mel_start(frame: int, fps: float = FPS) -> int:
    """The first mel column of frame ``frame``'s window (``crop_audio_window``)."""
    return int(float(MEL_PER_SECOND) * (frame / float(fps)))


def mel_windows(mel: np.ndarray, frames: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(len(frames), 1, 80, 16) float32 mel windows starting at each frame's column (every
    frame must have a full window)."""
    starts = [mel_start(int(f), fps) for f in frames]
    return np.stack([mel[:, s : s + MEL_STEPS] for s in starts])[:, None].astype(np.float32)


def resize_faces(frames: np.ndarray, box: FaceBox = None) -> np.ndarray:
    """(n, 96, 96, 3) uint8 BGR: each frame's face box cut out and resized (bilinear)."""
    out = np.empty((len(frames), FACE_SIZE, FACE_SIZE, 3), np.uint8)
    for i, frame in enumerate(frames):
        face = frame if box is None else frame[box[1] : box[3], box[0] : box[2]]
        out[i] = cv2.resize(np.ascontiguousarray(face), (FACE_SIZE, FACE_SIZE))
    return out


def face_windows(faces: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(len(starts), 15, 48, 96) float32 face windows from (n, 96, 96, 3) uint8 BGR crops:
    frames ``s..s+4`` stacked on channels (index ``3 t + c``), / 255, lower half of the rows."""
    idx = np.asarray(starts)[:, None] + np.arange(WINDOW_FRAMES)[None, :]
    stacked = faces[idx].transpose(0, 1, 4, 2, 3)  # (W, T, C, H, W)
    n = len(idx)
    windows = stacked.reshape(n, WINDOW_FRAMES * 3, FACE_SIZE, FACE_SIZE)[:, :, FACE_SIZE // 2 :]
    out: np.ndarray = (windows / 255.0).astype(np.float32)
    return out


def shift_similarities(
    face_emb: np.ndarray, audio_emb: np.ndarray, vshift: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean cosine similarity of face window ``f`` with audio window ``f + s`` per shift.

    Args:
        face_emb: (F, D) unit face embeddings, window ``f`` at row ``f``.
        audio_emb: (A, D) unit audio embeddings, window ``a`` at row ``a``.
        vshift: shifts ``-vshift..vshift`` are searched.

    Returns:
        ``(shifts, means)``: (2 vshift + 1,) shifts and their mean similarity (NaN where no
        window pairs).
    """
    sims = face_emb @ audio_emb.T  # unit vectors: the cosine similarity
    shifts = np.arange(-vshift, vshift + 1)
    means = np.full(shifts.size, np.nan)
    for k, s in enumerate(shifts):
        diag = np.diagonal(sims, offset=int(s))
        if diag.size:
            means[k] = float(diag.mean())
    return shifts, means


@functools.lru_cache(maxsize=2)
def load_expert(weights: str, device: str = "auto") -> Wav2LipSyncNet:
    """The expert with ``weights`` (``lipsync_expert.pth``'s ``state_dict``, or a plain state
    dict; DataParallel's ``module.`` prefix is removed), in eval mode on ``device``.

    Raises:
        ModelWeightsError: unreadable, or not SyncNet_color's parameters.
    """
    state = load_state_dict(Path(weights))
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = Wav2LipSyncNet()
    problem = key_mismatch(model.state_dict(), state)
    if problem is not None:
        what = describe_checkpoint(state)
        other = what is not None and not what.startswith("Wav2Lip")
        cause = f"it holds {what}" if other else problem[:200]
        raise ModelWeightsError(
            f"{weights}: not Wav2Lip's lip-sync expert (SyncNet_color): {cause}"
        )
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


class Wav2LipMeasure:
    """The ``wav2lip`` track measure: crops the frames it is shown, then scores the windows."""

    def __init__(self, weights: str, device: str = "auto", face_box: FaceBox = None) -> None:
        self._model = load_expert(weights, device)
        self._box = face_box
        self._faces: list[np.ndarray] = []

    def observe(self, frames: np.ndarray) -> None:
        self._faces.append(resize_faces(frames, self._box))

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        vshift = (int(np.shape(inputs.distances)[1]) - 1) // 2
        faces = np.concatenate(self._faces) if self._faces else np.empty((0, 96, 96, 3))
        mel = mel_spectrogram(np.asarray(inputs.audio))
        n_face = len(faces) - WINDOW_FRAMES + 1
        n_audio = sum(
            1
            for f in range(len(faces) + vshift)
            if mel_start(f, inputs.fps) + MEL_STEPS <= mel.shape[1]
        )
        if n_face < 1 or n_audio < 1:
            return _empty()
        face_emb = self._embed(face_windows(faces, np.arange(n_face)), faces_stream=True)
        audio_emb = self._embed(
            mel_windows(mel, np.arange(n_audio), inputs.fps), faces_stream=False
        )
        shifts, means = shift_similarities(face_emb, audio_emb, vshift)
        return _values(shifts, means, min(n_face, n_audio))

    def _embed(self, windows: np.ndarray, *, faces_stream: bool) -> np.ndarray:
        device = next(self._model.parameters()).device
        embed = self._model.embed_faces if faces_stream else self._model.embed_audio
        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), BATCH):
                batch = torch.from_numpy(windows[i : i + BATCH]).to(device)
                out.append(embed(batch).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)


def _empty() -> dict[str, Any]:
    return {
        "wav2lip_sync": None,
        "wav2lip_offset": None,
        "wav2lip_best_sync": None,
        "wav2lip_windows": 0,
    }


def _values(shifts: np.ndarray, means: np.ndarray, windows: int) -> dict[str, Any]:
    zero = means[shifts == 0]
    best = int(np.nanargmax(means))
    return {
        "wav2lip_sync": float(zero[0]) if np.isfinite(zero[0]) else None,
        # SyncNet's sign: the best audio window comes s frames after the face window when the
        # audio lags the video, so the offset (positive = audio leads) is -s.
        "wav2lip_offset": int(-shifts[best]),
        "wav2lip_best_sync": float(means[best]),
        "wav2lip_windows": int(windows),
    }


def create_measure(options: Mapping[str, Any]) -> Wav2LipMeasure:
    """The measure for one track from the run's expert options (``weights``, ``device``,
    ``face_box``)."""
    return Wav2LipMeasure(
        str(options["weights"]), str(options.get("device", "auto")), options.get("face_box")
    )
