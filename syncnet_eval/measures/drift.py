"""The offset over time (:func:`syncnet_eval.scoring.offset_drift`): the registry entry."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="drift",
    help="does the AV offset change during the video (a drifting clock, stretched audio), "
    "which one offset for the whole clip hides",
    definition="syncnet-eval's own rule (syncnet_eval.scoring.offset_drift): the best offset "
    "of each 5 s segment every 1 s from the window distances of the offset search, segments "
    "with LSE-C >= 3, least-squares slope in ms per minute with its 95% interval",
    level="track",
    fields=(
        Field("segment_offsets", "json", "segment offsets", video_column=False),
        Field(
            "drift_ms_per_min",
            "float",
            "offset drift",
            unit="ms/min",
            digits=3,
            may_enter_mean=False,
        ),
        Field(
            "drift_segments",
            "int",
            "drift segments",
            unit="segments",
            combine="sum",
            may_enter_mean=False,
            video_column=False,
        ),
        Field(
            "drift_segments_left_out",
            "int",
            "drift segments left out",
            unit="segments",
            combine="sum",
            may_enter_mean=False,
            video_column=False,
        ),
        Field(
            "drift_span_s",
            "float",
            "drift span",
            unit="s",
            digits=4,
            combine="none",
            may_enter_mean=False,
            video_column=False,
        ),
        Field("drift_ci95_ms_per_min", "json", "drift 95% interval", video_column=False),
    ),
    needs=frozenset({"window_distances"}),
    compute=".scoring:DriftMeasure",
    flags={"offset_drift": "the AV offset drifts by more than one frame during the video"},
    raises=".reliability:drift_flags",
    line=".presentation:drift_line",
)
