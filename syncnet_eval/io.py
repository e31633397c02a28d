"""Files: results (JSON documents, CSV rows, the JSONL log, Parquet) and detections; hashing.

Every file is written atomically (a temporary file beside it, then a rename).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import logging
import os
from pathlib import Path
import re
import tempfile
from typing import Any, BinaryIO

import numpy as np

from .bands import BANDS, band_record
from .engines.records import latest_records, record_problem
from .errors import DependencyError, InputError, OutputError, OutputWriteError
from .measures import (
    REGISTRY,
    Field,
    csv_value,
    parse_csv_value,
    track_fields,
    video_values,
)
from .parquet import iter_parquet_records, write_parquet
from .stats import BatchSummary
from .types import SCHEMA_VERSION, TrackResult, VideoResult
from .version import __version__

__all__ = [
    "CSV_COLUMNS",
    "TRACK_CSV_COLUMNS",
    "csv_columns",
    "JsonlLog",
    "LogLock",
    "atomic_write_bytes",
    "atomic_write_text",
    "csv_text",
    "file_sha256",
    "iter_jsonl",
    "jsonl_line",
    "load_detections",
    "load_records",
    "load_results",
    "new_file_mode",
    "read_jsonl",
    "read_jsonl_at",
    "remove_stale_temp_files",
    "results_document",
    "save_detections",
    "sha256_or_none",
    "temp_file",
    "spreadsheet_safe",
    "spreadsheet_text",
    "write_results",
]

log = logging.getLogger(__name__)

_VIDEO_COLUMNS = (
    "path",
    "id",
    "group",
    "status",
    "reason",
    "recipe",
    "aggregate",
    "av_offset",
    "lse_d",
    "lse_c",
    "num_tracks",
    "warnings",
)
# Columns added later go at the end, so that earlier columns keep their positions.
_ADDED_COLUMNS = ("flags", "reason_code", "av_offset_ms", "selected_track")
_LATER_COLUMNS = ("track_select",)
# The reference band's dataset (bands.py); the measures' columns follow (measure_columns).
_BAND_COLUMNS = ("reference_dataset",)
# ``--per-track``: the video columns, then one track's numbers (empty for unscored videos).
_TRACK_CORE = (
    "track_index",
    "track_first_frame",
    "track_last_frame",
    "track_av_offset",
    "track_lse_d",
    "track_lse_c",
    "track_num_windows",
)
_TRACK_LATER = (
    "track_selected",
    "track_start_s",
    "track_end_s",
    "track_speaking_judge",
    "track_speaking_fraction",
)


def _video_measure_fields() -> list[Field]:
    """The per-video measure columns: every video measure's fields, and the video's value of
    each track measure field that has one (``Field.video_column``), in registry order."""
    return [f for spec in REGISTRY.values() for f in spec.column_fields()]


def csv_columns(*, per_track: bool = False) -> tuple[str, ...]:
    """The CSV columns (from the measures registry: a measure registered later adds its own)."""
    video = [f.name for f in _video_measure_fields()]
    if not per_track:
        return (*_VIDEO_COLUMNS, *_ADDED_COLUMNS, *_LATER_COLUMNS, *_BAND_COLUMNS, *video)
    track = [f"track_{f.name}" for f in track_fields() if f.in_csv]
    return (
        *_VIDEO_COLUMNS,
        *_TRACK_CORE,
        *_ADDED_COLUMNS,
        *_TRACK_LATER[:3],
        *_LATER_COLUMNS,
        *_TRACK_LATER[3:],
        *_BAND_COLUMNS,
        *video,
        *track,
    )


# The columns with the registry's built-in measures (csv_columns() follows the registry).
CSV_COLUMNS = csv_columns()
TRACK_CSV_COLUMNS = csv_columns(per_track=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode a plain ``open`` gives a new file: 0666 less the umask. Temporary files (0600)
    that are renamed into place get it, so every output follows the umask."""
    return 0o666 & ~_umask()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path``, fsync, then rename over it.

    The file gets the mode a plain ``open`` would (0666 less the umask). Text is UTF-8; file
    names that are not valid UTF-8 (surrogate escapes) are written as their original bytes.

    Raises:
        OutputError: naming ``path`` (not the temporary file) when it cannot be written.
    """
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))


# ``tempfile.mkstemp``'s names: prefix, eight of these characters, suffix.
_TEMP_NAME_CHARS = "[a-z0-9_]{8}"


def temp_file(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (``.NAME.XXXXXXXX.tmp``), open and locked
    (``flock``) for as long as its descriptor is: :func:`remove_stale_temp_files` leaves a
    temporary file alone while its writer lives.

    Raises:
        OSError: it cannot be created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:  # not removed as stale between creation and lock
            return fd, tmp
        os.close(fd)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove the temporary files a killed write of ``path`` left beside it: names of the
    form ``.NAME.XXXXXXXX.tmp`` (:func:`temp_file`) that no living writer holds locked.
    Nothing else is touched; a file that cannot be removed is left as it is.

    Returns:
        The files removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{_TEMP_NAME_CHARS}\.tmp")
    try:
        names = [e.name for e in os.scandir(path.parent) if pattern.fullmatch(e.name)]
    except OSError:
        return []
    removed = []
    for name in names:
        stale = path.parent / name
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not os.path.islink(stale) and os.path.samestat(os.fstat(fd), os.stat(stale)):
                os.unlink(stale)
                removed.append(stale)
        except OSError:
            continue  # a writer holds it (BlockingIOError), or it went meanwhile
        finally:
            os.close(fd)
    if removed:
        log.info("%s: removed %d temporary files of an interrupted write", path, len(removed))
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """:func:`atomic_write_text` for bytes (images, for example). Temporary files that an
    earlier write of ``path`` left when it was killed are removed first.

    Raises:
        OutputWriteError: naming ``path`` (not the temporary file) when it cannot be written.
    """
    path = Path(path)
    try:
        fd, tmp = temp_file(path)
    except OSError as exc:
        raise OutputWriteError(f"{path}: cannot write it ({exc.strerror or exc})") from exc
    remove_stale_temp_files(path)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # still locked: no cleanup takes it first
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputWriteError(f"{path}: cannot write it ({exc.strerror or exc})") from exc
        raise
    finally:
        os.close(fd)


def results_document(
    results: Sequence[VideoResult],
    summary: BatchSummary | None = None,
    extras: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON contract: schema version, tool, results (and summary when given).

    ``extras[i]`` (for example a batch's ``input_identity`` and ``config_hash``) is merged into
    the dict of ``results[i]``; ``VideoResult.from_dict`` ignores such keys.
    """
    records = [r.to_dict() for r in results]
    if extras is not None:
        for rec, extra in zip(records, extras, strict=True):
            rec.update(extra)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "syncnet-eval", "version": __version__},
        "results": records,
    }
    if summary is not None:
        doc["summary"] = summary.to_dict()
    return doc


