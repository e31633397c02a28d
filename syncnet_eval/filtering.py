"""Curating a dataset by sync: split ``score`` records into kept and rejected manifests.

A view over existing records, never a re-score. Every record lands in exactly one of the two
lists; a rejected one names each rule it failed, or its status and reason. Both lists are
manifests (``path,audio,id,group,dataset`` and the numbers) that ``score --manifest`` and ``fix``
accept, so a curation can be re-run or repaired without losing ids, groups or audio overrides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
import csv
from dataclasses import dataclass
import io
import os
from pathlib import Path
from typing import Any

from .reliability import FLAGS
from .rules import Rules, is_measured, is_usable, num_windows_of
from .types import VideoResult

__all__ = [
    "MANIFEST_COLUMNS",
    "PRESETS",
    "FilterOutcome",
    "Preset",
    "filter_records",
    "manifest_text",
]

# The manifest columns score reads (``dataset``: the record's reference band), then what the
# decision was made on.
MANIFEST_COLUMNS = (
    "path",
    "audio",
    "id",
    "group",
    "dataset",
    "status",
    "lse_d",
    "lse_c",
    "av_offset",
    "num_windows",
    "flags",
    "rejected_by",
)


@dataclass(frozen=True)
class Preset:
    """A published curation rule and where it comes from."""

    rules: Rules
    source: str


PRESETS: dict[str, Preset] = {
    "latentsync": Preset(
        Rules(min_lse_c=3.0, max_abs_offset=6),
        "LatentSync's data processing pipeline (bytedance/LatentSync, preprocess/) keeps clips "
        "with SyncNet confidence (LSE-C) >= 3 and |AV offset| <= 6 frames",
    ),
}


def _failures(result: VideoResult, rules: Rules) -> list[str]:
    """Why a record is rejected (empty: kept): its status, its flags, or every limit it broke
    (:meth:`Rules.breaches`, the function ``check --per-video`` gates by)."""
    if not result.ok:
        return [f"status {result.status}: {result.reason or 'not scored'}"]
    if not (is_usable(result) or is_measured(result)):  # lmd records have no LSE numbers
        return ["status ok: non-finite scores"]
    why = [b.reason() for b in rules.breaches(result)]
    if result.flags and not rules.include_flagged:
        why.append(f"flags {','.join(result.flags)}")
    return why


@dataclass(frozen=True)
class FilterOutcome:
    """The split: records kept, records rejected with their reasons, and counts per rule."""

    kept: list[dict[str, Any]]
    rejected: list[tuple[dict[str, Any], str]]
    counts: Counter[str]


def _rule_name(reason: str) -> str:
    return reason.split(" ", 1)[0] if not reason.startswith("status") else reason.split(":")[0]


def filter_records(records: Iterable[Mapping[str, Any]], rules: Rules) -> FilterOutcome:
    """Split records (dicts from :func:`syncnet_eval.io.load_records`) by ``rules``.

    A record that was not scored (any status but ``ok``) is rejected with ``status <status>:
    <reason>``; a scored one is rejected with every rule it failed (its flags too, unless
    ``rules.include_flagged``), joined by ``; ``.
    ``counts`` has, per rule (``lse_c``, ``|av_offset|``, ``flags``, ``status no_face``...), how
    many records it rejected (a record can count under several), and ``kept``.
    """
    kept: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any], str]] = []
    counts: Counter[str] = Counter()
    for rec in records:
        why = _failures(VideoResult.from_dict(dict(rec)), rules)
        for reason in why:
            counts[_rule_name(reason)] += 1
        if why:
            rejected.append((dict(rec), "; ".join(why)))
        else:
            kept.append(dict(rec))
            counts["kept"] += 1
    return FilterOutcome(kept, rejected, counts)


def _manifest_path(recorded: str, resolved: str | None, manifest_dir: Path) -> str:
    """Where a manifest in ``manifest_dir`` finds the file a record names.

    ``recorded`` is the path as the record has it (a relative one is relative to the folder
    the run was started in); ``resolved`` its absolute form, when the run recorded one (the
    input identity). An absolute path stays absolute; a relative one stays relative, now to
    ``manifest_dir`` (the folder ``score --manifest`` resolves it against), so a dataset moved
    with its manifests still works.
    """
    if not recorded:
        return ""
    target = resolved or os.path.realpath(recorded)
    if os.path.isabs(recorded):
        return target
    try:  # from the real folder, so that '..' climbs the same folders the OS will
        return os.path.relpath(target, os.path.realpath(manifest_dir))
    except ValueError:  # another drive (Windows): no relative path exists
        return target


def _row(rec: Mapping[str, Any], rejected_by: str, manifest_dir: Path) -> dict[str, Any]:
    """A manifest row: the path and audio the scorer read (see :func:`_manifest_path`), the
    id and group, and the numbers."""
    result = VideoResult.from_dict(dict(rec))
    ident = rec.get("input_identity") or {}
    audio_ident = ident.get("audio") or {}
    audio = str((result.provenance or {}).get("audio_path") or audio_ident.get("path") or "")
    return {
        "path": _manifest_path(result.path, ident.get("path"), manifest_dir),
        "audio": _manifest_path(audio, audio_ident.get("path"), manifest_dir),
        "id": result.id or "",
        "group": result.group or "",
        "dataset": (result.reference_band or {}).get("dataset") or "",
        "status": result.status,
        "lse_d": "" if result.lse_d is None else f"{result.lse_d:.6f}",
        "lse_c": "" if result.lse_c is None else f"{result.lse_c:.6f}",
        "av_offset": "" if result.av_offset is None else result.av_offset,
        "num_windows": num_windows_of(result) or "",
        "flags": " ".join(f for f in FLAGS if f in result.flags),
        "rejected_by": rejected_by,
    }


def manifest_text(
    rows: Sequence[tuple[Mapping[str, Any], str]], *, manifest_dir: str | Path
) -> str:
    """CSV text of ``(record, rejected_by)`` pairs in :data:`MANIFEST_COLUMNS`, for a manifest
    written in ``manifest_dir`` (relative paths are written relative to it)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(_row(rec, why, Path(manifest_dir)) for rec, why in rows)
    return buf.getvalue()
