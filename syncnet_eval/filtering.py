"""Curating a dataset by sync: split ``score`` records into kept and rejected manifests.

A view over existing records, never a re-score. Every record lands in exactly one of the two
lists; a rejected one names each rule it failed, or its status and reason. Both lists are
manifests (``path,audio,id,group`` and the numbers) that ``score --manifest`` and ``fix``
accept, so a curation can be re-run or repaired without losing ids, groups or audio overrides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
import csv
from dataclasses import dataclass, fields
import io
import os
from typing import Any

from .reliability import FLAGS
from .types import VideoResult

__all__ = [
    "MANIFEST_COLUMNS",
    "PRESETS",
    "FilterRules",
    "FilterOutcome",
    "Preset",
    "filter_records",
    "manifest_text",
]

# The manifest columns score reads, then what the decision was made on.
MANIFEST_COLUMNS = (
    "path",
    "audio",
    "id",
    "group",
    "status",
    "lse_d",
    "lse_c",
    "av_offset",
    "num_windows",
    "flags",
    "rejected_by",
)


@dataclass(frozen=True)
class FilterRules:
    """What a kept video must satisfy; ``None`` leaves a rule out.

    Attributes:
        min_lse_c: LSE-C (SyncNet confidence) at least this.
        max_lse_d: LSE-D at most this.
        max_abs_offset: |AV offset| at most this many frames.
        min_windows: the windows behind the numbers at least this many (the fewest over the
            tracks the video's numbers come from).
        keep_flagged: keep videos with reliability flags (by default a flag rejects).
    """

    min_lse_c: float | None = None
    max_lse_d: float | None = None
    max_abs_offset: float | None = None
    min_windows: int | None = None
    keep_flagged: bool = False

    def merged(self, other: FilterRules) -> FilterRules:
        """``other``'s rules where set, this one's elsewhere (a preset plus explicit options)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(
            {
                f.name: getattr(other, f.name)
                for f in fields(other)
                if getattr(other, f.name) not in (None, False)
            }
        )
        return FilterRules(**values)


@dataclass(frozen=True)
class Preset:
    """A published curation rule and where it comes from."""

    rules: FilterRules
    source: str


PRESETS: dict[str, Preset] = {
    "latentsync": Preset(
        FilterRules(min_lse_c=3.0, max_abs_offset=6),
        "LatentSync's data processing pipeline (bytedance/LatentSync, preprocess/) keeps clips "
        "with SyncNet confidence (LSE-C) >= 3 and |AV offset| <= 6 frames",
    ),
}


def _windows(result: VideoResult) -> int | None:
    chosen = [t for t in result.tracks if t.index == result.selected_track] or result.tracks
    return min((t.num_windows for t in chosen), default=None)


def _failed_rules(result: VideoResult, rules: FilterRules) -> list[str]:
    """Why a scored video is rejected (empty: kept)."""
    failed = []
    if rules.min_lse_c is not None and (result.lse_c or 0.0) < rules.min_lse_c:
        failed.append(f"lse_c {result.lse_c:.3f} < {rules.min_lse_c:g}")
    if rules.max_lse_d is not None and (result.lse_d or 0.0) > rules.max_lse_d:
        failed.append(f"lse_d {result.lse_d:.3f} > {rules.max_lse_d:g}")
    offset = abs(float(result.av_offset or 0))
    if rules.max_abs_offset is not None and offset > rules.max_abs_offset:
        failed.append(f"|av_offset| {offset:g} > {rules.max_abs_offset:g}")
    windows = _windows(result)
    if rules.min_windows is not None and (windows or 0) < rules.min_windows:
        failed.append(f"num_windows {windows} < {rules.min_windows}")
    if result.flags and not rules.keep_flagged:
        failed.append(f"flags {','.join(result.flags)}")
    return failed


@dataclass(frozen=True)
class FilterOutcome:
    """The split: records kept, records rejected with their reasons, and counts per rule."""

    kept: list[dict[str, Any]]
    rejected: list[tuple[dict[str, Any], str]]
    counts: Counter[str]


def _rule_name(reason: str) -> str:
    return reason.split(" ", 1)[0] if not reason.startswith("status") else reason.split(":")[0]


def filter_records(records: Iterable[Mapping[str, Any]], rules: FilterRules) -> FilterOutcome:
    """Split records (dicts from :func:`syncnet_eval.io.load_records`) by ``rules``.

    A record that was not scored (any status but ``ok``) is rejected with ``status <status>:
    <reason>``; a scored one is rejected with every rule it failed, joined by ``; ``.
    ``counts`` has, per rule (``lse_c``, ``|av_offset|``, ``flags``, ``status no_face``...), how
    many records it rejected (a record can count under several), and ``kept``.
    """
    kept: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any], str]] = []
    counts: Counter[str] = Counter()
    for rec in records:
        result = VideoResult.from_dict(dict(rec))
        if not result.ok:
            why = [f"status {result.status}: {result.reason or 'not scored'}"]
        else:
            why = _failed_rules(result, rules)
        for reason in why:
            counts[_rule_name(reason)] += 1
        if why:
            rejected.append((dict(rec), "; ".join(why)))
        else:
            kept.append(dict(rec))
            counts["kept"] += 1
    return FilterOutcome(kept, rejected, counts)


def _row(rec: Mapping[str, Any], rejected_by: str) -> dict[str, Any]:
    """A manifest row: the path and audio as the scorer resolved them (absolute, so the file
    works from any folder), the id and group, and the numbers."""
    result = VideoResult.from_dict(dict(rec))
    ident = rec.get("input_identity") or {}
    audio_ident = ident.get("audio") or {}
    audio = audio_ident.get("path") or (result.provenance or {}).get("audio_path") or ""
    return {
        "path": ident.get("path") or os.path.abspath(result.path),
        "audio": audio,
        "id": result.id or "",
        "group": result.group or "",
        "status": result.status,
        "lse_d": "" if result.lse_d is None else f"{result.lse_d:.6f}",
        "lse_c": "" if result.lse_c is None else f"{result.lse_c:.6f}",
        "av_offset": "" if result.av_offset is None else result.av_offset,
        "num_windows": _windows(result) or "",
        "flags": " ".join(f for f in FLAGS if f in result.flags),
        "rejected_by": rejected_by,
    }


def manifest_text(rows: Sequence[tuple[Mapping[str, Any], str]]) -> str:
    """CSV text of ``(record, rejected_by)`` pairs in :data:`MANIFEST_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(_row(rec, why) for rec, why in rows)
    return buf.getvalue()
