"""LMD, PSNR and SSIM against ground truth (:mod:`syncnet_eval.lmd`): the registry entry."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="lmd",
    help="how far the mouth shape and the pixels are from the ground truth's",
    definition="LMD: RAD-NeRF/ER-NeRF's LMDMeter (region 'mouth'; syncnet_eval.lmd."
    "LMD_DEFINITION); PSNR and SSIM: scikit-image (syncnet_eval.lmd.SSIM_DEFINITION)",
    level="video",
    fields=(
        Field("lmd_px", "float", "LMD", unit="px", better="lower", summary="mean"),
        Field("psnr_db", "float", "PSNR", unit="dB", better="higher", summary="mean"),
        Field("ssim", "float", "SSIM", better="higher", summary="mean"),
        Field("paired_frames", "int", "paired frames", unit="frames", may_enter_mean=False),
        Field(
            "landmark_frames", "int", "frames with landmarks", unit="frames", may_enter_mean=False
        ),
        Field("landmark_coverage", "float", "landmark coverage", unit="share", better="higher"),
    ),
    needs=frozenset({"reference_video"}),
    compute=".lmd:lmd_measure",
    default=False,
)
