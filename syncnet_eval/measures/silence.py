"""Mouth motion in silence (:mod:`syncnet_eval.silence`): the registry entry."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="silence",
    help="does the mouth keep moving while the audio is silent (a pause has no speech for "
    "LSE to find out of sync)",
    definition="syncnet-eval's own rule (syncnet_eval.silence.SILENCE_RULE): energy voice "
    "activity per 40 ms frame, mouth-region frame difference against the speaker's median "
    "while speaking",
    level="track",
    fields=(
        Field(
            "silent_frames",
            "int",
            "silent frames",
            unit="frames",
            summary="sum",
            may_enter_mean=False,
            combine="sum",
        ),
        Field(
            "silent_motion_fraction",
            "float",
            "mouth moving in silence",
            unit="share",
            better="lower",
            summary="mean",
        ),
    ),
    needs=frozenset({"track_frames", "audio"}),
    compute=".silence:SilenceMeasure",
    combine=".silence:pooled_silence",
    line=".silence:silence_line",
)
