"""FID of a set of generated videos against their ground truths: a *set* measure.

Each video's record keeps where its feature vectors are (``provenance["row"]["features"]``:
an ``.npz`` of the generated and the reference frames' features, written atomically beside
the outputs, so a rerun that resumes keeps them); the summary, ``check``, ``compare`` and the
report compute the set's FID from those files over the records they summarise
(:func:`syncnet_eval.row.fid_of_set`). ``compute`` is the default model's factory, the
contract's ``syncnet_eval.fid:FidExtractor``.
"""

from __future__ import annotations

from ..extractors import DEFAULTS, REGISTRY
from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="fid",
    help="how far the generated frames' feature distribution is from the real frames'",
    definition="FID (Heusel et al. 2017, Eq. 6): Frechet distance between Gaussians fitted to "
    "Inception-v3 pool features of the generated and the real frames, as pytorch-fid / "
    "torch-fidelity (syncnet_eval.fid.DEFINITION)",
    level="set",
    fields=(
        Field("fid", "float", "FID", better="lower", summary="set", video_column=False),
        Field(
            "fid_vectors",
            "int",
            "FID vectors",
            unit="vectors",
            summary="set",
            may_enter_mean=False,
            video_column=False,
        ),
    ),
    needs=frozenset({"reference_video", "reference_frames", "model"}),
    compute=REGISTRY[DEFAULTS["fid"]].factory,
    aggregate="syncnet_eval.row:fid_of_set",
    default=False,
)