def _csv_row(result: VideoResult) -> dict[str, Any]:
    band = result.reference_band or {}
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
        "flags": " ".join(result.flags),
        "reason_code": result.reason_code or "",
        "av_offset_ms": "" if result.av_offset_ms is None else result.av_offset_ms,
        "selected_track": "" if result.selected_track is None else result.selected_track,
        "track_select": result.track_select or "",
        "reference_dataset": band.get("dataset") or "",
        **_measure_cells(result),
    }


def _measure_cells(result: VideoResult) -> dict[str, Any]:
    """The video's value of every per-video measure column (:func:`csv_columns`)."""
    cells: dict[str, Any] = {}
    for spec in REGISTRY.values():
        values = video_values(result, spec)
        for f in spec.column_fields():
            cells[f.name] = csv_value(f, values.get(f.name))
    return cells


def _measure_fields(row: dict[str, str]) -> dict[str, Any]:
    """``reference_band`` and the video measures' values of a CSV row: the provenance ones
    (codec) under ``provenance``, the others under ``measures``."""
    found: dict[str, Any] = {}
    dataset = row.get("reference_dataset") or None
    if dataset in BANDS:
        found["reference_band"] = band_record(dataset)
    homes: dict[str, dict[str, Any]] = {"provenance": {}, "record": {}}
    for spec in REGISTRY.values():
        for f in spec.column_fields():
            value = parse_csv_value(f, row.get(f.name))
            if value is not None:
                homes[spec.home][f.name] = value
    if homes["provenance"]:
        found["provenance"] = homes["provenance"]
    if homes["record"]:
        found["measures"] = homes["record"]
    return found


