"""The run driver: many inputs in, one record each out, whatever the executor.

:func:`run_inputs` is the only driver. Every command that scores (``score``, ``fix``,
``visualise``, ``speakers``, ``selftest``) goes through it, with the local executor or any
other from the registry. What it guarantees, for every executor:

- **Inputs first**: each input is pre-checked (missing files, pipes, discovery errors) before
  any weights are looked for, so a typo'd path is reported as such, never as a download
  failure; weights are resolved and hashed once (``scorer.prepare_run``).
- **Every input recorded once**: a record per input, stamped here with the input's ``id``,
  ``group``, reference band (``bands``), identity and the configuration hash; a second record
  of an input (an executor retried it) is ignored; an input an executor never returned is
  recorded as ``lost``.
- **One log, one order**: each record is appended to the JSONL log as soon as it finishes
  (completion order), so a run killed at any moment keeps every finished record; returned
  outcomes, JSON, CSV and Parquet outputs are in input order.
- **Resume**: an input's latest earlier record (log, and Parquet output) is reused when it has
  the input's identity and the configuration hash, unless ``retry_failed`` retries it (the
  log is first rewritten without the failures, atomically) or it timed out under a smaller
  limit (``records.reusable``).
- **Stops**: one run at a time per output (a lock file ``.NAME.lock`` beside it); SIGTERM stops
  like Ctrl-C; either way the log keeps what finished, a Parquet output is written with it,
  and the warning says how many inputs are recorded and that rerunning resumes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
from dataclasses import replace
import logging
import os
from pathlib import Path
import signal
import sys
import threading
from typing import Any

import numpy as np

from ..bands import band_record
from ..errors import ConfigError
from ..inputs import LABEL_COLUMNS, BatchInput, input_identity
from ..io import (
    JsonlLog,
    LogLock,
    atomic_write_text,
    iter_jsonl,
    jsonl_line,
    read_jsonl_at,
    remove_stale_temp_files,
)
from ..measures import VideoInputs, get_measure
from ..parquet import ParquetSink, iter_parquet_records, require_pyarrow, row_record
from ..types import VideoResult
from . import DEFAULT_EXECUTOR, ExecContext, Executor, create_executor
from .plan import BatchConfig, ResolvedRun, RunConfig, RunHooks, RunOutputs
from .records import (
    RETRY_STATUSES,
    BatchEvent,
    BatchOutcome,
    BatchRecord,
    RecordIndex,
    record_problem,
)
from .scorer import crops_names, lost, precheck, prepare_run

__all__ = [
    "StoppedBySignal",
    "check_outputs",
    "check_run",
    "run_inputs",
    "score_one",
    "sigterm_stops_the_run",
    "slim",
]

log = logging.getLogger(__name__)


def check_outputs(run: RunConfig, outputs: RunOutputs) -> None:
    """Options that need an output to resume from.

    Raises:
        ConfigError: ``--resume`` or ``--retry-failed`` without a log or Parquet output.
    """
    if outputs.resumable:
        return
    if run.resume:
        raise ConfigError(
            "--resume needs earlier records to resume from: add -o FILE.jsonl (or -o FILE.parquet)"
        )
    if run.retry_failed:
        raise ConfigError(
            "--retry-failed retries the failures recorded in -o FILE.jsonl (or -o FILE.parquet)"
        )


def check_run(config: BatchConfig, run: RunConfig, outputs: RunOutputs, executor: Executor) -> None:
    """The checks a run makes before any work, in one place (the driver makes them; a command
    makes them earlier to refuse bad usage before collecting its inputs): options that need an
    output to resume from, settings the executor cannot honour, pyarrow for a Parquet output.

    Raises:
        ConfigError: bad usage (the command line exits 2).
        DependencyError: pyarrow missing for a Parquet output, or what the executor needs.
    """
    check_outputs(run, outputs)
    executor.check(config, run)
    if outputs.parquet is not None:
        require_pyarrow()


def run_inputs(
    inputs: Sequence[BatchInput],
    config: BatchConfig,
    run: RunConfig | None = None,
    *,
    executor: Executor | None = None,
    outputs: RunOutputs | None = None,
    hooks: RunHooks | None = None,
) -> BatchOutcome:
    """Score every input; one record each, in input order, whatever happens to it.

    Args:
        inputs: the inputs, in output order.
        config: how to score them.
        run: how the run goes (resume, identity, streams).
        executor: where to score, with its own options (default: the local executor, in this
            process: ``create_executor("local", LocalOptions(workers=4, timeout_s=600))``).
        outputs: the JSONL log and the Parquet file, and whether full records come back.
        hooks: what the run tells its caller as it goes (progress, stages, log level of
            workers, download progress bars).

    Returns:
        A ``BatchOutcome``.

    Raises:
        ModelWeightsError, ConfigError, DependencyError: problems that affect every input.
        OutputError: another run holds an output, or it cannot be written.
    """
    run = run or RunConfig()
    outputs = outputs or RunOutputs()
    hooks = hooks or RunHooks()
    executor = executor or create_executor(DEFAULT_EXECUTOR)
    check_run(config, run, outputs, executor)
    with contextlib.ExitStack() as stack:
        for path in outputs.locked():
            stack.enter_context(LogLock(path))
        for path in {*outputs.locked(), *filter(None, [outputs.journal])}:
            remove_stale_temp_files(path)  # left by a write that was killed (kill -9)
        stack.enter_context(sigterm_stops_the_run())
        driver = _Driver(inputs, config, run, outputs, hooks)
        return driver.go(executor)


def score_one(
    item: BatchInput, config: BatchConfig, *, hooks: RunHooks | None = None
) -> BatchRecord:
    """One input's record, through the driver (pre-check, weights resolved once with their
    notice, the configuration hash, a record whatever happens)."""
    return run_inputs([item], config, hooks=hooks).records[0]


class StoppedBySignal(KeyboardInterrupt):
    """SIGTERM stopped the run, as Ctrl-C does; ``signum`` lets the command exit with
    ``128 + signum`` (143), as a process killed by it would."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def sigterm_stops_the_run() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (``StoppedBySignal``), as Ctrl-C does: workers are
    stopped and every finished record is kept before the process exits (only where signals
    can be set). Either waits while a record is being written (``_stops_deferred``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        if _DEFERRAL.depth:
            _DEFERRAL.pending = signum
            return
        raise _stop(signum)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Deferral:
    """A stop that arrived while a record was being written, raised once it is."""

    depth = 0
    pending: int | None = None


_DEFERRAL = _Deferral()


def _stop(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else StoppedBySignal(signum)


@contextlib.contextmanager
def _stops_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM (as :func:`sigterm_stops_the_run` handles them) wait while a record
    is written and counted: a stop never leaves a record in the log that the run's Parquet
    output and its count leave out."""
    _DEFERRAL.depth += 1
    try:
        yield
    finally:
        _DEFERRAL.depth -= 1
    if _DEFERRAL.depth == 0 and _DEFERRAL.pending is not None:
        signum, _DEFERRAL.pending = _DEFERRAL.pending, None
        raise _stop(signum)


def slim(record: BatchRecord) -> BatchRecord:
    """What a summary and a table need: per-window curves, provenance and timings dropped
    (a million full records would not fit in memory)."""
    r = record.result
    tracks = [
        replace(
            t,
            dist_by_shift=[],
            framewise_conf=[],
            framewise_time_s=None,
            smoothed_center_x=None,
            smoothed_center_y=None,
            smoothed_half_size=None,
        )
        for t in r.tracks
    ]
    result = replace(r, tracks=tracks, scenes=None, provenance={}, timings_s={})
    return replace(record, result=result)


def _keep_all(record: BatchRecord) -> BatchRecord:
    return record


def _stamped(result: VideoResult, item: BatchInput) -> VideoResult:
    """``result`` with its input's ``id``, ``group``, ``dataset``'s reference band, the
    manifest's ``owner`` (the ``owner`` measure's ``owner_expected``) and how it was generated
    (the manifest's leakage labels: the ``leakage`` measure's values)."""
    measures = {k: v for k, v in result.measures.items() if k not in LABEL_COLUMNS}
    if item.owner is not None:
        measures = {**measures, "owner_expected": item.owner}
    labels = get_measure("leakage").compute_video(
        VideoInputs(str(item.path), options=dict(item.labels))
    )
    return replace(
        result,
        id=item.id,
        group=item.group,
        reference_band=band_record(item.dataset),
        measures={**measures, **labels},
    )


class _Driver:
    """One run's state: records by input index, where each can be read again, the log."""

    def __init__(
        self,
        inputs: Sequence[BatchInput],
        config: BatchConfig,
        run: RunConfig,
        outputs: RunOutputs,
        hooks: RunHooks,
    ) -> None:
        if config.save_crops is not None:
            inputs = [
                replace(i, crops_name=n) for i, n in zip(inputs, crops_names(inputs), strict=True)
            ]
        self.inputs = list(inputs)
        self.config = config
        self.run = run
        self.outputs = outputs
        self.hooks = hooks
        self.keep = _keep_all if outputs.keep_records else slim
        self.records: list[BatchRecord | None] = [None] * len(self.inputs)
        self.locations: dict[int, tuple[str, int]] = {}
        self.identities: list[dict[str, Any]] = []
        self.digest = ""
        self.timeout_s: float | None = None
        self.done = 0
        self.log: JsonlLog | None = None

    def go(self, executor: Executor) -> BatchOutcome:
        hooks = self.hooks
        self.timeout_s = executor.timeout_s
        reference = self.config.needs_reference
        refused = [precheck(i, self.config.recipe, reference=reference) for i in self.inputs]
        if any(r is None for r in refused):
            resolved = prepare_run(self.config, hooks.download_progress)
        else:  # nothing to score: no weights looked for
            resolved = ResolvedRun(None, None, "")
        self.digest = resolved.config_hash
        self.identities = [input_identity(item, self.run.identity) for item in self.inputs]
        resume = self.run.resume is not False
        num_resumed = self._resume() if resume else 0
        if num_resumed:
            log.info("resuming: %d of %d inputs already recorded", num_resumed, len(self.inputs))
        if hooks.on_start is not None:
            hooks.on_start(len(self.inputs), num_resumed)
        journal = self.outputs.journal
        stopped = False
        try:
            if journal is not None:
                self.log = JsonlLog(journal, truncate=not resume)
            context = ExecContext(
                self.config, self.run, resolved, hooks.worker_log_level, hooks.stage_hook
            )
            self._score(executor, refused, context)
        except KeyboardInterrupt:
            stopped = True
            self._say_stopped(journal)
            raise
        finally:
            self._close(journal, stopped, ended=stopped or sys.exc_info()[0] is None)
        final = [r for r in self.records if r is not None]
        assert len(final) == len(self.inputs)
        return BatchOutcome(final, self.digest, num_resumed)

    def _score(
        self, executor: Executor, refused: list[VideoResult | None], context: ExecContext
    ) -> None:
        """Record the refused inputs, then everything the executor scores, then ``lost``
        records for inputs it never returned (every input is recorded once)."""
        for index, failure in enumerate(refused):
            if failure is not None and self.records[index] is None:
                self.add(index, failure)
        jobs = [(i, item) for i, item in enumerate(self.inputs) if self.records[i] is None]
        if jobs:
            source = executor.results(jobs, context)
            try:
                for index, result in source:
                    self.add(index, result)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
        for index, item in jobs:
            if self.records[index] is None:
                self.add(index, lost(item, self.config.recipe))

    def _close(self, journal: Path | None, stopped: bool, ended: bool) -> None:
        """Close the log; a Parquet output is written when the run ended or was stopped (after
        any other failure it stays as it was: the log has the new records)."""
        if self.log is not None:
            self.log.close()
        if self.outputs.parquet is not None and journal is not None and ended:
            self._write_parquet(self.outputs.parquet, journal)
            if self.outputs.log is None and not stopped:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(journal)

    def add(self, index: int, result: VideoResult) -> None:
        """Stamp and keep the record of input ``index`` (the first one only), log it, say so."""
        if self.records[index] is not None:
            return  # an executor retried it (a block re-run after its actor died)
        item = self.inputs[index]
        record = BatchRecord(_stamped(result, item), self.identities[index], self.digest)
        with _stops_deferred():  # a record in the log is a record of the run (Parquet too)
            if self.log is not None:
                self.locations[index] = ("log", self.log.append(record.to_dict()))
            self.records[index] = self.keep(record)
            self.done += 1
        if self.hooks.on_record is not None:
            self.hooks.on_record(BatchEvent(index, self.done, len(self.inputs), record))

    def _resume(self) -> int:
        """Take each input's reusable earlier record; how many were taken."""
        earlier = RecordIndex()
        parquet = self.outputs.parquet
        if parquet is not None and parquet.is_file():
            for row, rec in enumerate(iter_parquet_records(parquet)):
                earlier.add(rec, "parquet", row)
        journal = self.outputs.journal
        if journal is not None and journal.is_file():
            if self.run.retry_failed:
                _drop_retryable(journal)
            for offset, rec in iter_jsonl(journal, repair=True, check=record_problem):
                earlier.add(rec, "log", offset)
        taken = 0
        for index, item in enumerate(self.inputs):
            # A refused input's record is reused too while nothing changed (a file that
            # appears since has another identity, so it is scored then).
            found = earlier.find(
                self.identities[index],
                item.id,
                self.digest,
                timeout_s=self.timeout_s,
                retry_failed=self.run.retry_failed,
            )
            if found is None:
                continue
            try:
                old = BatchRecord.from_dict(found.record)
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("%s: unusable earlier record (%s); scoring again", item.path, exc)
                continue
            result = _stamped(old.result, item)
            self.records[index] = self.keep(
                BatchRecord(result, self.identities[index], self.digest, resumed=True)
            )
            self.locations[index] = (found.source, found.position)
            taken += 1
        self.done = taken
        return taken

    def _say_stopped(self, journal: Path | None) -> None:
        total = len(self.inputs)
        if journal is None:
            log.warning(
                "stopped: %d of %d inputs were done; nothing was kept (add -o "
                "FILE.jsonl to keep records as they finish)",
                self.done,
                total,
            )
            return
        where = self.outputs.log or self.outputs.parquet
        log.warning(
            "stopped: %d of %d inputs are recorded in %s; run the same command again to "
            "resume (the rest are scored then)",
            self.done,
            total,
            where,
        )

    def _write_parquet(self, path: Path, journal: Path) -> None:
        """Every recorded input's full record, in input order, read back from the log or the
        earlier Parquet file (a run stopped early writes what it has)."""
        earlier = (
            _ParquetRows(path) if any(s == "parquet" for s, _ in self.locations.values()) else None
        )
        sink = ParquetSink(path)
        try:
            for index, record in enumerate(self.records):
                if record is None:
                    continue
                where = self.locations.get(index)
                if where is None:
                    rec = record.to_dict()
                elif where[0] == "log":
                    rec = read_jsonl_at(journal, where[1])
                else:
                    assert earlier is not None
                    rec = earlier.record(where[1])
                rec["from_log"] = record.resumed
                sink.append(rec)
        except BaseException:
            sink.discard()
            raise
        sink.close()


def _drop_retryable(journal: Path) -> None:
    """Rewrite the log (atomically) without its records of inputs that could not be scored
    (``RETRY_STATUSES``): they are scored again, and their new records appended."""
    logged = [rec for _, rec in iter_jsonl(journal, repair=True)]
    kept = [rec for rec in logged if rec.get("status") not in RETRY_STATUSES]
    if len(kept) < len(logged):
        log.info("%s: scoring %d failed inputs again", journal, len(logged) - len(kept))
        atomic_write_text(journal, "".join(jsonl_line(rec) for rec in kept))


class _ParquetRows:
    """Rows of a Parquet results file by row number, one row group cached."""

    def __init__(self, path: Path) -> None:
        pq = require_pyarrow()
        self._file = pq.ParquetFile(path)
        meta = self._file.metadata
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self._starts = np.cumsum([0, *sizes])
        self._group = -1
        self._rows: list[dict[str, Any]] = []

    def record(self, row: int) -> dict[str, Any]:
        group = int(np.searchsorted(self._starts, row, side="right") - 1)
        if group != self._group:
            self._rows = self._file.read_row_group(group).to_pylist()
            self._group = group
        return row_record(self._rows[row - int(self._starts[group])])
