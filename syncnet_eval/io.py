"""Reading and writing results: JSON documents, CSV rows. Every file is written atomically."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path
import tempfile
from typing import Any

from . import __version__
from .types import SCHEMA_VERSION, VideoResult

__all__ = [
    "atomic_write_text",
    "results_document",
    "write_results",
    "read_results",
    "CSV_COLUMNS",
]

CSV_COLUMNS = (
    "path", "id", "group", "status", "reason", "recipe", "aggregate", "av_offset", "lse_d",
    "lse_c", "num_tracks", "warnings",
)  # fmt: skip


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def results_document(
    results: list[VideoResult], summary: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON contract: schema version, tool, results (and summary when given)."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "syncnet-eval", "version": __version__},
        "results": [r.to_dict() for r in results],
    }
    if summary is not None:
        doc["summary"] = summary
    return doc


def _csv_row(result: VideoResult) -> dict[str, Any]:
    return {
        "path": result.path,
        "id": result.id or "",
        "group": result.group or "",
        "status": result.status,
        "reason": result.reason or "",
        "recipe": result.recipe,
        "aggregate": result.aggregate or "",
        "av_offset": "" if result.av_offset is None else result.av_offset,
        "lse_d": "" if result.lse_d is None else f"{result.lse_d:.6f}",
        "lse_c": "" if result.lse_c is None else f"{result.lse_c:.6f}",
        "num_tracks": len(result.tracks),
        "warnings": " | ".join(result.warnings),
    }


def csv_text(results: list[VideoResult]) -> str:
    """One row per video with fixed columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in results:
        writer.writerow(_csv_row(r))
    return buf.getvalue()


def write_results(
    path: Path, results: list[VideoResult], summary: dict[str, Any] | None = None
) -> None:
    """Write results as JSON (``.json``) or CSV (``.csv``), atomically."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        atomic_write_text(path, csv_text(results))
    else:
        atomic_write_text(path, json.dumps(results_document(results, summary), indent=2) + "\n")


def read_results(path: Path) -> list[VideoResult]:
    """Read a results JSON document (or a JSONL log of records) back into ``VideoResult``s."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        return [VideoResult.from_dict(json.loads(ln)) for ln in text.splitlines() if ln.strip()]
    doc = json.loads(text)
    return [VideoResult.from_dict(r) for r in doc["results"]]
