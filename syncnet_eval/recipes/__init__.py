"""Recipes: the stages wired into one scoring procedure each, and their registry.

The registry (:data:`REGISTRY`, :func:`get_recipe`) is the one place that knows the recipes by
name: what each needs (face tracks or the whole frame), how it treats frames, its help text,
and the function that runs it. Everything else asks it (``get_recipe(name).needs_tracks``)
instead of comparing recipe names. Adding a recipe is one :class:`RecipeSpec` entry here and
its module.

- ``syncnet-pipeline``: :func:`~syncnet_eval.recipes.face_tracks.score_face_tracks`, scenes,
  face detection, tracking and crops first, then every track;
- ``direct`` and ``wav2lip-lrs``: :func:`~syncnet_eval.recipes.whole_frame.score_whole_frames`,
  the whole frame as the lip stream's input;
- ``lmd``: :func:`~syncnet_eval.recipes.landmark_distance.run_recipe`, LMD, PSNR and SSIM of a
  generated video against its ground truth (``syncnet-eval lmd``): no SyncNet
  (``needs_syncnet=False``: no SyncNet weights are looked for, the record has no LSE numbers,
  its numbers are the ``lmd`` measure's fields) and a reference video per input
  (``needs_reference``). It is run by ``pipeline.LandmarkPipeline``; :data:`RECIPES`, the
  ``--recipe`` choices of the SyncNet commands, leave it out.

Each runner takes typed collaborators (the embedder, the detector, their configs, a timer)
and returns a :class:`~syncnet_eval.types.VideoResult`, raising
:class:`~syncnet_eval.errors.InputError` subclasses for inputs it cannot score. All share
:func:`~syncnet_eval.recipes.steps.score_track`.

This module is light (no numpy or torch): the command line reads the registry for ``--help``.
A runner's module is imported when the recipe first runs.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from ..registry import choose

if TYPE_CHECKING:  # annotations only: these load numpy and torch
    import numpy as np

    from ..asd import ActiveSpeakerScorer
    from ..config import LmdConfig, PipelineConfig, ScoreConfig
    from ..embed import Embedder
    from ..faces import FaceDetector
    from ..landmarks import LandmarkBackend
    from ..timing import Timer
    from ..types import VideoResult

__all__ = [
    "DEFAULT_RECIPE",
    "RECIPES",
    "REGISTRY",
    "Collaborators",
    "LandmarkCollaborators",
    "RecipeRequest",
    "RecipeSpec",
    "check_recipe_options",
    "get_recipe",
    "ignored_recipe_options",
    "recipe_help",
    "resolve_recipe",
]


class Collaborators(Protocol):
    """What a runner takes from the pipeline that runs it (``SyncPipeline`` is one): the models,
    loaded once, and the configurations."""

    embedder: Embedder
    score_config: ScoreConfig
    pipeline_config: PipelineConfig

    def face_detector(self) -> FaceDetector: ...

    def active_speaker_scorer(self) -> ActiveSpeakerScorer | None: ...


class LandmarkCollaborators(Protocol):
    """What a recipe without SyncNet (``lmd``) takes from the pipeline that runs it
    (``LandmarkPipeline`` is one): the landmark backend, loaded once, and its settings."""

    lmd_config: LmdConfig

    def landmark_backend(self) -> LandmarkBackend: ...


@dataclass(frozen=True)
class RecipeRequest:
    """One video's inputs and side outputs (see ``SyncPipeline.evaluate``)."""

    path: Path
    audio_path: Path | None = None
    detections: list[np.ndarray] | None = None
    save_detections: Path | None = None
    save_crops: Path | None = None
    crops_name: str | None = None
    reference_path: Path | None = None


