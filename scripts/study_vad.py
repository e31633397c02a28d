"""Which detector should define silence for the mouth-motion-in-silence measure?

Builds a speech/silence timeline whose silences are known by construction: 2 s chunks of the
speech of the REAL clips in ../shared/media, with gaps of 0.48-1.2 s between them (known
times), under a background that runs through the whole timeline:

- ``digital``: nothing (the gaps are digital silence);
- ``room``: white noise 45 dB below the speech's level (a quiet room);
- ``noise``: pink noise 15 dB below the speech's level (a fan, traffic, a noisy room);
- ``music``: a chord of three tones 12 dB below the speech's level (background music).

Each detector (``energy``: the default level rule; ``silero``: silero-vad) decides, per 40 ms
frame, which frames count as silent (runs of >= 8 frames less 2 at each end:
``silence.detect_silence``). Printed per background:

- *gap recall*: the share of the gaps' frames (less the 2-frame margins the rule drops) that
  count as silent;
- *speech called silent*: the share of the speech chunks' frames that count as silent (an
  upper bound of false silence: a real pause of >= 0.32 s inside a chunk counts here too, for
  both detectors alike);
- *agreement*: the share of all frames where the detector's counted silence equals the
  timeline's (gaps silent, chunks not);
- the detector's time per minute of audio.

    python scripts/study_vad.py            # needs silero-vad (pip install -e '.[vad]')
"""

from __future__ import annotations

import argparse
from pathlib import Path
import time

import numpy as np

from syncnet_eval.constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE_HZ
from syncnet_eval.decode import read_audio
from syncnet_eval.silence import (
    SILENCE_MARGIN_FRAMES,
    detect_silence,
    frame_levels_dbfs,
    speech_level_dbfs,
)

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
REAL = (
    "syncnet_example.avi",
    "hdtf_RD_Radio2_000.mp4",
    "hdtf_WDA_AlexandriaOcasioCortez_000.mp4",
    "hdtf_WDA_BobMenendez_000.mp4",
    "hdtf_WDA_KatieHill_000.mp4",
    "lrs3_C8zY0oAdQrs_00018_uncropped.mp4",
)
CHUNK_S = 2.0
BACKGROUNDS = {"digital": None, "room": -45.0, "noise": -15.0, "music": -12.0}
DETECTORS = ("energy", "silero")
FRAME = AUDIO_SAMPLES_PER_FRAME


def build_timeline(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Speech chunks and gaps: (L,) float64 samples and (L // 640,) bool, True in the gaps.
    Every chunk and gap is a whole number of 40 ms frames."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    chunk = int(CHUNK_S * SAMPLE_RATE_HZ)
    for name in REAL:
        audio = read_audio(MEDIA / name).astype(np.float64)
        for start in range(0, audio.size - chunk + 1, chunk):
            part = audio[start : start + chunk]
            parts.append(part)
            truth.append(np.zeros(chunk // FRAME, dtype=bool))
            gap_frames = int(rng.integers(12, 31))  # 0.48-1.2 s
            parts.append(np.zeros(gap_frames * FRAME))
            truth.append(np.ones(gap_frames, dtype=bool))
    return np.concatenate(parts), np.concatenate(truth)


def background(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) samples of unit RMS."""
    if kind == "music":
        t = np.arange(n) / SAMPLE_RATE_HZ
        x = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    elif kind == "noise":  # pink noise: white noise shaped 1/sqrt(f) in the spectrum
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE_HZ)
        x = np.fft.irfft(spectrum / np.sqrt(np.maximum(f, 20.0)), n)
    else:
        x = rng.standard_normal(n)
    return np.asarray(x / np.sqrt(np.mean(np.square(x))))


def with_background(speech: np.ndarray, kind: str, seed: int) -> np.ndarray:
    below = BACKGROUNDS[kind]
    if below is None:
        mixed = speech
    else:
        level_db = speech_level_dbfs(frame_levels_dbfs(speech))  # the clip's speech level
        rms = 32768.0 * 10 ** ((level_db + below) / 20)
        mixed = speech + rms * background(kind, speech.size, np.random.default_rng(seed))
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


def scored_gaps(truth: np.ndarray) -> np.ndarray:
    """The gap frames a perfect detector's counted silence covers (the rule drops 2 frames at
    each end of a silent run)."""
    inner = np.zeros_like(truth)
    edges = np.diff(np.concatenate([[0], truth.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        inner[a + SILENCE_MARGIN_FRAMES : b - SILENCE_MARGIN_FRAMES] = True
    return inner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    speech, truth = build_timeline(args.seed)
    minutes = speech.size / SAMPLE_RATE_HZ / 60
    gaps = scored_gaps(truth)
    expected = gaps  # counted silence of the timeline itself
    print(
        f"timeline: {minutes:.2f} min from {len(REAL)} real clips, {int(truth.sum())} gap "
        f"frames ({int(gaps.sum())} after the rule's margins), {int((~truth).sum())} speech "
        "frames"
    )
    print(
        f"{'background':<10} {'detector':<8} {'gap recall':>10} {'speech called silent':>21} "
        f"{'agreement':>9} {'s per min':>9}"
    )
    for kind in BACKGROUNDS:
        audio = with_background(speech, kind, args.seed + 1)
        for detector in DETECTORS:
            start = time.perf_counter()
            _, counted = detect_silence(audio, None, detector)
            took = time.perf_counter() - start
            n = min(counted.size, truth.size)
            c, t, g, e = counted[:n], truth[:n], gaps[:n], expected[:n]
            recall = float(c[g].mean())
            false_silence = float(c[~t].mean())
            agreement = float((c == e).mean())
            print(
                f"{kind:<10} {detector:<8} {recall:>10.3f} {false_silence:>21.3f} "
                f"{agreement:>9.3f} {took / minutes:>9.3f}"
            )


if __name__ == "__main__":
    main()
