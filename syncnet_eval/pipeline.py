"""SyncPipeline: loads the models once, runs a recipe per video, turns errors into statuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
import functools
import logging
import math
from pathlib import Path
import platform
import threading
from typing import Any

import cv2
import numpy as np
import torch

from . import ffmpeg
from .asd import ActiveSpeakerScorer, load_active_speaker_scorer
from .config import LmdConfig, PipelineConfig, ScoreConfig
from .device import resolve_device
from .embed import Embedder, SyncNetEmbedder
from .errors import ConfigError, InputError, SyncEvalError
from .faces import FaceDetector, get_detector
from .landmarks import LandmarkBackend
from .measures import REGISTRY, VideoInputs, measures_at
from .models import weights as wm
from .models.state import load_state_dict
from .models.syncnet import SyncNet, load_syncnet_state
from .recipes import (
    DEFAULT_RECIPE,
    Collaborators,
    LandmarkCollaborators,
    RecipeRequest,
    RecipeSpec,
    check_recipe_options,
    resolve_recipe,
)
from .timing import StageHook, Timer
from .types import VideoResult
from .vad import SILERO_SETTINGS, silero_version
from .version import __version__, package_versions

__all__ = ["LandmarkPipeline", "SyncPipeline", "run_guarded", "score_video"]

log = logging.getLogger(__name__)


class SyncPipeline:
    """Scores videos with SyncNet; holds the loaded models so many videos share them.

    Args:
        score_config: scoring settings (vshift, batch size, JPEG round trip, device).
        pipeline_config: in-the-wild recipe settings.
        syncnet_weights: explicit SyncNet state-dict file (else the weights manager finds or
            downloads the official one).
        s3fd_weights: explicit S3FD file for the pipeline recipe.
        offline: never download weights.
        progress: show a download progress bar on stderr.
        embedder: use this model instead of SyncNet (no SyncNet weights are loaded; records
            say so in their provenance): a test double with a known signal, or your own.
        asd_weights: explicit active-speaker checkpoint for ``pipeline_config.asd`` (else the
            published one of ``asd_model`` is found or downloaded).
        syncnet_sha256: the SyncNet file's sha256 when the caller already hashed it (a run's
            driver resolves the weights once: ``engines.scorer.prepare_run``).
    """

    def __init__(
        self,
        score_config: ScoreConfig | None = None,
        pipeline_config: PipelineConfig | None = None,
        *,
        syncnet_weights: str | Path | None = None,
        s3fd_weights: str | Path | None = None,
        offline: bool = False,
        progress: bool = True,
        embedder: Embedder | None = None,
        asd_weights: str | Path | None = None,
        syncnet_sha256: str | None = None,
    ) -> None:
        self.score_config = score_config or ScoreConfig()
        self.pipeline_config = pipeline_config or PipelineConfig()
        self.device = resolve_device(self.score_config.device)
        self._offline = offline
        self._s3fd_weights = Path(s3fd_weights) if s3fd_weights else None
        self._detector: FaceDetector | None = None
        self._detector_lock = threading.Lock()  # videos scored at once (streams) share it
        self._asd_weights = Path(asd_weights) if asd_weights else None
        self._asd: ActiveSpeakerScorer | None = None
        self.active_speaker_scorer()  # a bad checkpoint fails here, before any video
        self.syncnet_weights_path: Path | None = None
        self.syncnet_weights_sha256: str | None = None
        self.syncnet_weights_official = False
        if embedder is not None:
            self.embedder: Embedder = embedder
            return
        path = wm.resolve_weights(
            "syncnet",
            Path(syncnet_weights) if syncnet_weights else None,
            offline=offline,
            progress=progress,
        )
        model = SyncNet()
        load_syncnet_state(model, load_state_dict(path), str(path))
        self.syncnet_weights_path = path
        self.syncnet_weights_sha256 = syncnet_sha256 or wm.weights_sha256(path)
        self.syncnet_weights_official = wm.official_name(self.syncnet_weights_sha256) == "syncnet"
        self.embedder = SyncNetEmbedder(
            model, self.device, self.score_config.batch_size, self.score_config.precision
        )

    def evaluate(
        self,
        path: str | Path,
        recipe: str | RecipeSpec = DEFAULT_RECIPE,
        *,
        audio_path: str | Path | None = None,
        detections: list[np.ndarray] | None = None,
        save_detections: str | Path | None = None,
        save_crops: str | Path | None = None,
        crops_name: str | None = None,
        raise_unexpected: bool = False,
        stage_hook: StageHook | None = None,
    ) -> VideoResult:
        """Score one video. Problems with the input become a status, never an exception.

        Args:
            path: video file.
            recipe: ``syncnet-pipeline`` (detect + track + crop), ``direct`` (frames as they
                are) or ``wav2lip-lrs`` (frames resized to 224x224), or its ``RecipeSpec``
                (a caller that resolved it once: ``BatchConfig.recipe_spec``).
            audio_path: score against this audio file instead of the video's own track.
            detections: precomputed per-frame (K, 5) boxes for the pipeline recipe, indexing
                its 25 fps stream.
            save_detections: write the boxes used by the pipeline recipe to this JSON file.
            save_crops: write each track's crop video (with audio) into this directory.
            crops_name: the crop videos are ``save_crops/<crops_name>_<track>.avi`` (default:
                the video's stem; may hold ``/`` for subdirectories).
            raise_unexpected: re-raise unexpected exceptions instead of recording them.
            stage_hook: told as each stage starts, advances and finishes (progress display).

        Returns:
            A ``VideoResult``; ``status`` says whether it was scored.

        Raises:
            ConfigError: for an unknown recipe.
            ModelWeightsError, DependencyError: problems that are not the input's fault.
        """
        spec = resolve_recipe(recipe)
        check_recipe_options(spec, self.pipeline_config)
        if not spec.needs_syncnet:
            raise ConfigError(f"recipe {spec.name} runs no SyncNet: score it with LandmarkPipeline")
        request = RecipeRequest(
            Path(path),
            audio_path=Path(audio_path) if audio_path else None,
            detections=detections,
            save_detections=Path(save_detections) if save_detections else None,
            save_crops=Path(save_crops) if save_crops else None,
            crops_name=crops_name,
        )
        return run_guarded(spec, self, request, self.provenance, raise_unexpected, stage_hook)

    def face_detector(self) -> FaceDetector:
        """The pipeline's face detector, built on first use (S3FD weights load lazily)."""
        with self._detector_lock:
            if self._detector is None:
                self._detector = get_detector(
                    self.pipeline_config.detector,
                    weights=self._s3fd_weights,
                    device=self.device,
                    facedet_scale=self.pipeline_config.facedet_scale,
                    offline=self._offline,
                )
            return self._detector

    def active_speaker_scorer(self) -> ActiveSpeakerScorer | None:
        """The active-speaker model of ``pipeline_config.asd``, loaded on first use (``None``
        when it is off)."""
        cfg = self.pipeline_config
        if cfg.asd is None:
            return None
        with self._detector_lock:
            if self._asd is None:
                self._asd = load_active_speaker_scorer(
                    cfg.asd,
                    cfg.asd_model,
                    self.device,
                    weights=self._asd_weights,
                    offline=self._offline,
                )
            return self._asd

    def _number_packages(self, spec: RecipeSpec) -> tuple[str, ...]:
        """The packages whose versions a record of ``spec`` names (dlib: only when its HOG
        detector finds the faces)."""
        base = ("torch", "numpy", "scipy", "av", "opencv")
        hog = spec.needs_tracks and self.pipeline_config.detector == "hog"
        return (*base, "dlib") if hog else base

    def _definitions(self) -> dict[str, str]:
        """Every default measure's definition; the ``silence`` measure's names its detector
        when it is not the default energy rule (silero-vad, with its version)."""
        found = {m.name: m.definition for m in REGISTRY.values() if m.default}
        detector = self.score_config.silence_detector
        if detector != "energy" and "silence" in found:
            found["silence"] += (
                f"; silence defined by {detector} (silero-vad {silero_version()}, "
                f"{SILERO_SETTINGS})"
            )
        return found

    def provenance(self, recipe: str | RecipeSpec) -> dict[str, Any]:
        """What produced a result: weights, versions, device, configuration."""
        spec = resolve_recipe(recipe)
        custom = f"custom embedder {type(self.embedder).__name__}"
        prov: dict[str, Any] = {
            "syncnet_weights": str(self.syncnet_weights_path or custom),
            "syncnet_weights_sha256": self.syncnet_weights_sha256,
            "syncnet_weights_official": self.syncnet_weights_official,
            "device": str(self.device),
            "recipe": spec.name,
            "tool_version": __version__,
            "torch": torch.__version__,
            "ffmpeg": ffmpeg.version(),
            "opencv": cv2.__version__,
            "python": platform.python_version(),
            # Every package that can move a number (version.NUMBER_PACKAGES); dlib only when
            # it detects the faces.
            "packages": package_versions(*self._number_packages(spec)),
            # Every measure a record of this pipeline carries, with the definition it follows.
            "measures": self._definitions(),
            "score_config": asdict(self.score_config),
        }
        if spec.needs_tracks:
            prov["pipeline_config"] = asdict(self.pipeline_config)
        expert = self.score_config.expert
        if expert is not None:  # an opt-in expert measure: its definition and weights' sha256
            prov["measures"][expert] = REGISTRY[expert].definition
            prov["expert_weights_sha256"] = _expert_sha256(self.score_config.expert_weights)
        if self._asd is not None:
            prov["asd_weights"] = self._asd.checkpoint
            prov["asd_weights_sha256"] = self._asd.sha256
            prov["asd_weights_official"] = self._asd.official
        return prov


def _with_measures_of_tracks(result: VideoResult) -> VideoResult:
    """``result`` with the values of every default video measure that reads the scored tracks
    together (``face_tracks``: who owns the audio), from its tracks and provenance."""
    values: dict[str, Any] = {}
    for spec in measures_at("video"):
        if spec.default and "face_tracks" in spec.needs and result.ok:
            inputs = VideoInputs(
                result.path, options={"provenance": result.provenance}, tracks=result.tracks
            )
            values.update(spec.compute_video(inputs))
    if not values:
        return result
    warnings = list(result.warnings)
    verdict = values.get("owner_judgement")
    if isinstance(verdict, str) and verdict.startswith("not judged: "):
        # Said where score says what it found: the tracks were scored, their owner is unknown.
        warnings.append(f"{result.path}: ownership cannot be judged: {verdict[12:]}")
    return replace(result, measures={**result.measures, **values}, warnings=warnings)


@functools.cache
def _expert_sha256(path: str | None) -> str | None:
    """The expert weights' sha256 (``None``: unreadable; loading them then says why)."""
    try:
        return wm.weights_sha256(Path(str(path)))
    except (OSError, SyncEvalError):
        return None


def run_guarded(
    spec: RecipeSpec,
    parts: Collaborators | LandmarkCollaborators,
    request: RecipeRequest,
    provenance: Callable[[RecipeSpec], dict[str, Any]],
    raise_unexpected: bool = False,
    stage_hook: StageHook | None = None,
) -> VideoResult:
    """Run ``spec`` on one input with ``parts``; problems with the input become a status.

    Every pipeline's ``evaluate`` goes through here: the record gets ``provenance(spec)`` (the
    recipe's own keys win), non-finite numbers become an ``error`` record, an ``InputError``
    its status, anything unexpected an ``error`` (``reason_code`` unexpected) unless
    ``raise_unexpected``; the timings are added.

    Raises:
        ModelWeightsError, DependencyError, ConfigError: not the input's fault.
    """
    path = request.path
    timer = Timer(stage_hook)
    try:
        result = spec.run(parts, request, timer)
        result = replace(result, provenance={**provenance(spec), **result.provenance})
        result = _with_measures_of_tracks(result)
        result = _refuse_non_finite(result)
    except InputError as exc:
        result = VideoResult.failure(
            str(path), spec.name, exc.status, str(exc), reason_code=exc.code
        )
    except SyncEvalError:
        raise  # weights, dependencies, configuration: not the input's fault, stop here
    except Exception as exc:  # noqa: BLE001 - a batch records it and goes on
        if raise_unexpected:
            raise
        log.debug("unexpected error on %s", path, exc_info=True)
        result = VideoResult.failure(
            str(path),
            spec.name,
            "error",
            f"{path}: unexpected {type(exc).__name__}: {exc}",
            reason_code="unexpected",  # records.ReasonCode, as every executor writes it
        )
    timer.add("total", timer.elapsed())
    log.info(
        "%s: %s in %.1f s (%s)",
        path,
        result.status if result.ok else f"{result.status}: {result.reason}",
        timer.timings["total"],
        ", ".join(f"{k} {v:.1f} s" for k, v in timer.timings.items() if k != "total"),
    )
    return replace(result, timings_s=timer.rounded())


# What decodes, resizes and compares the frames, and each backend's landmark packages.
_LMD_PACKAGES = {
    "fan": ("numpy", "av", "opencv", "scikit-image", "torch", "face-alignment"),
    "dlib": ("numpy", "av", "opencv", "scikit-image", "dlib"),
}


class LandmarkPipeline:
    """Runs the recipes that need no SyncNet (``lmd``: ``RecipeSpec.needs_syncnet`` false):
    the landmark backend loaded once (so a missing extra or model file fails here, before
    any video), no SyncNet weights looked for.

    Args:
        lmd_config: the landmark backend and the least landmark coverage.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, resolved once (FAN runs on it;
            dlib on the CPU whatever it is).
    """

    def __init__(self, lmd_config: LmdConfig | None = None, device: str = "auto") -> None:
        from .landmarks import get_backend

        self.lmd_config = lmd_config or LmdConfig()
        self.device = resolve_device(device)
        self._backend = get_backend(self.lmd_config.landmarks, device=str(self.device))

    def landmark_backend(self) -> LandmarkBackend:
        """The landmark backend (loaded once, in the constructor)."""
        return self._backend

    def evaluate(
        self,
        path: str | Path,
        recipe: str | RecipeSpec,
        *,
        reference_path: str | Path | None,
        raise_unexpected: bool = False,
        stage_hook: StageHook | None = None,
    ) -> VideoResult:
        """One generated video against ``reference_path`` (``None``: an ``error`` record).

        Raises:
            ConfigError: for an unknown recipe, or one that needs SyncNet.
        """
        spec = resolve_recipe(recipe)
        if spec.needs_syncnet:
            raise ConfigError(f"recipe {spec.name} needs SyncNet: score it with SyncPipeline")
        reference = Path(reference_path) if reference_path is not None else None
        request = RecipeRequest(Path(path), reference_path=reference)
        return run_guarded(spec, self, request, self.provenance, raise_unexpected, stage_hook)

    def provenance(self, recipe: str | RecipeSpec) -> dict[str, Any]:
        """What produced a result: the landmark backend and its versions, the device, the
        configuration, the versions of what decodes and compares the frames."""
        spec = resolve_recipe(recipe)
        backend = self._backend
        return {
            "device": str(self.device),
            "recipe": spec.name,
            "tool_version": __version__,
            "ffmpeg": ffmpeg.version(),
            "opencv": cv2.__version__,
            "python": platform.python_version(),
            # Every package that can move these numbers (version.NUMBER_PACKAGES).
            "packages": package_versions(*_LMD_PACKAGES[backend.name]),
            "landmarks": backend.name,
            "landmarks_version": backend.version,
            "landmarks_detail": backend.detail,
            # The measure this recipe's records carry, with the definition it follows.
            "measures": {"lmd": REGISTRY["lmd"].definition},
            "lmd_config": asdict(self.lmd_config),
        }


def _refuse_non_finite(result: VideoResult) -> VideoResult:
    """An ``error`` record instead of a result with NaN or infinite numbers (never ``ok``)."""
    numbers: list[Any] = [result.lse_d, result.lse_c, result.av_offset]
    for t in result.tracks:
        numbers += [t.lse_d, t.lse_c, *t.dist_by_shift, *t.framewise_conf]
    if all(x is None or math.isfinite(x) for x in numbers):
        return result
    return VideoResult.failure(
        result.path,
        result.recipe,
        "error",
        f"{result.path}: the scores are not finite numbers (NaN or infinity): the weights or "
        "the decoded input give invalid embeddings; check the weights with 'syncnet-eval "
        "weights verify FILE'",
        reason_code="non_finite_scores",
        provenance=result.provenance,
        warnings=result.warnings,
    )


def score_video(
    path: str | Path,
    recipe: str = DEFAULT_RECIPE,
    *,
    score_config: ScoreConfig | None = None,
    pipeline_config: PipelineConfig | None = None,
    syncnet_weights: str | Path | None = None,
    s3fd_weights: str | Path | None = None,
    offline: bool = False,
    audio_path: str | Path | None = None,
) -> VideoResult:
    """Score one video (convenience wrapper building a one-off ``SyncPipeline``).

    Args:
        path: video file.
        recipe: ``syncnet-pipeline`` (default), ``direct`` or ``wav2lip-lrs``.
        score_config: scoring settings.
        pipeline_config: in-the-wild recipe settings.
        syncnet_weights: explicit SyncNet weights file.
        s3fd_weights: explicit S3FD weights file.
        offline: never download weights.
        audio_path: separate audio to score the video against.

    Returns:
        The ``VideoResult``.
    """
    pipe = SyncPipeline(
        score_config,
        pipeline_config,
        syncnet_weights=syncnet_weights,
        s3fd_weights=s3fd_weights,
        offline=offline,
    )
    return pipe.evaluate(path, recipe, audio_path=audio_path)
