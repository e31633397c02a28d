"""Which decoders read the input (the codec is the ``codec`` measure's; the decoder that reads it
here can differ: ``mp3float`` for ``mp3``, ``libdav1d`` for ``av1``): the registry entry."""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="decoder",
    help="which decoder read each stream (decoders of one codec can differ in their output)",
    definition="the decoder PyAV opened for each stream (codec_context.name)",
    level="video",
    fields=(
        Field("input_video_decoder", "text", "video decoder"),
        Field("input_audio_decoder", "text", "audio decoder"),
    ),
    needs=frozenset({"input_media"}),
    compute=".decode:decoder_fields",
    home="provenance",
)
