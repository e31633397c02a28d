"""Checking an install with planted offsets: shift a clip's audio by known amounts, measure.

A trained SyncNet recovers every planted shift of a clip with speech (on the published demo
clip, exactly). A set-up that does not recovers nothing useful: untrained or wrong weights
(the parity-test weights' distance curve is a V at offset 0 whatever the audio), the wrong
recipe for the clip (a whole-frame recipe on uncropped footage), a broken decode (an ffmpeg
other than 5.1 moves the JPEG round trip), or a clip without visible speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .constants import FPS
from .embedders import get_embedder
from .engines.plan import BatchConfig
from .engines.run import run_inputs, score_one
from .inputs import BatchInput
from .models import weights as wm
from .presentation import UNOFFICIAL_SYNCNET_NOTE
from .resync import move_audio
from .types import VideoResult

__all__ = ["DEFAULT_SHIFTS", "FAILURE_CAUSES", "PlantedShift", "SelftestReport", "run_selftest"]

DEFAULT_SHIFTS = (-6, -3, 3, 6)
FAILURE_CAUSES = (
    "untrained or wrong weights (the parity-test weights recover nothing: their distance curve "
    "is a V at offset 0 whatever the audio)",
    "the wrong recipe for the clip (direct/wav2lip-lrs need pre-cropped faces; use "
    "syncnet-pipeline on ordinary footage)",
    "a broken decode (an ffmpeg other than the 5.1 CLI changes the JPEG round trip)",
    "a clip without visible speech (nothing to lock onto)",
)


@dataclass(frozen=True)
class PlantedShift:
    """One planted shift and what was measured.

    Attributes:
        planted: the offset planted, frames (positive: the audio made to lead the video).
        result: the measurement of the shifted copy.
        recovered: its offset minus the original clip's (``None`` when not scored).
    """

    planted: int
    result: VideoResult
    recovered: float | None

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "planted_frames": self.planted,
            "recovered_frames": self.recovered,
            "status": r.status,
            "av_offset": r.av_offset,
            "lse_d": r.lse_d,
            "lse_c": r.lse_c,
        }


@dataclass(frozen=True)
class SelftestReport:
    """The original clip's measurement and every planted shift's."""

    video: str
    recipe: str
    baseline: VideoResult
    shifts: list[PlantedShift]
    tolerance: float
    notes: list[str] = field(default_factory=list)
    config_hash: str = ""

    def recovered(self, shift: PlantedShift) -> bool:
        """Whether ``shift`` came back within the tolerance."""
        return (
            shift.recovered is not None and abs(shift.recovered - shift.planted) <= self.tolerance
        )

    @property
    def passed(self) -> bool:
        """The clip was scored and every planted shift came back within the tolerance."""
        return self.baseline.ok and all(self.recovered(s) for s in self.shifts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "recipe": self.recipe,
            "tolerance_frames": self.tolerance,
            "passed": self.passed,
            "baseline": {
                "status": self.baseline.status,
                "av_offset": self.baseline.av_offset,
                "lse_d": self.baseline.lse_d,
                "lse_c": self.baseline.lse_c,
            },
            "shifts": [s.to_dict() | {"recovered": self.recovered(s)} for s in self.shifts],
            "notes": list(self.notes),
            "config_hash": self.config_hash,
        }


def run_selftest(
    config: BatchConfig,
    video: Path,
    workdir: Path,
    *,
    shifts: Sequence[int] = DEFAULT_SHIFTS,
    tolerance: float = 0.0,
) -> SelftestReport:
    """Measure ``video`` with ``config`` (its recipe, weights, embedder), then copies of it
    with the audio moved by each of ``shifts`` frames (written into ``workdir``), and compare
    the measured offsets with the planted ones. Every measurement runs through the run driver,
    so the report's ``config_hash`` is the one ``score`` records for ``config``.

    A planted shift ``s`` makes the audio lead by ``s`` frames (it is advanced by ``s / 25``
    seconds; negative: delayed), so a working set-up measures the clip's own offset plus ``s``.
    """
    recipe = config.recipe
    first = score_one(BatchInput(video), config)
    baseline, digest = first.result, first.config_hash
    planted: list[PlantedShift] = []
    notes = []
    if not _official_syncnet(config, baseline):
        notes.append(UNOFFICIAL_SYNCNET_NOTE)
    if not baseline.ok:
        notes.append(f"the clip itself could not be scored: {baseline.reason}")
        return SelftestReport(str(video), recipe, baseline, planted, tolerance, notes, digest)
    copies = []
    for s in shifts:
        copy = workdir / f"{video.stem}_shift{s:+d}{video.suffix}"
        move_audio(video, copy, -s / FPS)
        copies.append(BatchInput(copy))
    outcome = run_inputs(copies, config)
    for s, result in zip(shifts, outcome.results, strict=True):
        recovered = None
        if result.ok and result.av_offset is not None and baseline.av_offset is not None:
            recovered = float(result.av_offset) - float(baseline.av_offset)
        planted.append(PlantedShift(s, result, recovered))
    return SelftestReport(str(video), recipe, baseline, planted, tolerance, notes, digest)


def _official_syncnet(config: BatchConfig, baseline: VideoResult) -> bool:
    """Whether the clip was measured with the official SyncNet weights (the record says so;
    a record without provenance, of a clip that could not be scored, by the weights used)."""
    if not get_embedder(config.embedder).needs_syncnet_weights:
        return False
    said = baseline.provenance.get("syncnet_weights_official")
    if isinstance(said, bool):
        return said
    path = config.syncnet_weights or wm.find_weights("syncnet")
    return path is not None and wm.official_name(wm.weights_sha256(path)) == "syncnet"
