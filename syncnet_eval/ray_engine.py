"""The Ray Data engine (``score --engine ray``): the local engine's per-video function on a cluster.

Imported only for ``--engine ray``; Ray itself only when :func:`run_ray` starts
(``pip install "syncnet-eval[ray]"``). Designed around what goes wrong with media on Ray:

- **Rows are input descriptions** (index, id, path, audio, group, crops name, the input's
  identity as JSON text), never bytes or frames: decoded frames in the object store fill it
  and spill. Each actor decodes its own inputs from a filesystem every node sees at the same
  paths.
- **One scorer actor per slot** (``--actors``, ``--cpus-per-actor``, ``--gpus-per-actor``)
  builds a ``batch.Scorer`` once (models loaded once), with its own temporary folder and its
  ffmpeg children reaped whenever no input is in flight and when it shuts down.
- **Every per-input failure is a status row**, never a failed block: ``Scorer.score`` records
  bad inputs, and anything else a row raises becomes an ``error`` record. An actor that dies
  (a decoder crash, out of memory, ``ray.kill``) is restarted by Ray, which retries its block;
  an :class:`AttemptLedger` counts, per input, the starts that never finished, so an input
  in flight during a crash is scored alone next time, and one that was in flight during
  ``MAX_ATTEMPTS`` crashes is recorded as ``error`` (reason code ``worker_crashed``) instead of
  crashing actors forever. The driver keeps the first record of each input.
- **Records equal the local engine's**: the driver resolves the weights and the configuration
  hash once (``batch.prepare_run``) and every actor checks it loaded the same SyncNet file.
- **Outputs and resume**: every record is appended to a JSONL log as it arrives (``-o
  FILE.jsonl``, or a hidden ``.FILE.parquet.jsonl`` beside a Parquet output, removed once the
  Parquet file is complete); the Parquet file is written at the end (also after Ctrl-C), in
  input order, atomically. A rerun reuses the records of the log and of the Parquet file with
  the same input identity and configuration hash (``batch.resume_key``) and scores the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import contextlib
from dataclasses import dataclass, replace
import json
import logging
import math
import os
from pathlib import Path
import re
import shutil
import sys
import tempfile
import traceback
from typing import Any

import numpy as np
import torch

from . import errors, ffmpeg
from .allocator import tune_malloc
from .batch import (
    RETRY_STATUSES,
    BatchConfig,
    BatchEvent,
    BatchOutcome,
    BatchRecord,
    ResolvedRun,
    Scorer,
    crops_names,
    precheck,
    prepare_run,
    resume_key,
    sigterm_stops_the_batch,
)
from .config import RayConfig
from .errors import ConfigError, DependencyError, ModelWeightsError, SyncEvalError
from .inputs import BatchInput, input_identity
from .io import JsonlLog, LogLock, iter_jsonl, read_jsonl_at
from .logs import OneLineFormatter
from .models import weights as wm
from .parquet import ParquetSink, iter_parquet_records, require_pyarrow, row_record
from .types import VideoResult

__all__ = [
    "INSTALL_HINT",
    "MAX_ATTEMPTS",
    "AttemptLedger",
    "ScorerActor",
    "check_ray_installed",
    "engine_error",
    "import_ray",
    "input_row",
    "pool_size",
    "pool_strategy",
    "row_input",
    "run_ray",
]

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "syncnet-eval[ray]"'
# An input in flight when its actor died this many times is recorded, not scored again.
MAX_ATTEMPTS = 3
# Rows per Ray block at most: small blocks balance the load (a block is one actor task) and
# bound the work a crash repeats.
ROWS_PER_BLOCK = 16
# Ray 2.51 deprecates map_batches(concurrency=N) for compute=ActorPoolStrategy(size=N).
_COMPUTE_SINCE = (2, 51)
_TEMP_PREFIX = "actor-"


# Ray's switch for its single-machine mode (the default on macOS and Windows): every Ray
# process then listens on, and advertises, 127.0.0.1 only. Read when Ray is imported.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def check_ray_installed() -> None:
    """Raise a ``DependencyError`` saying how to install Ray Data when it is missing (without
    importing it: whether its runtime may listen beyond loopback is decided at import)."""
    import importlib.util

    for name in ("ray", "pyarrow"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise DependencyError(f"--engine ray needs Ray Data: {INSTALL_HINT}")


def import_ray(local: bool = False) -> Any:
    """The ``ray`` module with Ray Data, or a ``DependencyError`` saying how to install it.

    Args:
        local: a runtime will be started on this machine: make it listen on loopback only
            (effective when Ray is not imported yet).
    """
    check_ray_installed()
    if local and "ray" not in sys.modules:
        for key, value in LOOPBACK_ENV.items():
            os.environ.setdefault(key, value)
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data must be there, not only Ray core
    except ImportError as exc:
        raise DependencyError(f"--engine ray needs Ray Data: {INSTALL_HINT}") from exc
    return ray


def _version(text: str) -> tuple[int, int]:
    parts = [int(x) for x in re.findall(r"\d+", text)[:2]]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def pool_strategy(ray: Any, actors: int) -> dict[str, Any]:
    """``map_batches`` keywords for a pool of ``actors`` actors on the installed Ray:
    ``compute=ActorPoolStrategy(size=N)`` from Ray 2.51 on, ``concurrency=N`` before."""
    if _version(ray.__version__) >= _COMPUTE_SINCE:
        return {"compute": ray.data.ActorPoolStrategy(size=actors)}
    return {"concurrency": actors}


def pool_size(config: RayConfig, resources: dict[str, float], jobs: int) -> int:
    """Scorer actors: ``config.actors``, else as many as the cluster's CPUs (and GPUs) allow;
    never more than there are inputs to score.

    Raises:
        ConfigError: the cluster cannot hold one actor of that size.
    """
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if config.cpus_per_actor > cpus or config.gpus_per_actor > gpus:
        raise ConfigError(
            f"the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs: not enough for one actor "
            f"with --cpus-per-actor {config.cpus_per_actor:g} and --gpus-per-actor "
            f"{config.gpus_per_actor:g} (an autoscaling cluster needs one such node up)"
        )
    if config.actors is not None:
        size = config.actors
        if size * config.cpus_per_actor > cpus or size * config.gpus_per_actor > gpus:
            log.warning(
                "%d actors x %g CPUs, %g GPUs exceed the cluster's %g CPUs, %g GPUs: the pool "
                "starts those that fit and grows with the cluster",
                size, config.cpus_per_actor, config.gpus_per_actor, cpus, gpus,
            )  # fmt: skip
    else:
        size = math.floor(cpus / config.cpus_per_actor + 1e-9)
        if config.gpus_per_actor > 0:
            size = min(size, math.floor(gpus / config.gpus_per_actor + 1e-9))
    return max(1, min(size, jobs))


# -- rows -------------------------------------------------------------------------------------


def input_row(index: int, item: BatchInput, identity: dict[str, Any]) -> dict[str, Any]:
    """The dataset row of one input: its index and a JSON description (paths as text; file
    names that are not UTF-8 survive as JSON escapes)."""
    desc = {
        "path": os.fspath(item.path),
        "audio": None if item.audio_path is None else os.fspath(item.audio_path),
        "id": item.id,
        "group": item.group,
        "error": item.error,
        "crops_name": item.crops_name,
        "identity": identity,
    }
    return {"index": index, "input": json.dumps(desc)}


def row_input(text: str) -> tuple[BatchInput, dict[str, Any]]:
    """The input and its identity from a row's ``input`` (see :func:`input_row`)."""
    desc = json.loads(text)
    item = BatchInput(
        path=Path(desc["path"]),
        audio_path=None if desc["audio"] is None else Path(desc["audio"]),
        id=desc["id"],
        group=desc["group"],
        error=desc["error"],
        crops_name=desc["crops_name"],
    )
    return item, dict(desc["identity"])


