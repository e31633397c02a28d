"""Codec provenance: how each input was encoded, and how two runs' inputs differ in it.

Every recipe records, in each record's ``provenance`` (``recipes.steps.input_provenance``,
from ``decode.probe_media``), the input's video codec, profile, pixel format, bit rate and
frame rate, its audio codec, profile, bit rate and sample rate, and the container format:
:data:`MEDIA_KEYS`, the fields of the ``codec`` measure (``measures/codec.py``). Codec
changes alone move LSE by 0.4-1.2 (THEval, CVPR 2026, as quoted
in issue 19), so ``check --baseline`` and ``compare`` warn when two runs' inputs were encoded
differently (:func:`media_differences`), after the configuration differences.

Light (no numpy or torch).
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import statistics
from typing import Any

from .measures.codec import MEDIA_KEYS
from .types import VideoResult

__all__ = [
    "BIT_RATE_TOLERANCE",
    "MEDIA_KEYS",
    "media_differences",
    "media_of",
    "media_warning",
]

_BIT_RATES = ("input_video_bit_rate", "input_audio_bit_rate")
# Bit rates vary from file to file even with one encoder setting: two runs differ in one when
# their median rates differ by more than this fraction of the larger. The other keys differ
# when the sets of values differ.
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


def _value(key: str, value: Any) -> str:
    if key == "input_fps" and isinstance(value, int | float):
        value = round(float(value), 3)
    return json.dumps(value)


def media_differences(base: Sequence[VideoResult], new: Sequence[VideoResult]) -> list[str]:
    """``key: base values vs new values`` for each of :data:`MEDIA_KEYS` in which the two
    runs' inputs differ (empty when either run records none).

    Codecs, profiles, pixel formats, frame rates, sample rates and containers differ when the
    sets of values over each run differ; bit rates when the medians differ by more than
    :data:`BIT_RATE_TOLERANCE`.
    """
    a = [m for r in base if (m := media_of(r)) is not None]
    b = [m for r in new if (m := media_of(r)) is not None]
    if not (a and b):
        return []
    differences = []
    for key in MEDIA_KEYS:
        if key in _BIT_RATES:
            rates_a = [float(m[key]) for m in a if m[key]]
            rates_b = [float(m[key]) for m in b if m[key]]
            if not (rates_a and rates_b):
                continue
            med_a, med_b = statistics.median(rates_a), statistics.median(rates_b)
            if abs(med_a - med_b) > BIT_RATE_TOLERANCE * max(med_a, med_b):
                differences.append(
                    f"{key}: median {med_a / 1000:.0f} kb/s vs {med_b / 1000:.0f} kb/s"
                )
            continue
        values_a = {_value(key, m[key]) for m in a}
        values_b = {_value(key, m[key]) for m in b}
        if values_a != values_b:
            differences.append(f"{key}: {_shown(values_a)} vs {_shown(values_b)}")
    return differences


def media_warning(base: Sequence[VideoResult], new: Sequence[VideoResult]) -> str | None:
    """The warning ``check --baseline`` and ``compare`` print when the runs' inputs were
    encoded differently (``None``: they were not, or a run records no codec provenance)."""
    differences = media_differences(base, new)
    if not differences:
        return None
    return (
        "the inputs of the two runs were encoded differently, and codec changes alone move "
        f"LSE: {'; '.join(differences)}"
    )
