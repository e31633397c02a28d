"""Records of a run and the rules that read earlier ones: one resume key, one "latest record
counts" rule, one retry rule, one time-limit rule. The driver, every executor and
:func:`syncnet_eval.io.load_records` use these and nothing else.

Light (no numpy or torch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import json
from typing import Any, Literal, get_args

from ..types import Status, VideoResult

__all__ = [
    "RETRY_STATUSES",
    "BatchEvent",
    "BatchOutcome",
    "BatchRecord",
    "Located",
    "REASON_CODES",
    "ReasonCode",
    "RecordIndex",
    "input_key",
    "latest_records",
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
    "non_finite_scores",  # the numbers are NaN or infinite
]
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)

# Statuses of inputs that could not be scored, which ``retry_failed`` scores again. no_face,
# too_short and no_audio describe the video itself: scoring it again gives the same answer.
RETRY_STATUSES: tuple[Status, ...] = ("decode_error", "error")


def resume_key(identity: Mapping[str, Any], digest: str) -> str:
    """What a resumed run matches an earlier record by: the input's identity (see
    ``inputs.input_identity``) and the configuration hash."""
    return json.dumps([identity, digest], sort_keys=True)


def input_key(path: Any, id: Any) -> str:
    """Which input a record is of: its resolved path and its id (manifest rows sharing a
    file are different inputs)."""
    return json.dumps([path, id])


def _record_key(rec: Mapping[str, Any]) -> str:
    ident = rec.get("input_identity") or {}
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
