"""The ``lmd`` recipe: LMD, PSNR and SSIM of a generated video against its ground truth.

One video's record from the registry's ``lmd`` measure (``measures/lmd.py``, computed by
:func:`syncnet_eval.lmd.compare_videos`): its fields (``lmd_px``, ``psnr_db``, ``ssim``,
``paired_frames``, ``landmark_frames``, ``landmark_coverage``) are the record's ``measures``;
how they were computed (definitions, SSIM variant, landmark backend and versions, resolution,
frame counts) is its ``provenance["lmd"]``. No SyncNet: the record has no LSE numbers.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..measures import VideoInputs, get_measure
from ..timing import Timer
from ..types import VideoResult
from . import LandmarkCollaborators, RecipeRequest, RecipeSpec

__all__ = ["run_recipe"]

# LmdResult keys that are neither a measure field nor said by the record itself (path, id,
# status, reason): how the numbers were made, kept in ``provenance["lmd"]``.
_RECORD_KEYS = frozenset({"generated", "id", "status", "reason"})


def run_recipe(
    spec: RecipeSpec, parts: LandmarkCollaborators, request: RecipeRequest, timer: Timer
) -> VideoResult:
    """LMD, PSNR and SSIM of ``request.path`` against ``request.reference_path``.

    Returns:
        An ``ok`` record, or a ``no_face`` one (landmark coverage below the minimum) that
        keeps its frame counts and coverage but no LMD, PSNR or SSIM.

    Raises:
        InputError: no reference, a file that cannot be decoded, no face in any frame pair.
    """
    if request.reference_path is None:
        raise InputError(f"{request.path}: the manifest row has no 'reference' (ground truth)")
    from ..lmd import SSIM_VARIANT

    measure = get_measure("lmd")
    options = {
        "backend": parts.landmark_backend(),
        "min_landmark_coverage": parts.lmd_config.min_landmark_coverage,
        "timer": timer,  # the landmarks stage advances pair by pair (progress)
    }
    inputs = VideoInputs(str(request.path), reference=str(request.reference_path), options=options)
    with timer.stage("lmd"):
        found: dict[str, Any] = measure.compute_video(inputs)
    names = {f.name for f in measure.fields}
    measures = {name: found.get(name) for name in names}
    described = {k: v for k, v in found.items() if k not in names and k not in _RECORD_KEYS}
    described["ssim_variant"] = SSIM_VARIANT
    warnings = []
    if found.get("frame_count_mismatch"):
        warnings.append(
            f"frame_count_mismatch: {found['generated_frames']} frames, but the reference has "
            f"{found['reference_frames']}; the first {found['paired_frames']} are compared"
        )
    return VideoResult(
        path=str(request.path),
        status=found["status"],
        reason=found.get("reason"),
        recipe=spec.name,
        warnings=warnings,
        provenance={"lmd": described},
        measures=measures,
        reason_code="low_landmark_coverage" if found["status"] == "no_face" else None,
    )
