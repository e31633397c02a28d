"""Results as Parquet: one row per record, for runs too large for one JSON document.

``pyarrow`` is optional (``pip install "syncnet-eval[parquet]"``); nothing here imports it until a
Parquet file is written or read. The schema (``COLUMNS``) keeps what tables are queried by as
typed columns (``status``, ``lse_d``, ``lse_c``, ``av_offset``, ``id``, ``flags``...) and the
nested parts of a record (``tracks``, ``scenes``, ``provenance``, ``timings_s``,
``input_identity``) as JSON text. ``overrides`` (JSON, null on almost every row) holds what
the columns cannot: keys added to records later, and the exact text of fields holding file
names that are not UTF-8 (Parquet strings must be; the column then shows them with U+FFFD).
Reading a row back gives the record dict that was written, key for key.

Files are written to a temporary file beside the target, in row groups as records arrive, and
renamed over it when complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
import contextlib
import fcntl
import json
import os
from pathlib import Path
import tempfile
from typing import Any

from .errors import DependencyError, OutputWriteError
from .measures import REGISTRY, Field, video_value
from .types import VideoResult

__all__ = [
    "COLUMNS",
    "INSTALL_HINT",
    "ParquetSink",
    "iter_parquet_records",
    "measure_columns",
    "record_row",
    "require_pyarrow",
    "row_record",
    "write_parquet",
]

INSTALL_HINT = 'pip install "syncnet-eval[parquet]" (or pip install pyarrow)'
# Rows buffered before a row group is written: bounds memory, keeps groups a useful size.
ROWS_PER_GROUP = 1000

# Typed columns: (name, arrow type name). Text fields may hold file names.
_TEXT = (
    "path",
    "id",
    "group",
    "status",
    "reason",
    "reason_code",
    "recipe",
    "aggregate",
    "config_hash",
    "track_select",
)
_FLOATS = ("av_offset", "av_offset_ms", "lse_d", "lse_c")
_INTS = ("selected_track", "num_tracks")
_LISTS = ("flags", "warnings")
_JSON = ("tracks", "scenes", "provenance", "timings_s", "input_identity")
_BOOLS = ("from_log",)
_OVERRIDES = "overrides"
COLUMNS: tuple[str, ...] = (*_TEXT, *_FLOATS, *_INTS, *_LISTS, *_BOOLS, *_JSON, _OVERRIDES)
_DERIVED = ("num_tracks",)  # computed from the record, not read back
_EXTRAS = ("config_hash", "from_log")  # BatchRecord keys beside the result's


def require_pyarrow() -> Any:
    """``pyarrow.parquet``, or a ``DependencyError`` saying how to install it."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DependencyError(f"Parquet files need pyarrow: {INSTALL_HINT}") from exc
    return pq


def measure_columns() -> list[tuple[Field, bool]]:
    """The measures' typed columns, in registry order, with whether each is derived (written
    from the record, never read back): every field of a video measure kept in the record, and
    the video's value of each track measure field that has a per-video column."""
    found: list[tuple[Field, bool]] = []
    for spec in REGISTRY.values():
        if spec.level == "video" and spec.home == "record":
            found += [(f, False) for f in spec.fields]
        elif spec.level == "track":
            found += [(f, True) for f in spec.column_fields()]
    return found


def _schema() -> Any:
    import pyarrow as pa

    kinds = {"float": pa.float64(), "int": pa.int64(), "text": pa.string(), "json": pa.string()}
    fields = [(n, pa.string()) for n in _TEXT]
    fields += [(n, pa.float64()) for n in _FLOATS]
    fields += [(n, pa.int64()) for n in _INTS]
    fields += [(n, pa.list_(pa.string())) for n in _LISTS]
    fields += [(n, pa.bool_()) for n in _BOOLS]
    fields += [(n, pa.string()) for n in (*_JSON, _OVERRIDES)]
    fields += [(f.name, kinds[f.kind]) for f, _ in measure_columns()]
    return pa.schema(fields, metadata={"syncnet_eval_results": "1"})


