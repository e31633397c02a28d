"""The paper's row: every measure that compares a generated video with its ground truth, fed by
one decode of the pair, and the set values (FID, FVD) computed from what each record keeps.

``syncnet-eval row`` scores each generated video with SyncNet (LSE-D, LSE-C: the recipe's own
decode, which the reference's parity needs) and then passes the generated video and its
reference once, frame pair by frame pair (:func:`syncnet_eval.lmd.compare_videos`), feeding:

- LMD, PSNR and SSIM (the ``lmd`` measure, :mod:`syncnet_eval.lmd`);
- LPIPS per frame pair (the ``lpips`` measure), mean over frames;
- CSIM (``csim``): each generated frame's face embedding against the reference's first
  frame's, mean over the frames with a face;
- FID (``fid``): features of every ``frame_stride``-th generated and reference frame, in
  chunks of :data:`FEATURE_CHUNK` frames (features kept, frames dropped);
- FVD (``fvd``): features of clips of the model's ``clip_length`` frames every ``stride``
  frames (one clip of frames held per side).

The generated frame is at the reference's size (resized, bilinear, when it differs), the whole
frame. FID's and FVD's features of each video are written (atomically) to
``<features dir>/<name>.<fid|fvd>.npz`` (arrays ``generated`` and ``reference``, (n, dim)
float64), and the record's ``provenance["row"]["features"]`` names the files: a rerun that
resumes keeps them, and the summary, ``check``, ``compare`` and the report compute the set's
FID and FVD from the files of the records they summarise (:func:`fid_of_set`,
:func:`fvd_of_set`), the reference videos of those records being the real set.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
import hashlib
import logging
import math
import os
from pathlib import Path
import tempfile
from typing import Any

import numpy as np

from .config import LmdConfig, RowConfig
from .errors import DependencyError, InputError
from .extractors import Role, get_extractor
from .measures import REGISTRY, VideoInputs
from .registry import load
from .timing import StageHook, Timer
from .types import VideoResult

__all__ = [
    "FEATURE_CHUNK",
    "REAL_SET",
    "RowParts",
    "features_key",
    "fid_of_set",
    "fvd_of_set",
]

log = logging.getLogger(__name__)

# Frames (or clips, for FVD) handed to a model at once: the frames held per side.
FEATURE_CHUNK = 32
CLIP_CHUNK = 4
REAL_SET = (
    "the reference (ground-truth) video of each record in the set: the manifest's 'reference' "
    "column, or REF's file of the same name"
)
# Streaming mean and covariance (FeatureStats) and the Frechet distance of two of them.
FRECHET = "syncnet_eval.frechet"
# CSIM per row of embeddings against the identity (syncnet_eval.identity, the csim helper's).
IDENTITY_CSIM = "syncnet_eval.identity:csim"
# The measure (not the recipe of that name) whose LMD needs a landmark detector.
LANDMARK_MEASURE = "lmd"
_ROLE_MEASURES: tuple[Role, ...] = ("lpips", "csim", "fid", "fvd")
# RowConfig's explicit weights file of each role (CSIM's is --identity-weights, the name
# syncnet_eval.identity's messages give).
_WEIGHTS_OPTION: dict[Role, str] = {
    "fid": "fid_weights",
    "fvd": "fvd_weights",
    "lpips": "lpips_weights",
    "csim": "identity_weights",
}


def _rgb(frame_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame_bgr[:, :, ::-1])


class _SideFeatures:
    """Features of the generated and the reference side, computed a chunk at a time: what is
    ``pending`` (frames for FID, clips for FVD) goes through ``model.features`` at ``_flush``."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.seen = 0
        self.pending: dict[str, list[np.ndarray]] = {"generated": [], "reference": []}
        self.features: dict[str, list[np.ndarray]] = {"generated": [], "reference": []}

    def _flush(self) -> None:
        for side, frames in self.pending.items():
            if frames:
                found = np.asarray(self.model.features(np.stack(frames)), dtype=np.float64)
                self.features[side].append(found)
            frames.clear()

    def arrays(self) -> dict[str, np.ndarray]:
        self._flush()
        dim = int(self.model.dim)
        return {
            side: np.concatenate(found) if found else np.zeros((0, dim))
            for side, found in self.features.items()
        }


