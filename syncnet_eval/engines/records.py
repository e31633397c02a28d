"""Records of a run and the rules that read earlier ones: one resume key, one "latest record
counts" rule, one retry rule, one time-limit rule. The driver, every executor and
:func:`syncnet_eval.io.load_records` use these and nothing else.

Light (no numpy or torch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
import functools
import json
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..types import Status, TrackResult, VideoResult

__all__ = [
    "RETRY_STATUSES",
    "BatchEvent",
    "BatchOutcome",
    "BatchRecord",
    "ConfigChoice",
    "Located",
    "REASON_CODES",
    "ReasonCode",
    "RecordIndex",
    "choose_configuration",
    "input_key",
    "latest_records",
    "record_problem",
    "resume_key",
    "reusable",
]

# Why an input the engines themselves recorded could not be scored (a record's ``reason_code``
# with status ``error``); recipes add their own codes (``faces_too_small``...).
ReasonCode = Literal[
    "timeout",  # still running at --timeout; killed (a rerun with a larger limit retries it)
    "worker_crashed",  # its worker process or actor died while scoring it
    "lost",  # an executor returned no record for it (a bug: every input is recorded once)
    "unexpected",  # an exception no stage words (with --debug it is raised instead)
    "not_found",  # the file (or its audio file) does not exist
    "not_regular",  # a pipe, socket, device or directory
    "not_listed",  # a manifest row or scan entry that names no usable file
    "duplicate",  # another name (a symbolic link) for a file an earlier input of the run scores
    "non_finite_scores",  # the numbers are NaN or infinite
]
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)

# Statuses of inputs that could not be scored, which ``retry_failed`` scores again. no_face,
# too_short and no_audio describe the video itself: scoring it again gives the same answer.
RETRY_STATUSES: tuple[Status, ...] = ("decode_error", "error")


# The Python types of JSON values that fit a scalar annotation (bool is not a number here).
_SCALAR_TYPES: dict[Any, set[type]] = {float: {float, int}, int: {int}, str: {str}}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a record field is annotated with (lists item by item,
    track dicts field by field; dict values and ``Any`` are not looked into)."""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is Literal:
        return value in get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # an integral float is what some writers make of an int
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return _fits_list(value, get_args(hint))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is TrackResult:
        return isinstance(value, dict) and _field_problem(TrackResult, value) is None
    return True


def _fits_list(value: Any, args: tuple[Any, ...]) -> bool:
    if not isinstance(value, list):
        return False
    if args and args[0] in _SCALAR_TYPES and set(map(type, value)) <= _SCALAR_TYPES[args[0]]:
        return True  # the common case, checked at C speed (curves of thousands of windows)
    return not args or all(_fits(v, args[0]) for v in value)


def _field_problem(cls: type, rec: Mapping[str, Any]) -> str | None:
    hints = _hints(cls)
    for f in fields(cls):
        if f.name in rec and not _fits(rec[f.name], hints[f.name]):
            if f.name == "tracks" and isinstance(rec[f.name], list):
                bad = next(t for t in rec[f.name] if not _fits(t, TrackResult))
                inner = _field_problem(TrackResult, bad) if isinstance(bad, dict) else None
                return f"a track's {inner}" if inner else "'tracks' holds a non-object"
            return f"'{f.name}' is {json.dumps(rec[f.name])[:40]}"
    return None


def record_problem(rec: Mapping[str, Any]) -> str | None:
    """Why a JSON object read from a log is not a usable record (``None``: it is one): a
    missing field, an unknown status, or a field of the wrong type (``"lse_c": "high"``).
    Readers skip such a line with a warning instead of failing on it later."""
    if "status" not in rec or "path" not in rec:
        return "no 'status' or 'path'"
    problem = _field_problem(VideoResult, rec)
    if problem is not None:
        return problem
    for key in ("input_identity",):
        if rec.get(key) is not None and not isinstance(rec[key], dict):
            return f"'{key}' is not an object"
    if rec.get("config_hash") is not None and not isinstance(rec["config_hash"], str):
        return "'config_hash' is not text"
    try:
        VideoResult.from_dict(dict(rec))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return str(exc)
    return None


def resume_key(identity: Mapping[str, Any], digest: str) -> str:
    """What a resumed run matches an earlier record by: the input's identity (see
    ``inputs.input_identity``) and the configuration hash."""
    return json.dumps([identity, digest], sort_keys=True)


def input_key(path: Any, id: Any) -> str:
    """Which input a record is of: its resolved path and its id (manifest rows sharing a
    file are different inputs)."""
    return json.dumps([path, id])


def _record_key(rec: Mapping[str, Any]) -> str:
    ident = rec.get("input_identity")
    ident = ident if isinstance(ident, dict) else {}
    return input_key(ident.get("path") or rec.get("path"), rec.get("id"))


def latest_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each input's latest record (a later record of the same file and id replaces an earlier
    one), in the order the kept records were written: the rule every reader of a log follows,
    resume included."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = _record_key(rec)
        latest.pop(key, None)
        latest[key] = dict(rec)
    return list(latest.values())


def reusable(rec: Mapping[str, Any], timeout_s: float | None, retry_failed: bool) -> bool:
    """Whether a run may reuse an earlier record instead of scoring its input again.

    Not when ``retry_failed`` and it is a failure worth retrying (``RETRY_STATUSES``), nor when
    it timed out under a smaller limit than this run's (or this run has none).
    """
    if retry_failed and rec.get("status") in RETRY_STATUSES:
        return False
    if rec.get("reason_code") == "timeout":
        limit = (rec.get("provenance") or {}).get("timeout_s")
        return timeout_s is not None and isinstance(limit, int | float) and limit >= timeout_s
    return True


