"""What defines silence for the mouth-motion-in-silence measure (:mod:`syncnet_eval.silence`).

Two detectors, each giving a voiced/silent decision per 40 ms frame (one per 25 fps video
frame: samples ``640k..640k+639`` of the track's 16 kHz audio):

- ``energy`` (the default; :func:`syncnet_eval.silence.silent_frames`): a frame is silent when
  its RMS level is more than 25 dB below the clip's 90th-percentile level or below -60 dBFS.
  Loud noise or music without speech is "voiced" for it.
- ``silero``: the silero-vad speech detector (MIT; its model, ``silero_vad.jit``, ships inside
  the PyPI wheel; ``pip install 'syncnet-eval[vad]'``), through its
  ``get_speech_timestamps`` with the package's defaults (threshold 0.5, speech at least 250 ms,
  silence at least 100 ms, 30 ms padding: silero-vad's ``utils_vad.py``). A frame is voiced
  when a speech segment overlaps it: silence is the absence of *speech*, whatever the level.

The runs that count (at least 8 frames, less 2 at each end) are the same rule for both
(:func:`syncnet_eval.silence.counted_silence`). ``scripts/study_vad.py`` measures both against
a constructed speech/silence timeline (docs/silence.md).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .config import SILENCE_DETECTORS
from .constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE_HZ
from .errors import ConfigError, DependencyError

__all__ = [
    "SILERO_SETTINGS",
    "check_detector",
    "require_silero",
    "silero_speech_frames",
    "silero_version",
]

# silero-vad's get_speech_timestamps defaults (utils_vad.py), written out so a result can name
# them and a later release that changes its defaults does not change ours silently.
SILERO_SETTINGS: dict[str, Any] = {
    "threshold": 0.5,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 100,
    "speech_pad_ms": 30,
}
_LOCK = threading.Lock()
_MODEL: list[Any] = []  # the loaded JIT model, once per process


def silero_version() -> str | None:
    """The installed silero-vad's version (``None``: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("silero-vad")
    except PackageNotFoundError:
        return None


def require_silero() -> None:
    """Raise :class:`DependencyError` (one line, what to install) when silero-vad is missing:
    the run driver asks before any input is scored."""
    if silero_version() is None:
        raise DependencyError(
            "--silence-detector silero needs silero-vad: pip install 'syncnet-eval[vad]'"
        )


def _silero() -> tuple[Any, Any]:
    """``(model, get_speech_timestamps)``, loaded once. Importing silero-vad sets torch's
    thread count to 1 (its ``model.py``): the count is put back, so SyncNet keeps its cores."""
    import torch

    threads = torch.get_num_threads()
    try:
        from silero_vad import get_speech_timestamps, load_silero_vad
    except ImportError:
        raise DependencyError(
            "--silence-detector silero needs silero-vad: pip install 'syncnet-eval[vad]'"
        ) from None
    finally:
        torch.set_num_threads(threads)
    with _LOCK:
        if not _MODEL:
            _MODEL.append(load_silero_vad())
    return _MODEL[0], get_speech_timestamps


def silero_speech_frames(audio: np.ndarray) -> np.ndarray:
    """Which 40 ms frames silero-vad hears speech in.

    Args:
        audio: (L,) int16 (or int16-scaled) samples at 16 kHz.

    Returns:
        (L // 640,) bool: a speech segment overlaps the frame.
    """
    import torch

    n = audio.size // AUDIO_SAMPLES_PER_FRAME
    voiced = np.zeros(n, dtype=bool)
    if n == 0:
        return voiced
    model, timestamps = _silero()
    wav = torch.from_numpy(np.asarray(audio, dtype=np.float32) / 32768.0)
    # One thread, as silero-vad itself sets on import: its model runs one 32 ms window at a
    # time, and with two threads on a busy 2-core machine it ran 30-50x slower (0.8 s vs
    # 40 s for 12.7 s of audio). SyncNet's thread count is put back after.
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with _LOCK, torch.inference_mode():
            found = timestamps(wav, model, sampling_rate=SAMPLE_RATE_HZ, **SILERO_SETTINGS)
    finally:
        torch.set_num_threads(threads)
    for seg in found:
        first = int(seg["start"]) // AUDIO_SAMPLES_PER_FRAME
        last = (int(seg["end"]) - 1) // AUDIO_SAMPLES_PER_FRAME
        voiced[first : min(last, n - 1) + 1] = True
    return voiced


def check_detector(detector: str) -> None:
    """Raise :class:`ConfigError` for a detector that is not one of ``SILENCE_DETECTORS``."""
    if detector not in SILENCE_DETECTORS:
        raise ConfigError(
            f"silence detector must be one of {', '.join(SILENCE_DETECTORS)}; got {detector!r}"
        )