class _FrameFeatures(_SideFeatures):
    """FID: features of every ``stride``-th frame of both videos, ``FEATURE_CHUNK`` at a time."""

    def __init__(self, model: Any, stride: int) -> None:
        super().__init__(model)
        self.stride = stride

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        self.pending["generated"].append(_rgb(generated))
        self.pending["reference"].append(_rgb(reference))
        if len(self.pending["generated"]) >= FEATURE_CHUNK:
            self._flush()


class _ClipFeatures(_SideFeatures):
    """FVD: clips of ``clip_length`` frames every ``stride`` frames, per side, as the model's
    ``clips`` cuts them, ``CLIP_CHUNK`` clips at a time (one clip of frames held per side)."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.length, self.stride = int(model.clip_length), int(model.stride)
        # FvdExtractor.clips's cut: clip k from frame k * stride, the first max_clips of them.
        self.max_clips: int | None = getattr(model, "max_clips", None)
        self.made = 0
        self.window: dict[str, deque[np.ndarray]] = {
            "generated": deque(maxlen=self.length),
            "reference": deque(maxlen=self.length),
        }

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        self.seen += 1
        self.window["generated"].append(_rgb(generated))
        self.window["reference"].append(_rgb(reference))
        start = self.seen - self.length
        if start < 0 or start % self.stride:
            return
        if self.max_clips is not None and self.made >= self.max_clips:
            return
        self.made += 1
        for side, frames in self.window.items():
            self.pending[side].append(np.stack(frames))
        if len(self.pending["generated"]) >= CLIP_CHUNK:
            self._flush()


class _Lpips:
    """LPIPS of each frame pair, ``FEATURE_CHUNK`` pairs at a time; the mean over frames."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.total, self.count = 0.0, 0

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        self.pairs.append((_rgb(generated), _rgb(reference)))
        if len(self.pairs) >= FEATURE_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.pairs:
            gen = np.stack([g for g, _ in self.pairs])
            ref = np.stack([r for _, r in self.pairs])
            found = np.asarray(self.model.distance(gen, ref), dtype=np.float64)
            self.total += float(found.sum())
            self.count += len(found)
        self.pairs.clear()

    def values(self) -> dict[str, Any]:
        self._flush()
        return {"lpips": self.total / self.count if self.count else None}


class _Identity:
    """CSIM: every ``stride``-th generated frame's embedding against the identity (the
    reference's first frame), mean over the frames where a face was aligned."""

    def __init__(self, model: Any, stride: int) -> None:
        self.model, self.stride = model, stride
        # The model's own ``csim`` when it has one, else syncnet_eval.identity's cosine.
        self.similarity = getattr(model, "csim", None) or load(IDENTITY_CSIM)
        self.identity: np.ndarray | None = None
        self.frames: list[np.ndarray] = []
        self.seen = 0
        self.total, self.count, self.sampled = 0.0, 0, 0

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        self.seen += 1
        if self.identity is None:
            self.identity = np.asarray(self.model.embed(_rgb(reference)[None], None))[0]
        if (self.seen - 1) % self.stride:
            return
        self.frames.append(_rgb(generated))
        if len(self.frames) >= FEATURE_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.frames and self.identity is not None:
            embeddings = self.model.embed(np.stack(self.frames), None)
            found = np.asarray(self.similarity(embeddings, self.identity), dtype=np.float64)
            finite = found[np.isfinite(found)]
            self.total += float(finite.sum())
            self.count += len(finite)
            self.sampled += len(found)
        self.frames.clear()

    def values(self) -> dict[str, Any]:
        self._flush()
        return {"csim": self.total / self.count if self.count else None, "csim_frames": self.count}


class _Timed:
    """An observer whose work is charged to its measure's stage (``timings_s``)."""

    def __init__(self, inner: Any, timer: Timer, stage: str) -> None:
        self.inner, self.timer, self.stage = inner, timer, stage

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        with self.timer.stage(self.stage):
            self.inner.observe(generated, reference)

    def finish(self) -> Any:
        with self.timer.stage(self.stage):
            return self.inner.arrays() if hasattr(self.inner, "arrays") else self.inner.values()


def features_key(path: str | Path, reference: str | Path | None, id: str | None) -> str:
    """The file name (without suffix) of one pair's features: the video's stem and a digest of
    its id, path and reference, so two pairs never share a file and a rerun finds its own."""
    digest = hashlib.sha256(f"{id}\0{path}\0{reference}".encode()).hexdigest()[:12]
    return f"{Path(path).stem}-{digest}"


