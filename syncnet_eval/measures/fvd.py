"""FVD of a set of generated videos against their ground truths: a *set* measure.

As ``fid`` (each record keeps where its clip features are; the set value is computed where the
records are summarised, :func:`syncnet_eval.row.fvd_of_set`), on clips of the model's
``clip_length`` frames every ``stride`` frames. ``compute`` is the default model's factory,
the contract's ``syncnet_eval.fvd:FvdExtractor``.
"""

from __future__ import annotations

from ..extractors import DEFAULTS, REGISTRY
from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="fvd",
    help="how far the generated clips' feature distribution is from the real clips'",
    definition="FVD (Unterthiner et al. 2018, Eq. 1): Frechet distance between Gaussians "
    "fitted to I3D features of 16-frame clips of the generated and the real videos, as "
    "StyleGAN-V's evaluation (syncnet_eval.fvd.DEFINITION)",
    level="set",
    fields=(
        Field("fvd", "float", "FVD", better="lower", summary="set", video_column=False),
        Field(
            "fvd_clips",
            "int",
            "FVD clips",
            unit="clips",
            summary="set",
            may_enter_mean=False,
            video_column=False,
        ),
    ),
    needs=frozenset({"reference_video", "reference_frames", "model"}),
    compute=REGISTRY[DEFAULTS["fvd"]].factory,
    aggregate="syncnet_eval.row:fvd_of_set",
    default=False,
)
