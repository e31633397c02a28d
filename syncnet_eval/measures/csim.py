"""CSIM, identity similarity to the ground truth (:mod:`syncnet_eval.row`): the entry.

Cosine similarity between each generated frame's face embedding and the identity's (the
ground truth's first frame), mean over the frames where a face was aligned. The backend is
chosen by name (``--csim-model``: ``dlib`` or ``arcface``, ``syncnet_eval.extractors``); the
record names it, and numbers of different backends are not comparable. ``compute`` is the
default backend's factory, the contract's ``syncnet_eval.identity:load_identity``.
"""

from __future__ import annotations

from ..extractors import DEFAULTS, REGISTRY
from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="csim",
    help="how much the generated face keeps the ground truth's identity",
    definition="CSIM: cosine similarity of face-recognition embeddings (ArcFace, Deng et al. "
    "2019, as the talking-head papers; or dlib's ResNet) between each generated frame and the "
    "identity (the reference's first frame), mean over frames with a face "
    "(syncnet_eval.identity.DEFINITION)",
    level="video",
    fields=(
        Field("csim", "float", "CSIM", better="higher", summary="mean"),
        Field("csim_frames", "int", "frames with an identity", unit="frames", may_enter_mean=False),
    ),
    needs=frozenset({"reference_video", "reference_frames", "model"}),
    compute=REGISTRY[DEFAULTS["csim"]].factory,
    default=False,
)
