"""Whose lips own the audio (:mod:`syncnet_eval.ownership`): the registry entry. A measure of
the video's tracks together, computed once every track is scored (``face_tracks``)."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="owner",
    help="which face's lips follow the audio, segment by segment, in a video with several "
    "faces (the video's LSE comes from one track and cannot say the wrong face speaks)",
    definition="syncnet-eval's own rule (syncnet_eval.ownership.owner_segments): per 5 s "
    "segment every 1 s of the video (the drift segments' length and hop), each track's mean "
    "SyncNet window confidence (the reference's framewise conf); the most confident track "
    "owns the segment when it leads the runner-up by >= 1.0 (ownership.OWNER_MIN_MARGIN), "
    "else the segment is undecided; judged only with the official SyncNet weights or an "
    "injected embedder",
    level="video",
    fields=(
        Field("owner_segments", "json", "owner per segment"),
        Field("owner_switches", "json", "owner switches"),
        Field("owner_track", "int", "owner track", may_enter_mean=False),
        Field(
            "owner_share",
            "float",
            "owner's share",
            unit="share",
            summary="mean",
            may_enter_mean=True,
        ),
        Field(
            "owner_undecided_share",
            "float",
            "undecided segments",
            unit="share",
            better="lower",
            summary="mean",
        ),
        Field("owner_margin", "float", "owner margin", better="higher", digits=3),
        Field("owner_judgement", "text", "ownership"),
        # The track a manifest's 'owner' column names (stamped by the run driver).
        Field("owner_expected", "int", "expected owner", may_enter_mean=False),
    ),
    needs=frozenset({"face_tracks"}),
    compute=".ownership:owner_measure",
    line=".ownership:owner_line",
)