@dataclass(frozen=True)
class ConfigChoice:
    """Which configuration's records a reader of results counts (``check``, ``report``,
    ``filter``): every record (the default; a warning when they differ), those whose
    ``config_hash`` is ``config_hash`` (or starts with it), or with ``latest`` those of the
    configuration of the file's last record."""

    config_hash: str | None = None
    latest: bool = False


def _short(digest: str) -> str:
    return digest[:12] or "none"


def choose_configuration(
    records: list[dict[str, Any]], choice: ConfigChoice, name: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The records of the chosen configuration, and a warning to show (``None``: nothing to
    say): by default every record, with a warning when some have another ``config_hash`` than
    the last one (a stray record changes every mean); with a choice, what was left out.

    Raises:
        ValueError: a choice on records without hashes, or a hash no record has (or that
            starts several).
    """
    hashes = [str(r.get("config_hash") or "") for r in records]
    distinct = list(dict.fromkeys(h for h in hashes if h))
    latest = next((h for h in reversed(hashes) if h), "")
    if choice.config_hash is None and not choice.latest:
        if len(distinct) < 2:
            return records, None
        counts = {h: hashes.count(h) for h in distinct}
        common = max(distinct, key=lambda h: counts[h])
        found = ", ".join(
            f"{_short(h)}: {counts[h]}" + (" (the last record's)" if h == latest else "")
            for h in distinct
        )
        return records, (
            f"{name}: {len(records) - counts[common]} of {len(records)} records have another "
            f"config_hash than the most common one ({found}); all are counted: keep one "
            "configuration with --config-hash HASH or --latest-config"
        )
    if not distinct:
        raise ValueError(
            f"{name}: its records carry no config_hash (a CSV keeps none: give the .jsonl, "
            ".json or .parquet results)"
        )
    want = latest
    if not choice.latest:
        given = str(choice.config_hash)
        matches = [h for h in distinct if h.startswith(given)]
        if len(matches) != 1:
            what = "no record has" if not matches else "several configurations start with"
            raise ValueError(
                f"{name}: {what} config_hash {given} (its records have "
                f"{', '.join(map(_short, distinct))})"
            )
        want = matches[0]
    kept = [r for r, h in zip(records, hashes, strict=True) if h == want]
    left_out = len(records) - len(kept)
    note = None
    if left_out:
        note = (
            f"{name}: counting the {len(kept)} records of config_hash {_short(want)}; "
            f"{left_out} of other configurations left out"
        )
    return kept, note


@dataclass(frozen=True)
class BatchRecord:
    """A ``VideoResult`` with what resume needs to recognise it.

    Attributes:
        result: the outcome (``id`` and ``group`` set from the input).
        input_identity: see ``inputs.input_identity``.
        config_hash: hash of the configuration that produced it.
        resumed: taken from an earlier run's records rather than scored now.
    """

    result: VideoResult
    input_identity: dict[str, Any]
    config_hash: str
    resumed: bool = False

    def extras(self) -> dict[str, Any]:
        """The keys this record adds to ``result.to_dict()``; ``from_log`` says it was taken
        from an earlier run's records rather than scored now."""
        return {
            "input_identity": self.input_identity,
            "config_hash": self.config_hash,
            "from_log": self.resumed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), **self.extras()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchRecord:
        return cls(
            result=VideoResult.from_dict(dict(data)),
            input_identity=dict(data.get("input_identity") or {}),
            config_hash=str(data.get("config_hash") or ""),
        )


@dataclass(frozen=True)
class Located:
    """An earlier record and where it can be read again in full: a log line (byte offset)
    or a Parquet row (row number)."""

    record: dict[str, Any]
    source: Literal["log", "parquet"]
    position: int


class RecordIndex:
    """Each input's latest earlier record (add older sources first, see
    :func:`latest_records`)."""

    def __init__(self) -> None:
        self._by_key: dict[str, Located] = {}

    def add(self, rec: dict[str, Any], source: Literal["log", "parquet"], position: int) -> None:
        self._by_key[_record_key(rec)] = Located(rec, source, position)

    def find(
        self,
        identity: Mapping[str, Any],
        id: str | None,
        digest: str,
        *,
        timeout_s: float | None,
        retry_failed: bool,
    ) -> Located | None:
        """The record to reuse for an input, else ``None`` (score it): its latest record, if
        that has the input's identity (same content) and the run's configuration hash, and
        is :func:`reusable`."""
        found = self._by_key.get(input_key(identity.get("path"), id))
        if found is None:
            return None
        rec = found.record
        if resume_key(rec.get("input_identity") or {}, str(rec.get("config_hash"))) != resume_key(
            identity, digest
        ):
            return None
        return found if reusable(rec, timeout_s, retry_failed) else None

    def __len__(self) -> int:
        return len(self._by_key)


@dataclass(frozen=True)
class BatchEvent:
    """Progress report: ``record`` (input ``index``) just finished; ``done`` of ``total``."""

    index: int
    done: int
    total: int
    record: BatchRecord


@dataclass(frozen=True)
class BatchOutcome:
    """All records of a run in input order, and how many came from earlier records."""

    records: list[BatchRecord]
    config_hash: str
    num_resumed: int

    @property
    def results(self) -> list[VideoResult]:
        return [r.result for r in self.records]

    @property
    def failed(self) -> list[VideoResult]:
        return [r.result for r in self.records if not r.result.ok]