def _measure_cells(record: Mapping[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The measure columns of one record (see :func:`measure_columns`)."""
    cells: dict[str, Any] = {}
    result: VideoResult | None = None
    for f, derived in measure_columns():
        if not derived:
            value = overrides.pop(f.name, None)
        else:
            if result is None:
                result = VideoResult.from_dict(dict(record))
            value = video_value(result, f.name)
        if value is not None and f.kind == "json":
            value = json.dumps(value, allow_nan=False)
        cells[f.name] = value
    return cells


def _utf8(text: str) -> str | None:
    """``text`` if it is valid UTF-8 (no surrogate escapes of undecodable bytes), else None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _shown(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def record_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One Parquet row (``COLUMNS``) of a record dict (``BatchRecord.to_dict()`` or a
    ``VideoResult.to_dict()``)."""
    row: dict[str, Any] = {}
    overrides: dict[str, Any] = {k: v for k, v in record.items() if k not in COLUMNS}
    for name in _TEXT:
        value = record.get(name)
        if isinstance(value, str) and _utf8(value) is None:
            overrides[name] = value
            value = _shown(value)
        row[name] = value
    for name in _LISTS:
        items = list(record.get(name) or [])
        if any(_utf8(str(x)) is None for x in items):
            overrides[name] = items
            items = [_shown(str(x)) for x in items]
        row[name] = items
    for name in _FLOATS:
        value = record.get(name)
        row[name] = None if value is None else float(value)
    row["selected_track"] = record.get("selected_track")
    row["num_tracks"] = len(record.get("tracks") or [])
    row["from_log"] = record.get("from_log")
    for name in _JSON:
        row[name] = json.dumps(record[name], allow_nan=False) if name in record else None
    row.update(_measure_cells(record, overrides))
    row[_OVERRIDES] = json.dumps(overrides, allow_nan=False) if overrides else None
    return row


def row_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The record dict a Parquet row was written from (see :func:`record_row`)."""
    record: dict[str, Any] = {}
    for name in (*_TEXT, *_FLOATS, *_INTS, *_LISTS, *_BOOLS):
        if name in row and name not in _DERIVED:
            record[name] = row[name]
    offset = record.get("av_offset")
    if isinstance(offset, float) and offset.is_integer() and record.get("aggregate") != "mean":
        record["av_offset"] = int(offset)  # a track's offset is whole frames; a mean is not
    for name in _JSON:
        text = row.get(name)
        if text is not None:
            record[name] = json.loads(text)
    for f, derived in measure_columns():
        value = row.get(f.name)
        if not derived and value is not None:
            record[f.name] = json.loads(value) if f.kind == "json" else value
    if row.get(_OVERRIDES):
        record.update(json.loads(row[_OVERRIDES]))
    for name in _EXTRAS:  # a batch record's keys; a plain result has none
        if record.get(name) is None:
            record.pop(name, None)
    return record


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ParquetSink:
    """Records appended to a Parquet file as they come, committed by :meth:`close`.

    Rows go to a temporary file beside ``path`` in row groups of ``rows_per_group``;
    :meth:`close` renames it over ``path`` (the file appears whole or not at all), and
    :meth:`discard` removes it.

    Raises:
        DependencyError: without pyarrow.
        OutputWriteError: naming ``path`` when it cannot be written.
    """

    def __init__(self, path: Path, rows_per_group: int = ROWS_PER_GROUP) -> None:
        self._pq = require_pyarrow()
        self.path = Path(path)
        self.rows = 0
        self._rows_per_group = rows_per_group
        self._buffer: list[dict[str, Any]] = []
        self._schema = _schema()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            # Held (locked) until close or discard: ``io.remove_stale_temp_files`` leaves a
            # temporary file alone while its writer lives.
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd: int | None = fd
            os.chmod(tmp, 0o666 & ~_umask())
            self._tmp: Path | None = Path(tmp)
            self._writer = self._pq.ParquetWriter(tmp, self._schema, compression="zstd")
        except OSError as exc:
            raise OutputWriteError(f"{self.path}: cannot write it ({exc.strerror or exc})") from exc

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record (written with the next full row group)."""
        self._buffer.append(record_row(record))
        self.rows += 1
        if len(self._buffer) >= self._rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        import pyarrow as pa

        table = pa.Table.from_pylist(self._buffer, schema=self._schema)
        try:
            self._writer.write_table(table)
        except OSError as exc:
            raise OutputWriteError(f"{self.path}: cannot write it ({exc.strerror or exc})") from exc
        self._buffer = []

    def close(self) -> None:
        """Write what is buffered and put the file in place."""
        if self._tmp is None:
            return
        try:
            self._flush()
            self._writer.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.discard()
            raise OutputWriteError(f"{self.path}: cannot write it ({exc.strerror or exc})") from exc
        self._tmp = None
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Drop the temporary file; ``path`` is left as it was."""
        if self._tmp is None:
            return
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
        self._tmp = None
        self._unlock()


def write_parquet(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write record dicts to ``path`` atomically (see :class:`ParquetSink`)."""
    sink = ParquetSink(path)
    try:
        for record in records:
            sink.append(record)
    except BaseException:
        sink.discard()
        raise
    sink.close()


def iter_parquet_records(path: Path) -> Iterator[dict[str, Any]]:
    """The record dicts of a Parquet results file, in file order, one row group at a time.

    Raises:
        DependencyError: without pyarrow.
        OSError: the file cannot be read.
        ValueError: it is not a syncnet-eval results file.
    """
    pq = require_pyarrow()
    try:
        import pyarrow as pa

        parquet = pq.ParquetFile(path)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"not a Parquet file ({exc})") from exc
    if "status" not in parquet.schema_arrow.names:
        raise ValueError("no 'status' column")
    for group in range(parquet.num_row_groups):
        for row in parquet.read_row_group(group).to_pylist():
            yield row_record(row)
