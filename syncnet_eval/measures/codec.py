"""How the input was encoded (codec provenance, :mod:`syncnet_eval.media_provenance`): the
registry entry. Its fields live in each record's ``provenance``, where records keep what
produced them."""

from __future__ import annotations

from . import Field, MeasureSpec

# Provenance keys, in the order outputs list them (CSV columns too).
MEDIA_FIELDS = (
    Field("input_video_codec", "text", "video codec"),
    Field("input_video_profile", "text", "video profile"),
    Field("input_pix_fmt", "text", "pixel format"),
    Field("input_video_bit_rate", "int", "video bit rate", unit="bit/s", may_enter_mean=False),
    Field("input_fps", "float", "input frame rate", unit="fps", digits=6, may_enter_mean=False),
    Field("input_audio_codec", "text", "audio codec"),
    Field("input_audio_profile", "text", "audio profile"),
    Field("input_audio_bit_rate", "int", "audio bit rate", unit="bit/s", may_enter_mean=False),
    Field("input_audio_rate_hz", "int", "audio sample rate", unit="Hz", may_enter_mean=False),
    Field("input_container", "text", "container"),
)
MEDIA_KEYS = tuple(f.name for f in MEDIA_FIELDS)

SPEC = MeasureSpec(
    name="codec",
    help="how the input was encoded (codec changes alone move LSE)",
    definition="the input's streams as probed (decode.probe_media, PyAV)",
    level="video",
    fields=MEDIA_FIELDS,
    needs=frozenset({"input_media"}),
    compute=".decode:media_fields",
    home="provenance",
)
