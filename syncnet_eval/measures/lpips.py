"""LPIPS of a generated video against its ground truth (:mod:`syncnet_eval.row`): the entry.

The perceptual distance of each generated frame to the reference's frame of the same index
(the generated one resized to the reference's size, as for PSNR and SSIM), mean over frames.
The model is chosen by name (``--lpips-model``: ``syncnet_eval.extractors``); ``compute`` is
the default model's factory, the contract's ``syncnet_eval.lpips:LpipsMetric``.
"""

from __future__ import annotations

from ..extractors import DEFAULTS, REGISTRY
from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="lpips",
    help="how far each frame is from the ground truth's in a network's perceptual features",
    definition="LPIPS v0.1 (Zhang et al. 2018, 'The Unreasonable Effectiveness of Deep "
    "Features as a Perceptual Metric', Eq. 1): the lpips package's linear heads; per frame "
    "pair, mean over paired frames (syncnet_eval.lpips.DEFINITION)",
    level="video",
    fields=(Field("lpips", "float", "LPIPS", better="lower", summary="mean"),),
    needs=frozenset({"reference_video", "reference_frames", "model"}),
    compute=REGISTRY[DEFAULTS["lpips"]].factory,
    default=False,
)
