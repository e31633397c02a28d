"""Codec provenance: how each input was encoded, and how two runs' inputs differ in it.

Every recipe records, in each record's ``provenance`` (``recipes.steps.input_provenance``,
from ``decode.probe_media``), the input's video codec, profile, pixel format, bit rate and
frame rate, its audio codec, profile, bit rate and sample rate, and the container format:
:data:`MEDIA_KEYS`, the fields of the ``codec`` measure (``measures/codec.py``). Codec
changes alone move LSE (issue 19), so ``check --baseline``, ``compare`` and the report warn when
a video both runs scored was encoded differently in them, naming those videos
(:func:`media_differences`), after the configuration differences.

Light (no numpy or torch).
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import json
import statistics
from typing import Any

from .measures.codec import MEDIA_KEYS
from .presentation import count
from .types import VideoResult

__all__ = [
    "BIT_RATE_TOLERANCE",
    "MEDIA_KEYS",
    "media_differences",
    "media_of",
    "media_warning",
]

_BIT_RATES = ("input_video_bit_rate", "input_audio_bit_rate")
# Bit rates vary from encode to encode even with one encoder setting: a video's two records
# differ in one when the rates differ by more than this fraction of the larger. The other keys
# differ when the values differ.
BIT_RATE_TOLERANCE = 0.10
# Values listed per run in a difference, at most.
_LISTED = 4


def media_of(result: VideoResult) -> dict[str, Any] | None:
    """The :data:`MEDIA_KEYS` of a record's provenance (``None``: the record has none, e.g. an
    input that could not be opened, or a CSV row of an older version)."""
    prov = result.provenance or {}
    if not any(prov.get(k) is not None for k in MEDIA_KEYS):
        return None
    return {k: prov.get(k) for k in MEDIA_KEYS}


def _shown(values: set[str]) -> str:
    listed = sorted(values)
    more = f" (+{len(listed) - _LISTED} more)" if len(listed) > _LISTED else ""
    return " / ".join(listed[:_LISTED]) + more


def _named(keys: list[str]) -> str:
    more = f", +{len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
    return f"{count(len(keys), 'video')}: {', '.join(keys[:_LISTED])}{more}"


_CODEC_KEYS = ("input_video_codec", "input_audio_codec")


@functools.cache
def _codec_of(name: str) -> str:
    """The codec a name stands for: records written before the codec's own name was recorded
    hold its decoder's (``mp3float`` for ``mp3``, ``libdav1d`` for ``av1``)."""
    import av  # only when two runs are compared

    try:
        codec: str = av.codec.Codec(name, "r").canonical_name
    except (av.codec.codec.UnknownCodecError, ValueError):
        return name
    return codec


def _value(key: str, value: Any) -> str:
    if key == "input_fps" and isinstance(value, int | float):
        value = round(float(value), 3)
    if key in _CODEC_KEYS and isinstance(value, str):
        value = _codec_of(value)
    return json.dumps(value)


def _rates_differ(a: Any, b: Any) -> bool:
    if not (a and b):
        return False
    return abs(float(a) - float(b)) > BIT_RATE_TOLERANCE * max(float(a), float(b))


def _media_pairs(
    base: Sequence[VideoResult], new: Sequence[VideoResult]
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(key, base media, new media)`` of the videos both runs hold (paired as ``compare`` and
    ``check --baseline`` pair them: by id, else path) and both recorded the encoding of."""
    from .stats import match_results  # numpy: only when two runs are compared

    pairs = []
    for key, b, n in match_results(new, base).matches:
        media_b, media_n = media_of(b), media_of(n)
        if media_b is not None and media_n is not None:
            pairs.append((key, media_b, media_n))
    return pairs


def media_differences(base: Sequence[VideoResult], new: Sequence[VideoResult]) -> list[str]:
    """For each of :data:`MEDIA_KEYS` in which a video of both runs was encoded differently,
    ``key: base values vs new values (N videos: the first of them)`` (empty when no paired
    video was, or either run records no codec provenance).

    Only paired videos are compared (:func:`syncnet_eval.stats.match_results`): a video one run
    holds and the other does not says nothing about how the inputs changed. Codecs, profiles,
    pixel formats, frame rates, sample rates and containers differ when the values differ;
    bit rates when they differ by more than :data:`BIT_RATE_TOLERANCE` of the larger.
    """
    pairs = _media_pairs(base, new)
    differences = []
    for key in MEDIA_KEYS:
        if key in _BIT_RATES:
            moved = [(k, a[key], b[key]) for k, a, b in pairs if _rates_differ(a[key], b[key])]
            if moved:
                med_a = statistics.median(float(a) for _, a, _ in moved)
                med_b = statistics.median(float(b) for _, _, b in moved)
                differences.append(
                    f"{key}: {med_a / 1000:.0f} kb/s vs {med_b / 1000:.0f} kb/s"
                    f"{' (medians)' if len(moved) > 1 else ''} ({_named([k for k, _, _ in moved])})"
                )
            continue
        changed = [(k, _value(key, a[key]), _value(key, b[key])) for k, a, b in pairs]
        changed = [(k, a, b) for k, a, b in changed if a != b]
        if changed:
            values_a = {a for _, a, _ in changed}
            values_b = {b for _, _, b in changed}
            differences.append(
                f"{key}: {_shown(values_a)} vs {_shown(values_b)} "
                f"({_named([k for k, _, _ in changed])})"
            )
    return differences


def media_warning(base: Sequence[VideoResult], new: Sequence[VideoResult]) -> str | None:
    """The warning ``check --baseline``, ``compare`` and the report give when paired videos of
    the two runs were encoded differently, naming them (``None``: none was, or a run records
    no codec provenance)."""
    differences = media_differences(base, new)
    if not differences:
        return None
    pairs = _media_pairs(base, new)
    keys = {
        k
        for k, a, b in pairs
        if any(
            _rates_differ(a[m], b[m]) if m in _BIT_RATES else _value(m, a[m]) != _value(m, b[m])
            for m in MEDIA_KEYS
        )
    }
    return (
        f"{len(keys)} of {count(len(pairs), 'paired video')} "
        f"{'was' if len(keys) == 1 else 'were'} encoded differently in the two runs, and codec "
        f"changes alone move LSE: {'; '.join(differences)}"
    )