def _track_rows(result: VideoResult) -> list[dict[str, Any]]:
    base = _csv_row(result)
    if not result.tracks:
        return [{**base, **{c: "" for c in csv_columns(per_track=True) if c not in base}}]
    return [
        {
            **base,
            "track_index": t.index,
            "track_first_frame": t.first_frame,
            "track_last_frame": t.last_frame,
            "track_av_offset": t.av_offset,
            "track_lse_d": f"{t.lse_d:.6f}",
            "track_lse_c": f"{t.lse_c:.6f}",
            "track_num_windows": t.num_windows,
            "track_selected": int(t.index == result.selected_track),
            "track_start_s": "" if t.start_s is None else f"{t.start_s:.3f}",
            "track_end_s": "" if t.end_s is None else f"{t.end_s:.3f}",
            "track_speaking_judge": t.speaking_judge or "",
            "track_speaking_fraction": (
                "" if t.speaking_fraction is None else f"{t.speaking_fraction:.4f}"
            ),
            **{
                f"track_{f.name}": csv_value(f, t.value(f.name)) for f in track_fields() if f.in_csv
            },
        }
        for t in result.tracks
    ]


# A text cell starting with one of these is run as a formula by spreadsheets (OWASP, "CSV
# injection"); a leading quote is how a cell says "text" to them.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a ``'`` before a text cell that starts with
    ``= + - @``, a tab or a carriage return (and before one that starts with ``'`` itself, so
    that :func:`spreadsheet_text` undoes it exactly); numbers, also as text, stay as they are."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith("'") or (value.startswith(_FORMULA_STARTS) and not _is_number(value)):
        return "'" + value
    return value


def spreadsheet_text(cell: str) -> str:
    """The text :func:`spreadsheet_safe` was given (its one leading ``'`` removed)."""
    return cell[1:] if cell.startswith("'") else cell


