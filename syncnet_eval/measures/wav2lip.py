"""Wav2Lip's lip-sync expert (:mod:`syncnet_eval.wav2lip`): the registry entry (``--expert
wav2lip``)."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="wav2lip",
    help="the sync judgement of Wav2Lip's own lip-sync expert (the discriminator many "
    "generators were trained against), beside SyncNet's",
    definition="Wav2Lip lip-sync expert (Prajwal et al. 2020, sec. 3.1): mean cosine "
    "similarity of SyncNet_color's audio and face embeddings, inputs as Rudrabha/Wav2Lip "
    "color_syncnet_train.py / audio.py / hparams.py (5 BGR 96x96 face crops, lower half; "
    "80-band mel, 16 columns from int(80 f / 25)); offsets searched +-vshift frames "
    "(syncnet_eval.wav2lip)",
    level="track",
    fields=(
        Field(
            "wav2lip_sync",
            "float",
            "Wav2Lip expert sync (offset 0)",
            unit="cosine",
            better="higher",
            summary="mean",
        ),
        Field("wav2lip_offset", "int", "Wav2Lip expert offset", unit="frames", summary="mean"),
        Field(
            "wav2lip_best_sync",
            "float",
            "Wav2Lip expert sync (best offset)",
            unit="cosine",
            better="higher",
            summary="mean",
        ),
        Field(
            "wav2lip_windows",
            "int",
            "Wav2Lip expert windows",
            unit="windows",
            may_enter_mean=False,
            combine="sum",
        ),
    ),
    needs=frozenset({"track_frames", "audio", "model"}),
    compute=".wav2lip:create_measure",
    default=False,
)
