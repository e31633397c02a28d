"""Active-speaker detection with Light-ASD: per-frame speaking scores of a face track.

Inputs as its authors feed the network in their in-the-wild demo: the 224x224 face crop of each
frame (the same crop SyncNet sees), grey, its centre 112x112; the track's audio as 13 MFCC at
100 Hz (python_speech_features' defaults, 4 per video frame); 25 fps.

Multi-duration averaging (their demo): the track is cut into consecutive chunks of d seconds
(the last one shorter) for each d in 1..6 s; each chunk is scored on its own (zero padding at
its edges, a GRU that starts afresh) and the per-frame logits of the six cuttings are averaged.
Chunks that two durations share (every d >= the track's length gives the whole track) are
scored once, and on a GPU chunks of equal length share forward passes; neither changes a
number (BatchNorm runs in eval mode, nothing mixes across a batch). On the CPU each chunk has a
pass of its own: batching measured 0.7x as fast there (``scripts/bench_asd.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .constants import FPS, MFCC_PER_FRAME
from .models import weights as wm
from .models.active_speaker import DEFAULT_ASD_MODEL, REGISTRY, get_active_speaker_model
from .models.light_asd import ASD_FACE_PX, LightASD, load_light_asd_state
from .models.state import load_state_dict

__all__ = [
    "ASD_CHECKPOINTS",
    "ASD_DURATIONS_S",
    "ASD_MODELS",
    "ActiveSpeakerScorer",
    "asd_chunks",
    "asd_faces",
    "load_active_speaker_scorer",
    "load_light_asd",
]

ASD_MODELS: tuple[str, ...] = tuple(REGISTRY)
# --asd-model NAME -> the weights registry's entry of its published checkpoint (Light-ASD's).
ASD_CHECKPOINTS = REGISTRY[DEFAULT_ASD_MODEL].checkpoints
# The chunk lengths (seconds) whose scores are averaged: the authors' set {1,1,1,2,2,2,3,3,4,5,6}
# is a Python set, so each length counts once.
ASD_DURATIONS_S = (1, 2, 3, 4, 5, 6)
# Frames per forward pass on a GPU (memory only: about 1 GB of activations).
ASD_BATCH_FRAMES = 300
# The face crop the centre is taken from, as the authors resize it.
_CROP_PX = 2 * ASD_FACE_PX


def asd_faces(frames: np.ndarray) -> np.ndarray:
    """Light-ASD's visual input from face crops.

    Args:
        frames: (T, H, W, 3) uint8 BGR face crops (224x224 in the pipeline; others are resized
            to 224x224 first, as the authors do).

    Returns:
        (T, 112, 112) uint8 grey centre crops.
    """
    lo, hi = ASD_FACE_PX // 2, ASD_FACE_PX // 2 + ASD_FACE_PX
    out = np.empty((len(frames), ASD_FACE_PX, ASD_FACE_PX), dtype=np.uint8)
    for i, frame in enumerate(frames):
        if frame.shape[:2] != (_CROP_PX, _CROP_PX):
            frame = cv2.resize(frame, (_CROP_PX, _CROP_PX))
        out[i] = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[lo:hi, lo:hi]
    return out


def asd_chunks(num_frames: int, fps: int = FPS) -> dict[int, list[tuple[int, int]]]:
    """``[start, end)`` frame spans of each duration's cutting of a ``num_frames`` track."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for seconds in ASD_DURATIONS_S:
        step = seconds * fps
        spans[seconds] = [(a, min(a + step, num_frames)) for a in range(0, num_frames, step)]
    return spans