def csv_text(results: Sequence[VideoResult], *, per_track: bool = False) -> str:
    """One row per video with fixed columns, or with ``per_track`` one row per face track.

    Text cells are made safe to open in a spreadsheet (:func:`spreadsheet_safe`); reading the
    file back (:func:`load_results`) undoes it.
    """
    buf = io.StringIO()
    columns = csv_columns(per_track=per_track)
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for r in results:
        rows = _track_rows(r) if per_track else [_csv_row(r)]
        writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def write_results(
    path: Path,
    results: Sequence[VideoResult],
    summary: BatchSummary | None = None,
    *,
    per_track: bool = False,
    extras: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Write results as JSON (``.json``), CSV (``.csv``) or Parquet (``.parquet``), atomically.

    Args:
        path: output file; the suffix picks the format.
        results: records in output order.
        summary: stored under ``summary`` in JSON (CSV and Parquet have no place for it).
        per_track: CSV with one row per track instead of one per video.
        extras: per-record keys merged into the JSON and Parquet records (see
            ``results_document``).

    Raises:
        OutputError: the file cannot be written.
        DependencyError: Parquet without pyarrow.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        atomic_write_text(path, csv_text(results, per_track=per_track))
    elif suffix == ".parquet":
        write_parquet(path, results_document(results, None, extras)["results"])
    else:
        doc = results_document(results, summary, extras)
        atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


def jsonl_line(record: Mapping[str, Any]) -> str:
    """One JSONL log line (compact JSON and a newline; never a bare NaN)."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"


# Why a parsed line is not what the reader wants (``None``: it is), e.g. records.record_problem.
LineCheck = Callable[[Mapping[str, Any]], "str | None"]


def read_jsonl(
    path: Path, *, repair: bool = False, check: LineCheck | None = None
) -> list[dict[str, Any]]:
    """Records of a JSONL log, one JSON object per newline-terminated line.

    A last line without its newline is what a run killed mid-write leaves; it is ignored, and
    with ``repair`` the file is truncated after the last newline so appends start clean. A
    complete line that does not parse is skipped with a warning.

    Args:
        path: the log.
        repair: truncate a partial last line in place.
        check: says why a parsed object is not a record; such a line is skipped with one
            warning naming the file and line number.

    Returns:
        The parsed records in file order (empty for a missing file).
    """
    return [rec for _, rec in iter_jsonl(path, repair=repair, check=check)]


def iter_jsonl(
    path: Path, *, repair: bool = False, check: LineCheck | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(byte offset, record)`` of each line of a JSONL log, read one line at a time.

    Same rules as :func:`read_jsonl` (a partial last line is ignored, or with ``repair`` cut
    off first; ``check`` skips lines that are not records, with a warning); the offset lets a
    caller read one record again later without keeping it.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; the file may not exist
    except FileNotFoundError:
        return
    with fh:
        size = os.fstat(fh.fileno()).st_size
        end = _complete_lines_end(fh, size)
        if end < size:
            log.warning(
                "%s: ignoring a partial last record (%d bytes; an interrupted run)",
                path,
                size - end,
            )
            if repair:
                os.truncate(path, end)
        fh.seek(0)
        offset = 0
        for lineno, line in enumerate(iter(fh.readline, b""), start=1):
            if offset + len(line) > end:
                break
            rec = _parse_line(path, lineno, line)
            problem = None if rec is None or check is None else check(rec)
            if problem is not None:
                log.warning(
                    "%s:%d: skipping a line that is not a record (%s)", path, lineno, problem
                )
            elif rec is not None:
                yield offset, rec
            offset += len(line)


def _complete_lines_end(fh: BinaryIO, size: int) -> int:
    """Bytes up to and including the file's last newline."""
    block = 1 << 16
    pos = size
    while pos > 0:
        start = max(0, pos - block)
        fh.seek(start)
        data = fh.read(pos - start)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def _parse_line(path: Path, lineno: int, line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        log.warning("%s:%d: skipping a line that is not JSON", path, lineno)
        return None
    if not isinstance(rec, dict):
        log.warning("%s:%d: skipping a line that is not a JSON object", path, lineno)
        return None
    return rec


def read_jsonl_at(path: Path, offset: int) -> dict[str, Any]:
    """The record on the line starting at byte ``offset`` (from :func:`iter_jsonl`)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        rec = json.loads(fh.readline())
    if not isinstance(rec, dict):
        raise ValueError(f"{path}: no record at byte {offset}")
    return rec


class JsonlLog:
    """Append-only JSONL log: each record is one ``write`` of one line, then fsync.

    A kill at any moment leaves whole lines plus at most one partial last line, which
    ``read_jsonl(..., repair=True)`` cuts off.

    Args:
        path: the log file (created if missing).
        truncate: start an empty log instead of appending.
    """

    def __init__(self, path: Path, *, truncate: bool = False) -> None:
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the log ({exc.strerror or exc})") from exc

    def append(self, record: Mapping[str, Any]) -> int:
        """Write ``record`` as one line and flush it to disk.

        Returns:
            The byte offset of its line (for :func:`read_jsonl_at`; one writer per log).

        Raises:
            OutputWriteError: naming the log when the disk is full or the write fails.
        """
        if self._fd is None:
            raise ValueError(f"{self.path}: log is closed")
        line = jsonl_line(record).encode("utf-8")
        view = memoryview(line)
        try:
            offset = os.lseek(self._fd, 0, os.SEEK_END)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            raise OutputWriteError(
                f"{self.path}: cannot write the log ({exc.strerror or exc})"
            ) from exc
        return offset

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_or_none(path: str | os.PathLike[str]) -> str | None:
    """:func:`file_sha256`, or ``None`` when the file cannot be read."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def load_detections(path: Path) -> list[np.ndarray]:
    """Read ``{"frames": [[[x1, y1, x2, y2, score], ...], ...]}`` into per-frame (K, 5) arrays.

    Raises:
        InputError: when the file is not in that format.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return [np.asarray(boxes, dtype=np.float64).reshape(-1, 5) for boxes in doc["frames"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a detections file ({{'frames': [[[x1, y1, x2, y2, score], ...], ...]}}):"
            f" {exc}"
        ) from exc


def save_detections(path: Path, detections: Sequence[np.ndarray]) -> None:
    """Write per-frame boxes in the ``--detections`` format, atomically."""
    doc = {"frames": [[[float(v) for v in box] for box in dets] for dets in detections]}
    atomic_write_text(Path(path), json.dumps(doc) + "\n")


class LogLock:
    """Exclusive use of a JSONL log by one run: a lock on ``.NAME.lock`` beside it.

    The lock belongs to the file, not to the name it was given: ``.NAME.lock`` sits beside the
    log's real path (symbolic links resolved, in the name and its folders), so a second run
    writing the same log through a link is refused too. The lock file stays (empty, hidden);
    the lock goes with the process, also when it is killed.

    Raises:
        OutputError: when another process holds the log.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = Path(log_path)
        real = Path(os.path.realpath(log_path))  # the file, whichever link names it
        self.path = real.with_name(f".{real.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> LogLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot lock the log ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"{self.log_path}: another syncnet-eval run is writing this log; "
                "wait for it to finish, or give this run another -o FILE.jsonl"
            ) from None
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def load_results(path: Path) -> list[VideoResult]:
    """Read results back: a JSON document from ``score -o``, its JSONL log, its CSV, or its
    Parquet file.

    For a JSONL log the last record of each input (by ``input_identity`` path, else ``id`` and
    path) wins, so a log that accumulated re-scored inputs still counts each input once. A CSV
    (one row per video, or ``--per-track`` rows) gives the video-level fields and, per track,
    its numbers without the per-shift curves.

    Raises:
        InputError: the file is missing, unreadable or not a results file.
    """
    return [VideoResult.from_dict(r) for r in load_records(path)]


def load_records(path: Path) -> list[dict[str, Any]]:
    """The records of a results file as dicts, with the keys a batch adds (``input_identity``,
    ``config_hash``...) where the file has them; see :func:`load_results`.

    Raises:
        InputError: the file is missing, unreadable or not a results file.
    """
    path = Path(path)
    try:
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            if not path.is_file():
                raise FileNotFoundError(str(path))
            # the driver's rule, resume's too; lines that are not records are skipped (warned)
            records = latest_records(read_jsonl(path, check=record_problem))
        elif suffix == ".csv":
            records = [r.to_dict() for r in _results_from_csv(path)]
        elif suffix == ".parquet":
            if not path.is_file():
                raise FileNotFoundError(str(path))
            records = list(iter_parquet_records(path))
        else:
            doc = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
            found = doc["results"] if isinstance(doc, dict) else None
            if not isinstance(found, list):
                raise ValueError("no 'results' list")
            records = found
        for rec in records:
            VideoResult.from_dict(rec)  # every record must parse
        return records
    except DependencyError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{path}: not a syncnet-eval results file (.json from 'score -o', its .jsonl log, "
            f"its .csv or its .parquet): {exc}"
        ) from exc


def _number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def _integer(text: str) -> int | None:
    return int(text) if text not in ("", None) else None


def _results_from_csv(path: Path) -> list[VideoResult]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    rows = [
        {k: spreadsheet_text(v) if isinstance(v, str) else v for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text, newline=""))
    ]
    if rows and "status" not in rows[0]:
        raise ValueError("no 'status' column")
    videos: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        videos.setdefault((row["path"], row.get("id", "")), []).append(row)
    return [_result_from_rows(group) for group in videos.values()]


def _result_from_rows(rows: list[dict[str, str]]) -> VideoResult:
    row = rows[0]
    per_video = _measure_fields(row)
    if any(r.get("track_index") for r in rows):
        per_video.pop("measures", None)  # the tracks hold them (per-track CSV)
    offset = _number(row.get("av_offset", ""))
    tracks = [
        TrackResult(
            index=int(r["track_index"]),
            first_frame=int(r["track_first_frame"]),
            last_frame=int(r["track_last_frame"]),
            av_offset=int(r["track_av_offset"]),
            lse_d=float(r["track_lse_d"]),
            lse_c=float(r["track_lse_c"]),
            num_windows=int(r["track_num_windows"]),
            dist_by_shift=[],
            framewise_conf=[],
            start_s=_number(r.get("track_start_s", "")),
            end_s=_number(r.get("track_end_s", "")),
            speaking_judge=r.get("track_speaking_judge") or None,
            speaking_fraction=_number(r.get("track_speaking_fraction", "")),
            measures=_track_measures(r),
        )
        for r in rows
        if r.get("track_index")
    ]
    selected = row.get("selected_track", "")
    return VideoResult(
        path=row["path"],
        status=row["status"],  # type: ignore[arg-type]  # checked by VideoResult
        reason=row.get("reason") or None,
        recipe=row.get("recipe", ""),
        av_offset=None if offset is None else (int(offset) if offset.is_integer() else offset),
        lse_d=_number(row.get("lse_d", "")),
        lse_c=_number(row.get("lse_c", "")),
        aggregate=row.get("aggregate") or None,
        tracks=tracks,
        warnings=[w for w in row.get("warnings", "").split(" | ") if w],
        id=row.get("id") or None,
        group=row.get("group") or None,
        flags=row.get("flags", "").split(),
        reason_code=row.get("reason_code") or None,
        av_offset_ms=_number(row.get("av_offset_ms", "")),
        selected_track=int(selected) if selected else None,
        track_select=row.get("track_select") or None,
        **per_video,
    )


def _track_measures(row: dict[str, str]) -> dict[str, Any]:
    """The track measures' values of a ``--per-track`` CSV row."""
    found = {}
    for f in track_fields():
        value = parse_csv_value(f, row.get(f"track_{f.name}"))
        if value is not None:
            found[f.name] = value
    return found