# -- actors -----------------------------------------------------------------------------------


class AttemptLedger:
    """Starts of each input that never finished, and the scorer actors (a Ray actor).

    ``attempts`` tells an actor how often an input was in flight when an actor died; it
    decides whether to score it with others, alone, or record it as crashed. Actors register
    their handles (``actors``/``busy_actors`` let an operator or a test find them).
    """

    def __init__(self) -> None:
        self._unfinished: dict[int, int] = {}
        self._actors: dict[str, Any] = {}
        self._in_flight: dict[str, list[int]] = {}

    def register(self, key: str, handle: Any) -> None:
        self._actors[key] = handle
        self._in_flight[key] = []

    def attempts(self, indices: list[int]) -> list[int]:
        return [self._unfinished.get(i, 0) for i in indices]

    def begin(self, key: str, indices: list[int]) -> None:
        for i in indices:
            self._unfinished[i] = self._unfinished.get(i, 0) + 1
        self._in_flight[key] = list(indices)

    def finish(self, key: str, indices: list[int]) -> None:
        for i in indices:
            self._unfinished.pop(i, None)
        self._in_flight[key] = []

    def actors(self) -> list[Any]:
        return list(self._actors.values())

    def busy_actors(self) -> list[Any]:
        return [self._actors[k] for k, rows in self._in_flight.items() if rows]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _actor_workdir() -> Path:
    """A fresh temporary folder for this actor process; folders of dead actors on this node
    (killed before they could clean up) are removed first."""
    base = Path(tempfile.gettempdir()) / "syncnet-eval-ray"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob(f"{_TEMP_PREFIX}*"):
        pid = old.name[len(_TEMP_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-", dir=base))


def _setup_actor_logging(level: int | None) -> None:
    if level is None:
        return
    handler = logging.StreamHandler(sys.stderr)  # Ray forwards it to the driver, prefixed
    handler.setFormatter(OneLineFormatter())
    pkg = logging.getLogger("syncnet_eval")
    pkg.handlers[:] = [handler]
    pkg.setLevel(level)
    pkg.propagate = False


class ScorerActor:
    """One scorer actor (Ray Data calls it with batches of rows): a ``batch.Scorer`` built
    once, its own temporary folder, records out.

    Args:
        config: how to score.
        resolved: the weights and configuration hash the driver resolved.
        syncnet_sha256: the driver's SyncNet weights hash (every node must load that file).
        threads: torch threads.
        ledger: name of the run's :class:`AttemptLedger` actor.
        log_level: level of the package's log lines (forwarded by Ray), or None.

    Raises:
        ModelWeightsError: this node's weights file differs from the driver's.
    """

    def __init__(
        self,
        config: BatchConfig,
        resolved: ResolvedRun,
        syncnet_sha256: str,
        threads: int,
        ledger: str,
        log_level: int | None,
    ) -> None:
        import ray

        _setup_actor_logging(log_level)
        tune_malloc()
        torch.set_num_threads(threads)
        self.workdir = _actor_workdir()
        tempfile.tempdir = str(self.workdir)  # every temporary file of this actor goes here
        self.config = config
        self.config_hash = resolved.config_hash
        self.scorer = Scorer(config, resolved)
        actor_sha256 = self.scorer.pipe.syncnet_weights_sha256 or ""
        if actor_sha256 != syncnet_sha256:
            raise ModelWeightsError(
                f"{resolved.syncnet_weights}: this node's file (sha256 "
                f"{actor_sha256[:12]}...) is not the driver's "
                f"({syncnet_sha256[:12]}...); give every node the same weights at the same path"
            )
        self.ray = ray
        self.ledger = ray.get_actor(ledger)
        context = ray.get_runtime_context()
        self.key = str(context.get_actor_id())
        ray.get(self.ledger.register.remote(self.key, context.current_actor))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        indices = [int(i) for i in batch["index"]]
        rows = dict(zip(indices, (row_input(str(t)) for t in batch["input"]), strict=True))
        prior = self.ray.get(self.ledger.attempts.remote(indices))
        records: dict[int, str] = {}
        fresh: list[int] = []
        suspects: list[int] = []
        for index, attempts in zip(indices, prior, strict=True):
            if attempts >= MAX_ATTEMPTS:
                records[index] = self._record(index, rows[index], _crashed(rows[index][0], self))
            elif attempts:
                suspects.append(index)
            else:
                fresh.append(index)
        # Inputs in flight during a crash are scored one at a time: one that crashes its
        # actor again is then the only one charged.
        for group in [fresh, *([s] for s in suspects)]:
            if group:
                records.update(self._score_group(group, rows))
        return {
            "index": np.array(list(records), dtype=np.int64),
            "record": np.array(list(records.values()), dtype=object),
        }

    def _score_group(
        self, group: list[int], rows: dict[int, tuple[BatchInput, dict[str, Any]]]
    ) -> dict[int, str]:
        self.ray.get(self.ledger.begin.remote(self.key, group))
        done: dict[int, str] = {}
        to_score: list[tuple[int, BatchInput]] = []
        for index in group:
            failure = precheck(rows[index][0], self.config.recipe)
            if failure is not None:
                done[index] = self._record(index, rows[index], failure)
            else:
                to_score.append((index, rows[index][0]))
        try:
            for index, result in self.scorer.score_many(to_score):
                done[index] = self._record(index, rows[index], result)
        except Exception:  # noqa: BLE001 - only with raise_unexpected; a row, never a block
            trace = traceback.format_exc()
            for index, item in to_score:
                if index not in done:
                    done[index] = self._record(index, rows[index], _unexpected(item, self, trace))
        finally:
            ffmpeg.reap()  # nothing is in flight: no ffmpeg may outlive its input
        self.ray.get(self.ledger.finish.remote(self.key, group))
        return done

    def _record(
        self, index: int, row: tuple[BatchInput, dict[str, Any]], result: VideoResult
    ) -> str:
        item, identity = row
        record = BatchRecord(replace(result, id=item.id, group=item.group), identity,
                             self.config_hash)  # fmt: skip
        return json.dumps(record.to_dict(), allow_nan=False)

    def shutdown(self) -> None:
        """Stop the shared embedder, kill leftover ffmpeg, remove the temporary folder."""
        with contextlib.suppress(Exception):
            self.scorer.close()
        ffmpeg.reap()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __del__(self) -> None:  # Ray Data drops its actors at the end of a run
        self.shutdown()


def _crashed(item: BatchInput, actor: ScorerActor) -> VideoResult:
    return VideoResult.failure(
        str(item.path),
        actor.config.recipe,
        "error",
        f"{item.path}: its scorer actor died {MAX_ATTEMPTS} times while scoring it (a crash "
        "in a decoder, or out of memory); not tried again",
        reason_code="worker_crashed",
    )


def _unexpected(item: BatchInput, actor: ScorerActor, trace: str) -> VideoResult:
    last = trace.strip().splitlines()[-1] if trace.strip() else "unknown error"
    return VideoResult.failure(
        str(item.path), actor.config.recipe, "error", f"{item.path}: unexpected error ({last})"
    )


# -- the driver -------------------------------------------------------------------------------


def engine_error(exc: BaseException) -> SyncEvalError:
    """The error to report for a failed Ray run: the package's own error when an actor raised
    one (a node's weights differ, a device it does not have...), else a one-line summary."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        err = stack.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, SyncEvalError):
            return err
        stack += [err.__cause__, err.__context__, getattr(err, "cause", None)]
    found = re.findall(r"syncnet_eval\.errors\.(\w+): ([^\n]*)", str(exc))
    if found:
        name, message = found[-1]
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, SyncEvalError):
            return cls(message)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return SyncEvalError(f"the Ray run failed: {type(exc).__name__}: {first}")


@dataclass(frozen=True)
class _Location:
    """Where an input's record can be read again: a log line, or a Parquet row."""

    source: str  # "log" or "parquet"
    position: int  # byte offset of the line, or row number


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


def _slim(record: BatchRecord) -> BatchRecord:
    """What the summary and the table need: per-window curves, provenance and timings dropped
    (a million full records would not fit in the driver's memory)."""
    r = record.result
    tracks = [
        replace(t, dist_by_shift=[], framewise_conf=[], framewise_time_s=None,
                smoothed_center_x=None, smoothed_center_y=None, smoothed_half_size=None)
        for t in r.tracks
    ]  # fmt: skip
    result = replace(r, tracks=tracks, scenes=None, provenance={}, timings_s={})
    return replace(record, result=result)


@dataclass
class _Previous:
    """Records of earlier runs that this run reuses, by input index."""

    records: dict[int, BatchRecord]
    locations: dict[int, _Location]


def _previous_records(
    wanted: dict[str, list[int]],
    log_path: Path | None,
    parquet_path: Path | None,
    retry_failed: bool,
    keep: Callable[[BatchRecord], BatchRecord],
) -> _Previous:
    """The latest earlier record of each input of this run (Parquet first, then the log)."""
    found = _Previous({}, {})

    def take(rec: dict[str, Any], where: _Location) -> None:
        key = resume_key(rec.get("input_identity") or {}, str(rec.get("config_hash")))
        for index in wanted.get(key, ()):
            if retry_failed and rec.get("status") in RETRY_STATUSES:
                found.records.pop(index, None)
                found.locations.pop(index, None)
                continue
            try:
                old = BatchRecord.from_dict(rec)
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("unusable earlier record of input %d (%s); scoring again", index, exc)
                continue
            found.records[index] = keep(replace(old, resumed=True))
            found.locations[index] = where

    if parquet_path is not None and parquet_path.is_file():
        for row, rec in enumerate(iter_parquet_records(parquet_path)):
            take(rec, _Location("parquet", row))
    if log_path is not None:
        for offset, rec in iter_jsonl(log_path, repair=True):
            take(rec, _Location("log", offset))
    return found


@contextlib.contextmanager
def _ray_runtime(ray: Any, config: RayConfig) -> Iterator[None]:
    """Connect to ``config.ray_address`` (or ``RAY_ADDRESS``), or start a runtime on this
    machine (on loopback, see ``import_ray``) whose workers import this very package; a
    runtime already initialised (by the caller) is used as it is. Only what this function
    started is shut down."""
    if ray.is_initialized():
        yield
        return
    quiet = {"logging_level": logging.ERROR, "log_to_driver": True}
    address = config.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, **quiet)
    else:
        root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        ray.init(
            address="local",  # a new runtime, not a cluster 'ray start' left running here
            include_dashboard=False,
            runtime_env={"env_vars": {"PYTHONPATH": path}},
            **quiet,
        )
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_ray_data(ray: Any) -> None:
    """Our progress lines replace Ray Data's bars and start-up messages."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _blocks_keyword(ray: Any) -> str:
    import inspect

    params = inspect.signature(ray.data.from_items).parameters
    return "override_num_blocks" if "override_num_blocks" in params else "parallelism"


class _Run:
    """One ``run_ray`` call's state: records by input index, the log, progress."""

    def __init__(
        self,
        inputs: Sequence[BatchInput],
        on_record: Callable[[BatchEvent], None] | None,
        keep: Callable[[BatchRecord], BatchRecord],
    ) -> None:
        self.inputs = inputs
        self.records: list[BatchRecord | None] = [None] * len(inputs)
        self.locations: dict[int, _Location] = {}
        self.on_record = on_record
        self.keep = keep
        self.done = 0
        self.log: JsonlLog | None = None

    def add(self, index: int, record: BatchRecord) -> None:
        if self.records[index] is not None:
            return  # a block retried after its actor died: the first record stays
        item = self.inputs[index]
        record = replace(record, result=replace(record.result, id=item.id, group=item.group))
        if self.log is not None:
            self.locations[index] = _Location("log", self.log.append(record.to_dict()))
        self.records[index] = self.keep(record)
        self.done += 1
        if self.on_record is not None:
            self.on_record(BatchEvent(index, self.done, len(self.inputs), record))


def run_ray(
    inputs: Sequence[BatchInput],
    config: BatchConfig,
    ray_config: RayConfig,
    *,
    log_path: Path | None = None,
    parquet_path: Path | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    keep_records: bool = True,
    on_start: Callable[[int, int], None] | None = None,
    on_record: Callable[[BatchEvent], None] | None = None,
    worker_log_level: int | None = None,
    download_progress: bool = True,
) -> BatchOutcome:
    """Score every input on Ray; one record each, in input order, whatever happens to it.

    Args:
        inputs: the inputs, in output order.
        config: how to score them (``streams``: inputs each actor scores at once).
        ray_config: where and with how many actors.
        log_path: JSONL log, appended as records arrive (completion order).
        parquet_path: Parquet output, written at the end (also after Ctrl-C), atomically.
        resume: reuse earlier records of the log and the Parquet file (same input identity
            and configuration hash); without it both start afresh.
        retry_failed: with ``resume``, score again inputs whose earlier record is a
            ``decode_error`` or ``error`` (their new record is appended; the last one counts).
        keep_records: return full records (else the returned ones lack per-window curves,
            provenance and timings: enough for the summary and the table).
        on_start: called once with (total inputs, inputs taken from earlier records).
        on_record: called as each input finishes (completion order).
        worker_log_level: level of the package's log lines in the actors.
        download_progress: show a progress bar if weights must be downloaded.

    Raises:
        DependencyError: Ray Data (or, for Parquet, pyarrow) is not installed.
        ModelWeightsError, ConfigError: problems that affect every input.
        OutputError: another run holds an output, or it cannot be written.
    """
    ray = import_ray(local=not (ray_config.ray_address or os.environ.get("RAY_ADDRESS")))
    if parquet_path is not None:
        require_pyarrow()
    if config.score_config.device.startswith("cuda") and not ray_config.gpus_per_actor:
        raise ConfigError(
            f"--device {config.score_config.device} with --engine ray needs --gpus-per-actor "
            "(Ray hides the GPUs from actors that reserve none)"
        )
    journal = log_path
    if journal is None and parquet_path is not None:
        journal = parquet_path.with_name(f".{parquet_path.name}.jsonl")
    with contextlib.ExitStack() as stack:
        for path in {p for p in (log_path, parquet_path) if p is not None}:
            stack.enter_context(LogLock(path))
        stack.enter_context(sigterm_stops_the_batch())
        return _run_locked(
            ray, inputs, config, ray_config, journal=journal, own_journal=journal != log_path,
            parquet_path=parquet_path, resume=resume, retry_failed=retry_failed,
            keep_records=keep_records, on_start=on_start, on_record=on_record,
            worker_log_level=worker_log_level, download_progress=download_progress,
        )  # fmt: skip


def _run_locked(
    ray: Any,
    inputs: Sequence[BatchInput],
    config: BatchConfig,
    ray_config: RayConfig,
    *,
    journal: Path | None,
    own_journal: bool,
    parquet_path: Path | None,
    resume: bool,
    retry_failed: bool,
    keep_records: bool,
    on_start: Callable[[int, int], None] | None,
    on_record: Callable[[BatchEvent], None] | None,
    worker_log_level: int | None,
    download_progress: bool,
) -> BatchOutcome:
    resolved = prepare_run(config, download_progress)
    if config.save_crops is not None:
        inputs = [
            replace(i, crops_name=n) for i, n in zip(inputs, crops_names(inputs), strict=True)
        ]
    identities = [input_identity(item, config.identity) for item in inputs]
    wanted: dict[str, list[int]] = {}
    for index, ident in enumerate(identities):
        wanted.setdefault(resume_key(ident, resolved.config_hash), []).append(index)
    keep: Callable[[BatchRecord], BatchRecord] = (lambda r: r) if keep_records else _slim
    previous = (
        _previous_records(wanted, journal, parquet_path, retry_failed, keep)
        if resume
        else _Previous({}, {})
    )
    run = _Run(inputs, on_record, keep)
    for index, record in previous.records.items():
        run.records[index] = record
    run.locations.update(previous.locations)
    run.done = len(previous.records)
    jobs = [i for i in range(len(inputs)) if run.records[i] is None]
    if previous.records:
        log.info("resuming: %d of %d inputs already recorded", len(previous.records), len(inputs))
    if on_start is not None:
        on_start(len(inputs), len(previous.records))
    # The Parquet file is written when the run ends, or is stopped (Ctrl-C, SIGTERM) with what
    # it has; after any other failure it stays as it was (the log has the new records).
    stopped = False
    try:
        if journal is not None:
            run.log = JsonlLog(journal, truncate=not resume)
        if jobs:
            _score_on_ray(ray, config, ray_config, resolved, inputs, identities, jobs, run,
                          worker_log_level)  # fmt: skip
    except KeyboardInterrupt:
        stopped = True
        raise
    finally:
        if run.log is not None:
            run.log.close()
        ended = stopped or sys.exc_info()[0] is None
        if parquet_path is not None and journal is not None and ended:
            _write_parquet(parquet_path, journal, run, previous_parquet=parquet_path)
            if own_journal and not stopped:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(journal)
    final = [r for r in run.records if r is not None]
    assert len(final) == len(inputs)
    return BatchOutcome(final, resolved.config_hash, len(previous.records))


def _score_on_ray(
    ray: Any,
    config: BatchConfig,
    ray_config: RayConfig,
    resolved: ResolvedRun,
    inputs: Sequence[BatchInput],
    identities: list[dict[str, Any]],
    jobs: list[int],
    run: _Run,
    worker_log_level: int | None,
) -> None:
    with _ray_runtime(ray, ray_config):
        _quiet_ray_data(ray)
        actors = pool_size(ray_config, ray.cluster_resources(), len(jobs))
        ledger_name = f"syncnet-eval-ledger-{os.getpid()}-{id(run):x}"
        ledger = ray.remote(AttemptLedger).options(name=ledger_name, num_cpus=0).remote()
        try:
            rows = [input_row(i, inputs[i], identities[i]) for i in jobs]
            blocks = max(1, min(len(rows), max(4 * actors, math.ceil(len(rows) / ROWS_PER_BLOCK))))
            dataset = ray.data.from_items(rows, **{_blocks_keyword(ray): blocks})
            scored = dataset.map_batches(
                ScorerActor,
                fn_constructor_kwargs={
                    "config": config,
                    "resolved": resolved,
                    "syncnet_sha256": wm.weights_sha256(resolved.syncnet_weights),
                    "threads": max(1, round(ray_config.cpus_per_actor)),
                    "ledger": ledger_name,
                    "log_level": worker_log_level,
                },
                batch_size=config.streams,  # rows per call: the inputs an actor scores at once
                batch_format="numpy",
                num_cpus=ray_config.cpus_per_actor,
                num_gpus=ray_config.gpus_per_actor or None,
                **pool_strategy(ray, actors),
            )
            rows_out = iter(scored.iter_rows())
            while True:
                try:
                    row = next(rows_out)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - Ray's side failed: say why, in one line
                    raise engine_error(exc) from exc
                run.add(int(row["index"]), BatchRecord.from_dict(json.loads(row["record"])))
        finally:
            ray.kill(ledger)  # also drops its actor handles, so Ray Data's actors can go
    for index in jobs:
        if run.records[index] is None:  # never seen; guards "every input recorded once"
            item = inputs[index]
            lost = VideoResult.failure(
                str(item.path), config.recipe, "error",
                f"{item.path}: the Ray engine returned no record for it", reason_code="lost",
            )  # fmt: skip
            run.add(index, BatchRecord(lost, identities[index], resolved.config_hash))


def _write_parquet(path: Path, journal: Path, run: _Run, previous_parquet: Path) -> None:
    """Every recorded input's full record, in input order, read back from the log or from
    the earlier Parquet file (a run stopped early writes what it has)."""
    old = _ParquetRows(previous_parquet) if any(
        loc.source == "parquet" for loc in run.locations.values()
    ) else None  # fmt: skip
    sink = ParquetSink(path)
    try:
        for index in range(len(run.inputs)):
            loc = run.locations.get(index)
            if loc is None:
                record = run.records[index]
                if record is None:
                    continue
                rec = record.to_dict()
            elif loc.source == "log":
                rec = read_jsonl_at(journal, loc.position)
            else:
                assert old is not None
                rec = old.record(loc.position)
            resumed = run.records[index]
            rec["from_log"] = bool(resumed is not None and resumed.resumed)
            sink.append(rec)
    except BaseException:
        sink.discard()
        raise
    sink.close()