def _save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RowParts:
    """The row's models, loaded once per scorer, and what completes a SyncNet record with the
    paired measures.

    Args:
        config: the measures and their models.
        lmd_config: the landmark backend (when ``lmd`` is among the measures).
        device: a resolved torch device name.
        features_dir: where FID's and FVD's per-video features go.

    Raises:
        DependencyError, ModelWeightsError: a model's module or weights are missing (one line).
    """

    def __init__(
        self,
        config: RowConfig,
        lmd_config: LmdConfig,
        device: str,
        features_dir: Path,
        *,
        offline: bool = False,
    ) -> None:
        self.config, self.lmd_config, self.features_dir = config, lmd_config, features_dir
        self.backend = None
        if LANDMARK_MEASURE in config.measures:
            from .landmarks import get_backend

            self.backend = get_backend(lmd_config.landmarks, device=device)
        self.models: dict[str, Any] = {}
        for role in _ROLE_MEASURES:
            if role in config.measures:
                spec = get_extractor(getattr(config, f"{role}_model"), role)
                weights = getattr(config, _WEIGHTS_OPTION[role])
                options: dict[str, Any] = {"offline": offline}
                if role == "lpips" and config.lpips_heads:
                    options["heads"] = Path(config.lpips_heads)
                self.models[role] = spec.build(
                    Path(weights) if weights else None, device, **options
                )

    def protocol(self) -> dict[str, Any]:
        """How each measure of the row is computed (every record's ``provenance["row"]``)."""
        found: dict[str, Any] = {}
        for role, model in self.models.items():
            entry = dict(getattr(model, "protocol", {}) or {})
            entry["model"] = getattr(self.config, f"{role}_model")
            entry["definition"] = REGISTRY[role].definition
            entry["frames"] = (
                "whole frame; the generated frame at the reference's size (bilinear) when the "
                "sizes differ"
            )
            if role in ("fid", "csim"):
                entry["frame_stride"] = self.config.frame_stride
            if role in ("fid", "fvd"):
                entry["real_set"] = REAL_SET
                entry["dim"] = int(model.dim)
            if role == "fvd":
                entry["clip_length"] = int(model.clip_length)
                entry["clip_stride"] = int(model.stride)
            if role == "csim":
                entry["identity"] = "the reference's first frame"
                entry["face"] = "found by the backend in each frame (boxes=None)"
                entry["backend"] = getattr(model, "name", entry["model"])
            found[role] = entry
        return found

    def complete(
        self,
        result: VideoResult,
        reference: Path | None,
        key: str,
        stage_hook: StageHook | None = None,
    ) -> VideoResult:
        """``result`` (SyncNet's record of the generated video) with the row's measures of the
        pair; a pair that cannot be compared makes the record a failure with the cause."""
        if not result.ok:
            return result
        path = result.path
        timer = Timer(stage_hook)
        try:
            if reference is None:
                raise InputError(f"{path}: no reference (ground truth) to compare with")
            measures, provenance = self._measure(Path(path), Path(reference), key, timer)
        except InputError as exc:
            return VideoResult.failure(
                path, result.recipe, exc.status, str(exc), reason_code=exc.code
            )
        if any(isinstance(v, float) and not math.isfinite(v) for v in measures.values()):
            return VideoResult.failure(
                path,
                result.recipe,
                "error",
                f"{path}: a measure of the row is not a finite number (NaN or infinity)",
                reason_code="non_finite_scores",
            )
        # Every measure of the record names its definition, as the pipeline's do.
        named = dict(result.provenance.get("measures") or {})
        named.update({m: REGISTRY[m].definition for m in self.config.measures})
        if LANDMARK_MEASURE not in self.config.measures:  # PSNR and SSIM still come from it
            named[LANDMARK_MEASURE] = REGISTRY[LANDMARK_MEASURE].definition
        return replace(
            result,
            measures={**result.measures, **measures},
            provenance={**result.provenance, "row": provenance, "measures": named},
            timings_s={**result.timings_s, **timer.rounded()},
        )

    def _measure(
        self, path: Path, reference: Path, key: str, timer: Timer
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        stride = self.config.frame_stride
        observers: dict[str, Any] = {}
        if "lpips" in self.models:
            observers["lpips"] = _Lpips(self.models["lpips"])
        if "csim" in self.models:
            observers["csim"] = _Identity(self.models["csim"], stride)
        if "fid" in self.models:
            observers["fid"] = _FrameFeatures(self.models["fid"], stride)
        if "fvd" in self.models:
            observers["fvd"] = _ClipFeatures(self.models["fvd"])
        options = {
            "backend": self.backend,
            "min_landmark_coverage": self.lmd_config.min_landmark_coverage,
            "timer": timer,
            "observers": [_Timed(o, timer, role) for role, o in observers.items()],
        }
        found = REGISTRY[LANDMARK_MEASURE].compute_video(
            VideoInputs(str(path), reference=str(reference), options=options)
        )
        if found["status"] != "ok":
            raise InputError(found.get("reason") or f"{path}: the pair could not be compared")
        landmarks_only = ("lmd_px", "landmark_frames", "landmark_coverage")
        measures: dict[str, Any] = {
            f.name: found.get(f.name)
            for f in REGISTRY[LANDMARK_MEASURE].fields
            if self.backend is not None or f.name not in landmarks_only
        }
        described: dict[str, Any] = {"protocol": self.protocol()}
        described["paired_frames"] = found["paired_frames"]
        if found.get("frame_count_mismatch"):
            described["frame_count_mismatch"] = {
                "generated": found["generated_frames"],
                "reference": found["reference_frames"],
            }
        features: dict[str, str] = {}
        vectors: dict[str, dict[str, int]] = {}
        for role in ("lpips", "csim"):
            if role in observers:
                measures.update(_Timed(observers[role], timer, role).finish())
        for role in ("fid", "fvd"):
            if role not in observers:
                continue
            arrays = _Timed(observers[role], timer, role).finish()
            target = (self.features_dir / f"{key}.{role}.npz").resolve()
            _save_atomically(target, arrays)
            features[role] = str(target)
            vectors[role] = {side: int(a.shape[0]) for side, a in arrays.items()}
        return measures, {**described, "features": features, "vectors": vectors}


def _frechet(name: str) -> Any:
    try:
        return load(f"{FRECHET}:{name}")
    except (ImportError, AttributeError) as exc:
        raise DependencyError(
            f"FID/FVD need {FRECHET}.{name}, which cannot be imported ({exc}); reinstall "
            "syncnet-eval"
        ) from None


def _stats_of_set(results: Sequence[Any], role: str) -> tuple[Any, Any, int] | None:
    """The generated and the real set's ``frechet.FeatureStats`` over ``results``' files."""
    files = [
        f
        for r in results
        if (f := ((r.provenance or {}).get("row") or {}).get("features", {}).get(role))
    ]
    if not files:
        return None
    # The contract's names (the fid helper's module), imported when a set value is computed.
    feature_stats = _frechet("FeatureStats")
    generated, real = feature_stats(), feature_stats()
    dim = 0
    for name in files:
        try:
            with np.load(name) as data:
                gen, ref = data["generated"], data["reference"]
        except (OSError, KeyError, ValueError) as exc:
            log.warning("%s: %s features cannot be read (%s); no %s", name, role, exc, role)
            return None
        dim = int(gen.shape[1]) if gen.ndim == 2 else dim
        if len(gen):
            generated.add(gen)
        if len(ref):
            real.add(ref)
    return generated, real, dim


def _frechet_of_set(results: Sequence[Any], role: str, count_field: str) -> dict[str, Any]:
    found = _stats_of_set(results, role)
    if found is None:
        return {}
    generated, real, dim = found
    if generated.count < 2 or real.count < 2:
        log.warning("%s: fewer than 2 feature vectors in a set; no value", role)
        return {role: None, count_field: int(generated.count)}
    if min(generated.count, real.count) < dim:
        log.warning(
            "%s over %d generated and %d real feature vectors, fewer than the features' %d "
            "dimensions: the covariance is singular and the value biased (compare only with "
            "values over as many vectors)",
            role.upper(),
            generated.count,
            real.count,
            dim,
        )
    distance = float(_frechet("frechet_from_stats")(generated, real))
    return {role: distance, count_field: int(generated.count)}


def fid_of_set(results: Sequence[Any]) -> dict[str, Any]:
    """The ``fid`` set measure over ``results`` (each record's FID features file; the records'
    references are the real set): ``{"fid", "fid_vectors"}``, or empty when no record has
    features."""
    return _frechet_of_set(results, "fid", "fid_vectors")


def fvd_of_set(results: Sequence[Any]) -> dict[str, Any]:
    """The ``fvd`` set measure over ``results``: ``{"fvd", "fvd_clips"}``, as
    :func:`fid_of_set`."""
    return _frechet_of_set(results, "fvd", "fvd_clips")