@dataclass
class ActiveSpeakerScorer:
    """A Light-ASD network on a device, in eval mode.

    Attributes:
        model: the network with its checkpoint loaded.
        device: where it runs.
        checkpoint: what was loaded (path), for provenance.
        sha256: the checkpoint file's sha256.
        official: whether that is one of the published checkpoints.
        batch_frames: frames per forward pass (memory and speed only); default
            :data:`ASD_BATCH_FRAMES` on a GPU, one chunk per pass on the CPU.
    """

    model: LightASD
    device: torch.device
    checkpoint: str = ""
    sha256: str | None = None
    official: bool = False
    batch_frames: int | None = None
    name: str = "light-asd"

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()
        if self.batch_frames is None:
            self.batch_frames = 1 if self.device.type == "cpu" else ASD_BATCH_FRAMES

    @torch.inference_mode()
    def score(
        self,
        faces: np.ndarray,
        mfcc: np.ndarray,
        on_frames: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Per-frame speaking logits of one track (>= 0 after smoothing: speaking).

        Args:
            faces: (T, 112, 112) uint8 grey faces (:func:`asd_faces`).
            mfcc: (M, 13) MFCC at 100 Hz starting with the track's first frame; row 4t is
                frame t.

            on_frames: told as the work advances, in frames of the track (they add up to the
                frames scored; progress displays).

        Returns:
            (min(T, M // 4),) float32 logits, the mean over the durations of
            :data:`ASD_DURATIONS_S`; empty when there is not one frame with audio.
        """
        n = min(len(faces), len(mfcc) // MFCC_PER_FRAME)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        cuttings = asd_chunks(n)
        spans = {s for spans in cuttings.values() for s in spans}
        logits = self._score_spans(faces, mfcc, spans, _FrameShare(n, spans, on_frames))
        per_duration = [np.concatenate([logits[s] for s in spans]) for spans in cuttings.values()]
        mean = np.asarray(np.mean(per_duration, axis=0, dtype=np.float64), dtype=np.float32)
        return mean

    def _score_spans(
        self,
        faces: np.ndarray,
        mfcc: np.ndarray,
        spans: set[tuple[int, int]],
        progress: _FrameShare,
    ) -> dict[tuple[int, int], np.ndarray]:
        """Logits of every span, spans of equal length batched together."""
        by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for span in sorted(spans):
            by_length[span[1] - span[0]].append(span)
        out: dict[tuple[int, int], np.ndarray] = {}
        for length, group in by_length.items():
            per_pass = max(1, (self.batch_frames or 1) // length)
            for k in range(0, len(group), per_pass):
                batch = group[k : k + per_pass]
                v = np.stack([faces[a:b] for a, b in batch]).astype(np.float32)
                m = np.stack(
                    [mfcc[a * MFCC_PER_FRAME : b * MFCC_PER_FRAME] for a, b in batch]
                ).astype(np.float32)
                result = self.model(
                    torch.from_numpy(v).to(self.device), torch.from_numpy(m).to(self.device)
                )
                for span, row in zip(batch, result.float().cpu().numpy(), strict=True):
                    out[span] = row
                progress.done(sum(b - a for a, b in batch))
        return out


class _FrameShare:
    """Work on spans (every frame is scored in several) told as frames of the track: after
    ``done`` of ``total`` span frames, ``n * done / total`` track frames."""

    def __init__(
        self, n: int, spans: set[tuple[int, int]], on_frames: Callable[[int], None] | None
    ) -> None:
        self.n, self.on_frames = n, on_frames
        self.total = sum(b - a for a, b in spans)
        self.span_frames = 0
        self.told = 0

    def done(self, span_frames: int) -> None:
        if self.on_frames is None:
            return
        self.span_frames += span_frames
        now = self.n * self.span_frames // self.total
        if now > self.told:
            self.on_frames(now - self.told)
            self.told = now


def load_active_speaker_scorer(
    model_name: str,
    checkpoint: str,
    device: torch.device,
    *,
    weights: Path | None = None,
    offline: bool = False,
    progress: bool = True,
) -> ActiveSpeakerScorer:
    """Find (or download) and load an active-speaker model of the registry
    (``models.active_speaker.REGISTRY``).

    Args:
        model_name: ``light-asd``.
        checkpoint: ``talkset`` or ``ava`` (see :data:`ASD_CHECKPOINTS`).
        device: where it runs.
        weights: an explicit checkpoint file instead of the published one.
        offline: never download.
        progress: show a download bar.

    Raises:
        ConfigError: unknown model or checkpoint (the message lists them).
        ModelWeightsError: file missing or not loadable, a key missing or unexpected (named).
    """
    spec = get_active_speaker_model(model_name)
    scorer: ActiveSpeakerScorer = spec.load(
        checkpoint, device, weights=weights, offline=offline, progress=progress
    )
    return scorer


def load_light_asd(
    checkpoint: str,
    device: torch.device,
    *,
    weights: Path | None = None,
    offline: bool = False,
    progress: bool = True,
) -> ActiveSpeakerScorer:
    """The registry's loader of ``light-asd`` (see :func:`load_active_speaker_scorer`)."""
    spec = get_active_speaker_model("light-asd")
    path = wm.resolve_weights(
        spec.weights_name(checkpoint), weights, offline=offline, progress=progress
    )
    model = LightASD()
    load_light_asd_state(model, load_state_dict(path), str(path))
    sha = wm.weights_sha256(path)
    return ActiveSpeakerScorer(
        model,
        device,
        checkpoint=str(path),
        sha256=sha,
        official=wm.official_name(sha) in spec.checkpoints.values(),
    )
