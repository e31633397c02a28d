"""LMD (mouth landmark distance) against ground truth, with PSNR and SSIM on the same frames.

The definition is the one of RAD-NeRF's and ER-NeRF's evaluation code (``LMDMeter``, region
``mouth``), which SyncTalk and TalkingGaussian reuse: on each frame pair, the 20 mouth landmarks
48-67 of the 68-point scheme are centred on their own mean (so a translation of the whole
mouth, or head motion, does not count), the L2 distance between corresponding centred points is
averaged over the 20 points, and that is averaged over frames. Distances are in pixels of the
reference's (ground truth's) frame: the papers compare a rendering with the ground truth at one
resolution, so a generated video of another size is resized to the reference's first
(bilinear). Frames are paired by index; when the frame counts differ, the first
``min(n, m)`` frames are paired and the difference is reported.

PSNR and SSIM come from scikit-image (``skimage.metrics``) on the same full-frame pairs, 8-bit
RGB, averaged over frames.

A frame pair without landmarks in both videos has no LMD, and leaving it out would let a
generated video whose face vanishes score better than a complete one. So each record has its
``landmark_coverage`` (pairs with landmarks in both / pairs compared), and a pair whose coverage
is below :data:`MIN_LANDMARK_COVERAGE` (``--min-landmark-coverage``) is a failure (``no_face``,
no numbers) rather than an LMD over the frames that are left.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
import importlib.metadata
import logging
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .constants import MIN_LANDMARK_COVERAGE
from .decode import iter_frames, probe_media
from .errors import DependencyError, InputError, NoFaceError
from .landmarks import MOUTH_POINTS, LandmarkBackend
from .timing import Timer

__all__ = [
    "LMD_DEFINITION",
    "MIN_LANDMARK_COVERAGE",
    "PSNR_CAP_DB",
    "SSIM_DEFINITION",
    "SSIM_VARIANT",
    "LmdResult",
    "PairObserver",
    "compare_videos",
    "frame_ssim",
    "lmd_measure",
    "mouth_distance",
    "skimage_version",
]

logger = logging.getLogger(__name__)

LMD_DEFINITION = (
    "mouth landmarks 48-67 of the 68-point scheme, centred per frame on their mean; mean L2 "
    "distance over the 20 points per frame, then mean over frames with a face in both videos; "
    "pixels of the reference's frame size (the generated video resized to it, bilinear); frames "
    "paired by index (the first min(n, m)); as RAD-NeRF/ER-NeRF's LMDMeter (region 'mouth'), "
    "used by SyncTalk and TalkingGaussian"
)
# Identical frames have an infinite PSNR, which no JSON file holds: each frame's PSNR is capped
# here. One 8-bit level of difference in one channel of one pixel already gives more than
# 100 dB on any frame above 3.9e4 values (10*log10(255**2 * n)), so the cap only meets
# frames that are identical or all but so.
PSNR_CAP_DB = 100.0
# Which SSIM: its variants (grey or colour, the window's shape and size) give different numbers
# on the same frames, so the one computed here is named in every output.
SSIM_VARIANT = (
    "colour (the mean of the R, G and B channels' SSIM), 7x7 uniform window, sample "
    "covariances: scikit-image's structural_similarity defaults with channel_axis=2"
)
SSIM_DEFINITION = (
    f"SSIM: {SSIM_VARIANT}, data_range=255, on 8-bit full frames, mean over paired frames; PSNR: "
    f"skimage.metrics.peak_signal_noise_ratio (data_range=255) per frame, capped at "
    f"{PSNR_CAP_DB:g} dB, mean over paired frames"
)


class PairObserver(Protocol):
    """Something else fed by the one decode of a pair (``syncnet_eval.row``'s measures)."""

    def observe(self, generated: np.ndarray, reference: np.ndarray) -> None:
        """One frame pair, (H, W, 3) uint8 BGR each, the generated one at the reference's
        size, in order."""


def mouth_distance(landmarks_a: np.ndarray, landmarks_b: np.ndarray) -> float:
    """LMD of one frame pair: centred mouth points, mean L2 over the 20 points.

    Args:
        landmarks_a: (68, 2) landmarks [x, y] in pixels.
        landmarks_b: (68, 2) landmarks of the other frame, same pixel grid.

    Returns:
        The mean distance, pixels.
    """
    mouth = list(MOUTH_POINTS)
    a = np.asarray(landmarks_a, dtype=np.float64)[mouth]
    b = np.asarray(landmarks_b, dtype=np.float64)[mouth]
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    return float(np.linalg.norm(a - b, axis=1).mean())


@dataclass(frozen=True)
class LmdResult:
    """LMD, PSNR and SSIM of one generated video against its reference.

    Attributes:
        generated: the generated video.
        reference: the ground-truth video.
        id: the manifest id (else the generated path as given).
        lmd_px: mean mouth landmark distance, pixels of ``resolution`` (``None`` when failed).
        psnr_db: mean per-frame PSNR, dB, each frame capped at :data:`PSNR_CAP_DB`.
        ssim: mean per-frame SSIM (1 for identical frames).
        generated_frames: frames decoded from the generated video.
        reference_frames: frames decoded from the reference.
        paired_frames: min of the two: the frames compared.
        frame_count_mismatch: the two counts differ.
        landmark_frames: paired frames with a face in both (the frames LMD averages).
        landmark_coverage: ``landmark_frames / paired_frames`` (``None`` when nothing was
            compared); below the minimum (:data:`MIN_LANDMARK_COVERAGE`) the pair fails.
        resolution: ``WxH`` of the reference, the pixel grid of ``lmd_px``.
        resized: the generated frames were resized to ``resolution``.
        definition: how LMD is computed, in words (:data:`LMD_DEFINITION`).
        image_metrics: how PSNR and SSIM are computed (:data:`SSIM_DEFINITION`).
        landmarks: the backend (``fan`` or ``dlib``).
        landmarks_version: its package versions.
        landmarks_detail: its detector, model files and face choice.
        skimage_version: the scikit-image that computed PSNR and SSIM.
        status: ``ok``, or the failure status (``error``, ``decode_error``, ``no_face``).
        reason: why it failed.
    """

    generated: str
    reference: str
    id: str
    lmd_px: float | None
    psnr_db: float | None
    ssim: float | None
    generated_frames: int
    reference_frames: int
    paired_frames: int
    frame_count_mismatch: bool
    landmark_frames: int
    resolution: str | None
    resized: bool
    definition: str
    image_metrics: str
    landmarks: str
    landmarks_version: str
    landmarks_detail: str
    skimage_version: str | None = None
    status: str = "ok"
    reason: str | None = None
    landmark_coverage: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (field names as above)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LmdResult:
        """Inverse of :meth:`to_dict` (unknown keys ignored, so newer files still load)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def failed(
        cls, generated: Path, reference: Path, backend: LandmarkBackend, exc: InputError, id: str
    ) -> LmdResult:
        """The record of a pair that could not be compared."""
        return cls(
            generated=str(generated),
            reference=str(reference),
            id=id,
            lmd_px=None,
            psnr_db=None,
            ssim=None,
            generated_frames=0,
            reference_frames=0,
            paired_frames=0,
            frame_count_mismatch=False,
            landmark_frames=0,
            resolution=None,
            resized=False,
            definition=LMD_DEFINITION,
            image_metrics=SSIM_DEFINITION,
            landmarks=backend.name,
            landmarks_version=backend.version,
            landmarks_detail=backend.detail,
            status=exc.status,
            reason=str(exc),
        )


def _metrics() -> Any:
    try:
        from skimage import metrics
    except ImportError as exc:
        raise DependencyError(
            "lmd computes PSNR and SSIM with scikit-image, which is not installed; install the "
            "[lmd] extra (`pip install 'syncnet-eval[lmd]'`)"
        ) from exc
    return metrics


def frame_ssim(reference: np.ndarray, generated: np.ndarray) -> float:
    """SSIM of one frame pair as lmd computes it (:data:`SSIM_VARIANT`).

    Args:
        reference: (H, W, 3) uint8 RGB frame.
        generated: (H, W, 3) uint8 RGB frame of the same size.

    Returns:
        SSIM, 1 for identical frames.

    Raises:
        DependencyError: scikit-image is not installed.
    """
    return float(
        _metrics().structural_similarity(reference, generated, channel_axis=2, data_range=255)
    )


def _frames(path: Path) -> Iterator[np.ndarray]:
    for chunk in iter_frames(path, jpeg_roundtrip=False):
        yield from chunk


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")


@dataclass
class _Sums:
    lmd: float = 0.0
    lmd_frames: int = 0
    psnr: float = 0.0
    ssim: float = 0.0
    pairs: int = 0


def _add_pair(
    sums: _Sums, gen: np.ndarray, ref: np.ndarray, backend: LandmarkBackend | None, metrics: Any
) -> None:
    if np.array_equal(gen, ref):
        psnr = PSNR_CAP_DB
    else:
        psnr = min(float(metrics.peak_signal_noise_ratio(ref, gen, data_range=255)), PSNR_CAP_DB)
    sums.ssim += frame_ssim(ref[:, :, ::-1], gen[:, :, ::-1])
    sums.psnr += psnr
    sums.pairs += 1
    if backend is None:
        return
    lm_gen = backend.landmarks(gen)
    lm_ref = backend.landmarks(ref)
    if lm_gen is not None and lm_ref is not None:
        sums.lmd += mouth_distance(lm_gen, lm_ref)
        sums.lmd_frames += 1


def compare_videos(
    generated: Path,
    reference: Path,
    backend: LandmarkBackend | None,
    *,
    id: str | None = None,
    min_landmark_coverage: float = MIN_LANDMARK_COVERAGE,
    timer: Timer | None = None,
    observers: Sequence[PairObserver] = (),
) -> LmdResult:
    """LMD, PSNR and SSIM of ``generated`` against ``reference`` (see the module docstring).

    Args:
        generated: the generated video.
        reference: the ground truth.
        backend: the landmark detector (``None``: PSNR and SSIM only, no LMD).
        id: the record's id (default: ``generated`` as given).
        min_landmark_coverage: the least share of paired frames with landmarks in both.
        timer: its hook sees the ``landmarks`` stage advance frame pair by frame pair
            (progress).
        observers: also fed every frame pair of this one decode (the row's other measures).

    Returns:
        The result; a frame-count mismatch is a field and a logged warning. A coverage below
        ``min_landmark_coverage`` gives a ``no_face`` result with no numbers (its counts and
        coverage kept).

    Raises:
        InputError: a file is missing or does not decode (``DecodeError``), a video has no
            frames, or no paired frame has a face in both (``NoFaceError``).
        DependencyError: scikit-image is not installed.
    """
    metrics = _metrics()
    generated, reference = Path(generated), Path(reference)
    for path in (generated, reference):
        _check_file(path)
    sums = _Sums()
    gen_iter, ref_iter = _frames(generated), _frames(reference)
    size: tuple[int, int] | None = None
    resized = False
    n_gen = n_ref = 0
    declared = [n for p in (generated, reference) if (n := probe_media(p).num_frames)]
    total = min(declared) if len(declared) == 2 else None
    timer = timer or Timer()
    with timer.stage("landmarks", total=total):
        while True:
            gen, ref = next(gen_iter, None), next(ref_iter, None)
            n_gen += gen is not None
            n_ref += ref is not None
            if gen is None or ref is None:
                break
            if gen.shape != ref.shape:
                gen = cv2.resize(gen, (ref.shape[1], ref.shape[0]), interpolation=cv2.INTER_LINEAR)
                resized = True
            size = (ref.shape[1], ref.shape[0])
            _add_pair(sums, gen, ref, backend, metrics)
            for observer in observers:
                observer.observe(gen, ref)
            timer.advance(1)
    # The longer video's remaining frames are decoded only to be counted.
    n_gen += sum(1 for _ in gen_iter)
    n_ref += sum(1 for _ in ref_iter)
    result = _result(generated, reference, id, backend, sums, n_gen, n_ref, size, resized)
    return result if backend is None else _judge_coverage(result, min_landmark_coverage)


def _judge_coverage(result: LmdResult, minimum: float) -> LmdResult:
    """``result``, or a ``no_face`` failure when too few pairs had landmarks in both: an LMD
    over the pairs that had would leave the missing ones out (and so score better)."""
    coverage = result.landmark_coverage
    if coverage is None or coverage >= minimum:
        return result
    reason = (
        f"{result.generated}: a face with landmarks in both videos in only {coverage:.0%} of "
        f"the {result.paired_frames} paired frames ({result.landmark_frames}), below the "
        f"--min-landmark-coverage of {minimum:.0%}: an LMD over the rest would leave the "
        "missing frames out"
    )
    return replace(result, lmd_px=None, psnr_db=None, ssim=None, status="no_face", reason=reason)


def _result(
    generated: Path,
    reference: Path,
    id: str | None,
    backend: LandmarkBackend | None,
    sums: _Sums,
    n_gen: int,
    n_ref: int,
    size: tuple[int, int] | None,
    resized: bool,
) -> LmdResult:
    if sums.pairs == 0:
        empty = generated if n_gen == 0 else reference
        raise InputError(f"{empty}: the video has no frames to compare")
    if sums.lmd_frames == 0 and backend is not None:
        raise NoFaceError(
            f"{generated}: no paired frame has a face in both videos ({backend.name} landmarks)"
        )
    if n_gen != n_ref:
        logger.warning(
            "%s: %d frames, but the reference %s has %d; the first %d are compared",
            generated,
            n_gen,
            reference,
            n_ref,
            sums.pairs,
        )
    assert size is not None
    return LmdResult(
        generated=str(generated),
        reference=str(reference),
        id=id or str(generated),
        lmd_px=sums.lmd / sums.lmd_frames if sums.lmd_frames else None,
        psnr_db=sums.psnr / sums.pairs,
        ssim=sums.ssim / sums.pairs,
        generated_frames=n_gen,
        reference_frames=n_ref,
        paired_frames=sums.pairs,
        frame_count_mismatch=n_gen != n_ref,
        landmark_frames=sums.lmd_frames,
        landmark_coverage=sums.lmd_frames / sums.pairs if backend is not None else None,
        resolution=f"{size[0]}x{size[1]}",
        resized=resized,
        definition=LMD_DEFINITION,
        image_metrics=SSIM_DEFINITION,
        landmarks=backend.name if backend is not None else "none",
        landmarks_version=backend.version if backend is not None else "",
        landmarks_detail=backend.detail if backend is not None else "no LMD: PSNR and SSIM only",
        skimage_version=skimage_version(),
    )


def lmd_measure(inputs: Any) -> dict[str, Any]:
    """The ``lmd`` measure (``measures/lmd.py``): :func:`compare_videos` of ``inputs.path``
    against ``inputs.reference`` with the landmark backend in ``inputs.options["backend"]``;
    the whole :class:`LmdResult` as a dict (the registry's fields among its keys).

    Raises:
        InputError: as :func:`compare_videos`, or no reference given.
    """
    if inputs.reference is None:
        raise InputError(f"{inputs.path}: no reference (ground truth) to compare with")
    options = dict(inputs.options)
    coverage = options.get("min_landmark_coverage", MIN_LANDMARK_COVERAGE)
    result = compare_videos(
        Path(inputs.path),
        Path(inputs.reference),
        options["backend"],
        id=options.get("id"),
        min_landmark_coverage=coverage,
        timer=options.get("timer"),
        observers=options.get("observers", ()),
    )
    return result.to_dict()


def skimage_version() -> str | None:
    """The installed scikit-image version (``None`` when absent)."""
    try:
        return importlib.metadata.version("scikit-image")
    except importlib.metadata.PackageNotFoundError:
        return None
