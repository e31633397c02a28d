"""DeSync with Synchformer (:mod:`syncnet_eval.desync`): the registry entry (``--expert
desync``)."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="desync",
    help="Synchformer's predicted offset over the first and last 4.8 s (DeSync, as video-to-"
    "audio papers report it); its 0.2 s classes cannot see 1-3-frame errors",
    definition="DeSync: mean absolute Synchformer offset (21 classes, -2..+2 s by 0.2 s; "
    "Iashin et al. 2024) over the first and the last 4.8 s, as MMAudio (Cheng et al., CVPR "
    "2025) and hkchengrex/av-benchmark compute it (syncnet_eval.desync)",
    level="track",
    fields=(
        Field("desync_s", "float", "DeSync", unit="s", better="lower", summary="mean"),
        Field(
            "desync_offsets_s",
            "json",
            "Synchformer offsets (first, last 4.8 s)",
            unit="s",
            combine="none",
            video_column=False,
        ),
    ),
    needs=frozenset({"track_frames", "audio", "model"}),
    compute=".desync:create_measure",
    default=False,
)