@dataclass(frozen=True)
class RecipeSpec:
    """One recipe.

    Attributes:
        name: the ``--recipe`` value, and every record's ``recipe``.
        help: one sentence for ``--help``: what it scores and which reference it reproduces.
        needs_tracks: it finds scenes and face tracks (so a face detector or ``--detections``,
            active-speaker detection, ``--track-select`` and ``speakers`` apply to it).
        lip_size_checked: the frames must already be the 224x224 face crops SyncNet takes
            (refused otherwise, naming the recipe to use).
        resize_224: every frame is resized to 224x224 first (Wav2Lip's LRS tables).
        runner: ``module:function`` in this package that scores one video.
        needs_syncnet: it runs SyncNet (weights looked for, LSE numbers in its records); a
            recipe without it takes :class:`LandmarkCollaborators` instead.
        needs_reference: each input needs a ground-truth video (a manifest ``reference``).
    """

    name: str
    help: str
    needs_tracks: bool
    runner: str
    lip_size_checked: bool = False
    resize_224: bool = False
    needs_syncnet: bool = True
    needs_reference: bool = False

    def run(
        self, parts: Collaborators | LandmarkCollaborators, request: RecipeRequest, timer: Timer
    ) -> VideoResult:
        """Score ``request.path`` with this recipe (imports its module on first use)."""
        module, function = self.runner.split(":")
        run: Any = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        result: VideoResult = run(self, parts, request, timer)
        return result


REGISTRY: dict[str, RecipeSpec] = {
    spec.name: spec
    for spec in (
        RecipeSpec(
            name="syncnet-pipeline",
            help="detect, track and crop faces (run_pipeline.py + run_syncnet.py)",
            needs_tracks=True,
            runner="face_tracks:run_recipe",
        ),
        RecipeSpec(
            name="direct",
            help="frames as they are (demo_syncnet.py, pre-cropped 224x224 faces)",
            needs_tracks=False,
            runner="whole_frame:run_recipe",
            lip_size_checked=True,
        ),
        RecipeSpec(
            name="wav2lip-lrs",
            help="every frame resized to 224x224 (Wav2Lip's LRS tables)",
            needs_tracks=False,
            runner="whole_frame:run_recipe",
            resize_224=True,
        ),
        RecipeSpec(
            name="lmd",
            help="mouth landmark distance, PSNR and SSIM against a ground-truth video (no "
            "SyncNet; RAD-NeRF/ER-NeRF's LMDMeter)",
            needs_tracks=False,
            runner="landmark_distance:run_recipe",
            needs_syncnet=False,
            needs_reference=True,
        ),
    )
}
# The --recipe choices of the commands that score with SyncNet (score, fix, visualise...).
RECIPES: tuple[str, ...] = tuple(n for n, s in REGISTRY.items() if s.needs_syncnet)
DEFAULT_RECIPE = RECIPES[0]


def get_recipe(name: str) -> RecipeSpec:
    """The registered recipe ``name``.

    Raises:
        ConfigError: no such recipe (the message lists them).
    """
    spec: RecipeSpec = choose(REGISTRY, name, "recipe")
    return spec


def resolve_recipe(recipe: str | RecipeSpec) -> RecipeSpec:
    """``recipe``'s spec: the one given, or the registered one of that name (looked up here,
    once, by whoever holds the name first: ``BatchConfig``, ``SyncPipeline.evaluate``).

    Raises:
        ConfigError: no such recipe (the message lists them).
    """
    return recipe if isinstance(recipe, RecipeSpec) else get_recipe(recipe)


def check_recipe_options(recipe: str | RecipeSpec, pipeline_config: PipelineConfig) -> None:
    """Refuse active-speaker options with recipes that have no face tracks.

    Raises:
        ConfigError: an unknown recipe, or the option it cannot take.
    """
    spec = resolve_recipe(recipe)
    if not spec.needs_tracks and pipeline_config.asd is not None:
        tracked = ", ".join(n for n, s in REGISTRY.items() if s.needs_tracks)
        raise ConfigError(
            f"--asd and --track-select asd need face tracks: use --recipe {tracked} "
            f"(not {spec.name})"
        )


def ignored_recipe_options(name: str, pipeline_config: PipelineConfig) -> list[str]:
    """One line per option ``name``'s recipe accepts but does not use (a ``Warning:`` each).

    A whole-frame recipe scores one track, the frame: ``--track-select`` other than its
    default chooses nothing there.
    """
    spec = get_recipe(name)
    default = type(pipeline_config)().track_select
    if not spec.needs_tracks and pipeline_config.track_select != default:
        return [
            f"--track-select {pipeline_config.track_select} does nothing with --recipe {name} "
            "(it scores the whole frame as one track); it applies to --recipe "
            + ", ".join(n for n, s in REGISTRY.items() if s.needs_tracks)
        ]
    return []


def recipe_help(names: tuple[str, ...] = RECIPES) -> str:
    """``--recipe``'s help: each recipe's name and sentence."""
    return "; ".join(f"{n}: {REGISTRY[n].help}" for n in names) + "."
