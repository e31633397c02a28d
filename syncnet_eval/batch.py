"""Batch scoring: many inputs, a resumable JSONL log, worker processes and per-file time limits.

:func:`~syncnet_eval.inputs.collect_inputs` turns files, directories and a manifest CSV into
``BatchInput`` items; ``run_batch`` scores them (in this process, or in worker processes that
each hold their own models) and returns one ``BatchRecord`` per input, in input order, whatever
happened to it.

Resume: every record carries ``input_identity`` (resolved path, size and mtime, or a content
hash) and ``config_hash`` (scoring and pipeline settings, recipe, weight hashes). A record in the
log with the same identity and hash is reused instead of scoring the input again, so a run killed
at any moment and restarted ends with every input recorded exactly once.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
import contextlib
from dataclasses import dataclass, field, replace
import json
import logging
import multiprocessing
from multiprocessing.connection import Connection, wait
import os
from pathlib import Path, PurePosixPath
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

import numpy as np
import torch

from .allocator import tune_malloc
from .asd import ASD_CHECKPOINTS
from .config import (
    IDENTITY_MODES,
    RECIPES,
    PipelineConfig,
    ScoreConfig,
    check_recipe_options,
    config_hash,
)
from .embed import BatchedEmbedder, SyncNetEmbedder
from .errors import (
    ConfigError,
    DependencyError,
    ModelWeightsError,
    SyncEvalError,
)
from .inputs import BatchInput, input_identity
from .io import (
    JsonlLog,
    LogLock,
    atomic_write_text,
    jsonl_line,
    load_detections,
    read_jsonl,
    sha256_or_none,
)
from .logs import OneLineFormatter
from .models import weights as wm
from .pipeline import SyncPipeline
from .timing import StageHook
from .types import Status, VideoResult

__all__ = [
    "BatchConfig",
    "ResolvedRun",
    "Scorer",
    "crops_names",
    "precheck",
    "prepare_run",
    "BatchRecord",
    "BatchEvent",
    "BatchOutcome",
    "RETRY_STATUSES",
    "resume_key",
    "run_batch",
    "sigterm_stops_the_batch",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchConfig:
    """Everything that decides how each input is scored.

    Attributes:
        recipe: ``syncnet-pipeline``, ``direct`` or ``wav2lip-lrs``.
        score_config: scoring settings.
        pipeline_config: in-the-wild recipe settings.
        syncnet_weights: explicit SyncNet weights (else found or downloaded once, up front).
        s3fd_weights: explicit S3FD weights (pipeline recipe with the s3fd detector).
        asd_weights: explicit active-speaker checkpoint (with ``pipeline_config.asd``).
        offline: never download weights.
        detections: precomputed boxes JSON (single-video runs).
        save_detections: write the detector's boxes here (single-video runs).
        save_crops: write each track's crop video into this directory.
        identity: ``mtime`` or ``sha256`` (see ``input_identity``).
        raise_unexpected: re-raise unexpected errors instead of recording them (debugging).
        streams: videos one scorer scores at once, sharing the model's forward passes (GPU
            throughput mode, see ``embed.BatchedEmbedder``); 1 scores one at a time.
    """

    recipe: str = "syncnet-pipeline"
    score_config: ScoreConfig = field(default_factory=ScoreConfig)
    pipeline_config: PipelineConfig = field(default_factory=PipelineConfig)
    syncnet_weights: Path | None = None
    s3fd_weights: Path | None = None
    asd_weights: Path | None = None
    offline: bool = False
    detections: Path | None = None
    save_detections: Path | None = None
    save_crops: Path | None = None
    identity: str = "mtime"
    raise_unexpected: bool = False
    streams: int = 1

    def __post_init__(self) -> None:
        if self.streams < 1:
            raise ConfigError(f"streams must be >= 1, got {self.streams}")
        if self.recipe not in RECIPES:
            raise ConfigError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        check_recipe_options(self.recipe, self.pipeline_config)
        if self.identity not in IDENTITY_MODES:
            raise ConfigError(f"identity must be one of {IDENTITY_MODES}, got {self.identity!r}")


@dataclass(frozen=True)
class _RunKey:
    """The part of the configuration hash that is not a config dataclass."""

    recipe: str
    syncnet_weights_sha256: str
    s3fd_weights_sha256: str | None
    detections_sha256: str | None


@dataclass(frozen=True)
class _AsdKey:
    """Hashed only when the active-speaker model runs, so other runs keep their hash."""

    asd_weights_sha256: str


@dataclass(frozen=True)
class ResolvedRun:
    """What every engine's workers share: the weights, found (or downloaded) once by the
    parent, and the configuration hash every record carries."""

    syncnet_weights: Path
    s3fd_weights: Path | None
    config_hash: str
    asd_weights: Path | None = None


def prepare_run(config: BatchConfig, progress: bool = True) -> ResolvedRun:
    """Find (or download) the weights once and hash the configuration, before any scoring.

    Raises:
        ModelWeightsError: weights missing, not the official file (lookup), or unloadable.
    """
    syncnet = wm.resolve_weights(
        "syncnet", config.syncnet_weights, offline=config.offline, progress=progress
    )
    s3fd = None
    s3fd_sha = None
    detects = config.recipe == "syncnet-pipeline" and config.detections is None
    if detects and config.pipeline_config.detector == "s3fd":
        # Found (or downloaded) once here rather than by every worker.
        s3fd = wm.resolve_weights(
            "s3fd", config.s3fd_weights, offline=config.offline, progress=progress
        )
        s3fd_sha = wm.weights_sha256(s3fd)
    elif config.s3fd_weights is not None:
        s3fd = config.s3fd_weights
    detections_sha = sha256_or_none(config.detections) if config.detections is not None else None
    syncnet_sha = wm.weights_sha256(syncnet)
    if wm.official_name(syncnet_sha) != "syncnet":
        log.warning(
            "%s is not the official syncnet_v2.model (sha256 %s...): the numbers are comparable "
            "only with runs that use the same file (recorded in each record's provenance)",
            syncnet,
            syncnet_sha[:12],
        )
    key = _RunKey(config.recipe, syncnet_sha, s3fd_sha, detections_sha)
    asd = None
    asd_key: list[_AsdKey] = []
    if config.pipeline_config.asd is not None:
        checkpoint = ASD_CHECKPOINTS[config.pipeline_config.asd_model]
        asd = wm.resolve_weights(
            checkpoint, config.asd_weights, offline=config.offline, progress=progress
        )
        asd_key.append(_AsdKey(wm.weights_sha256(asd)))
    digest = config_hash(config.score_config, config.pipeline_config, key, *asd_key)
    return ResolvedRun(syncnet, s3fd, digest, asd)


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRecord:
    """A ``VideoResult`` with what resume needs to recognise it.

    Attributes:
        result: the outcome (``id`` and ``group`` set from the input).
        input_identity: see ``input_identity``.
        config_hash: hash of the configuration that produced it.
        resumed: taken from an earlier run's log rather than scored now (not serialised).
    """

    result: VideoResult
    input_identity: dict[str, Any]
    config_hash: str
    resumed: bool = False

    def extras(self) -> dict[str, Any]:
        """The keys this record adds to ``result.to_dict()``; ``from_log`` says it was taken
        from an earlier run's log rather than scored now."""
        return {
            "input_identity": self.input_identity,
            "config_hash": self.config_hash,
            "from_log": self.resumed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), **self.extras()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchRecord:
        return cls(
            result=VideoResult.from_dict(data),
            input_identity=dict(data.get("input_identity") or {}),
            config_hash=str(data.get("config_hash") or ""),
        )


def resume_key(identity: dict[str, Any], digest: str) -> str:
    """What a resumed run matches an earlier record by: the input's identity (see
    ``input_identity``) and the configuration hash."""
    return json.dumps([identity, digest], sort_keys=True)


@dataclass(frozen=True)
class BatchEvent:
    """Progress report: ``record`` (input ``index``) just finished; ``done`` of ``total``."""

    index: int
    done: int
    total: int
    record: BatchRecord


@dataclass(frozen=True)
class BatchOutcome:
    """All records of a batch in input order, and how many came from the log."""

    records: list[BatchRecord]
    config_hash: str
    num_resumed: int

    @property
    def results(self) -> list[VideoResult]:
        return [r.result for r in self.records]

    @property
    def failed(self) -> list[VideoResult]:
        return [r.result for r in self.records if not r.result.ok]


# -- scoring ----------------------------------------------------------------------------------


class Scorer:
    """One pipeline (models loaded once) scoring ``BatchInput``s: the per-input function every
    engine runs (the local engine in this process or in its workers, the Ray engine in its
    actors). :meth:`score` never raises for a bad input; it returns its record's result.

    With ``config.streams > 1`` the pipeline's embedder is a ``BatchedEmbedder`` and
    :meth:`score_many` scores that many inputs at once, sharing forward passes; call
    :meth:`close` when done.
    """

    def __init__(self, config: BatchConfig, resolved: ResolvedRun) -> None:
        self.config = config
        self.pipe = SyncPipeline(
            config.score_config,
            config.pipeline_config,
            syncnet_weights=resolved.syncnet_weights,
            s3fd_weights=resolved.s3fd_weights,
            offline=config.offline,
            progress=False,
            asd_weights=resolved.asd_weights,
        )
        self.shared: BatchedEmbedder | None = None
        if config.streams > 1:
            plain = self.pipe.embedder
            if not isinstance(plain, SyncNetEmbedder):
                raise ConfigError("streams > 1 batches SyncNet's forward passes: it needs SyncNet")
            self.shared = BatchedEmbedder(plain.model, plain.device, plain.batch_size,
                                          plain.precision)  # fmt: skip
            self.pipe.embedder = self.shared
        self.detections: list[np.ndarray] | None = None
        if config.detections is not None:
            self.detections = load_detections(config.detections)

    def score_many(
        self, jobs: Iterable[tuple[int, BatchInput]]
    ) -> Generator[tuple[int, VideoResult], None, None]:
        """``(index, result)`` of every job, in completion order, ``config.streams`` at a time
        (each in a thread of its own, registered with the shared embedder)."""
        if self.shared is None:
            for index, item in jobs:
                yield index, self.score(item)
            return
        shared = self.shared
        todo = iter(jobs)
        running: dict[Future[VideoResult], int] = {}

        def scored(item: BatchInput) -> VideoResult:
            with shared.stream():
                return self.score(item)

        with ThreadPoolExecutor(self.config.streams, "syncnet-eval-stream") as pool:
            try:
                while True:
                    for index, item in todo:
                        running[pool.submit(scored, item)] = index
                        if len(running) >= self.config.streams:
                            break
                    if not running:
                        return
                    done, _ = wait_futures(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield running.pop(future), future.result()
            finally:
                for future in running:
                    future.cancel()

    def close(self) -> None:
        """Stop the shared embedder's thread (``streams > 1``); the scorer is done."""
        if self.shared is not None:
            self.shared.close()

    def score(self, item: BatchInput, stage_hook: StageHook | None = None) -> VideoResult:
        kwargs: dict[str, Any] = {
            "raise_unexpected": self.config.raise_unexpected,
            "stage_hook": stage_hook,
        }
        if item.audio_path is not None:
            kwargs["audio_path"] = item.audio_path
        if self.detections is not None:
            kwargs["detections"] = self.detections
        if self.config.save_detections is not None:
            kwargs["save_detections"] = self.config.save_detections
        if self.config.save_crops is not None:
            kwargs["save_crops"] = self.config.save_crops
            kwargs["crops_name"] = item.crops_name
        return self.pipe.evaluate(item.path, self.config.recipe, **kwargs)


def crops_names(inputs: Sequence[BatchInput]) -> list[str]:
    """Where each input's crop videos go under ``--save-crops``: the file's stem, or, when two
    inputs share a stem, the input's (unique) id without its suffix, as a relative path (so
    two inputs named alike never overwrite each other's crops)."""
    stems = Counter(item.path.stem for item in inputs)
    names = []
    for item in inputs:
        if stems[item.path.stem] == 1 or not item.id:
            names.append(item.path.stem)
            continue
        parts = PurePosixPath(item.id).with_suffix("").parts
        names.append("/".join(p for p in parts if p not in ("", "/", ".", "..")))
    return names


def precheck(item: BatchInput, recipe: str) -> VideoResult | None:
    """Record inputs that cannot be tried (discovery errors) and refuse FIFOs, sockets and
    devices up front: opening one can block forever."""
    if item.error is not None:
        return VideoResult.failure(str(item.path), recipe, "error", item.error)
    for p, what in ((item.path, "video"), (item.audio_path, "audio")):
        if p is None:
            continue
        try:
            mode = os.stat(p).st_mode
        except OSError:
            continue  # missing or unreadable: the pipeline words that itself
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return VideoResult.failure(
                str(item.path),
                recipe,
                "error",
                f"{p}: not a regular file (a pipe, socket or device cannot be scored as {what})",
            )
    return None


_FATAL_ERRORS: dict[str, type[SyncEvalError]] = {
    cls.__name__: cls for cls in (ConfigError, DependencyError, ModelWeightsError, SyncEvalError)
}


def _worker_main(
    conn: Connection,
    config: BatchConfig,
    resolved: ResolvedRun,
    threads: int,
    log_level: int | None,
    workdir: str,
) -> None:
    """Worker process: own session (so a time-out kills its ffmpeg children too), own models,
    own temporary directory (removed by the parent when it kills the worker)."""
    if hasattr(os, "setsid"):
        os.setsid()
    tempfile.tempdir = workdir
    _die_with_parent(os.getppid(), workdir)
    tune_malloc()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    if log_level is not None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        pkg = logging.getLogger("syncnet_eval")
        pkg.handlers[:] = [handler]
        pkg.setLevel(log_level)
        pkg.propagate = False
    try:
        torch.set_num_threads(threads)
        scorer = Scorer(config, resolved)
    except SyncEvalError as exc:
        conn.send(("fatal", type(exc).__name__, str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("fatal", "SyncEvalError", f"worker start-up failed: {exc!r}"))
        return
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, item = task
        try:
            result = scorer.score(item)
        except SyncEvalError as exc:
            conn.send(("fatal", type(exc).__name__, str(exc)))
            return
        except Exception:  # noqa: BLE001 - only with raise_unexpected (debugging)
            conn.send(("crash", index, traceback.format_exc()))
            return
        try:
            conn.send(("result", index, result.to_dict()))
        except (BrokenPipeError, OSError):
            return


def _die_with_parent(parent: int, workdir: str) -> None:
    """Once ``parent`` is gone (killed, even with SIGKILL), remove ``workdir`` and kill this
    worker's whole session: itself and any ffmpeg it started."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(1)  # where there are no process groups

    threading.Thread(target=watch, name="syncnet-eval-parent-watch", daemon=True).start()


class _Worker:
    def __init__(
        self,
        ctx: Any,
        config: BatchConfig,
        resolved: ResolvedRun,
        threads: int,
        log_level: int | None,
    ) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.workdir = tempfile.mkdtemp(prefix="syncnet-eval-worker-")
        self.proc = ctx.Process(
            target=_worker_main,
            args=(child, config, resolved, threads, log_level, self.workdir),
            daemon=True,
            name="syncnet-eval-worker",
        )
        self.proc.start()
        child.close()
        self.ready = False
        self.task: tuple[int, BatchInput] | None = None
        self.deadline: float | None = None

    def assign(self, index: int, item: BatchInput, timeout_s: float | None) -> None:
        self.conn.send((index, item))
        self.task = (index, item)
        self.deadline = time.monotonic() + timeout_s if timeout_s else None

    def kill(self) -> None:
        """Kill the worker and everything it started (its ffmpeg children share its session)."""
        pid = self.proc.pid
        try:
            if pid is not None and hasattr(os, "killpg") and os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                self.proc.kill()
        except (ProcessLookupError, PermissionError, OSError):
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.kill()
        else:
            self.conn.close()
            shutil.rmtree(self.workdir, ignore_errors=True)


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _timed_out(item: BatchInput, recipe: str, timeout_s: float) -> VideoResult:
    return VideoResult.failure(
        str(item.path),
        recipe,
        "error",
        f"{item.path}: timed out after {timeout_s:g} s (a hung decode or a very long input; "
        "raise --timeout: a rerun with a larger limit scores it again)",
        reason_code="timeout",
        provenance={"timeout_s": timeout_s},
    )


def _worker_died(item: BatchInput, recipe: str, code: int | None) -> VideoResult:
    return VideoResult.failure(
        str(item.path),
        recipe,
        "error",
        f"{item.path}: the worker process died while scoring it (exit code {code}; a crash in "
        "a decoder, or out of memory)",
        reason_code="worker_crashed",
    )


class _Pool:
    """Worker processes taking one input at a time; ``results()`` yields in completion order."""

    def __init__(
        self,
        config: BatchConfig,
        resolved: ResolvedRun,
        workers: int,
        timeout_s: float | None,
        log_level: int | None,
    ) -> None:
        self.config = config
        self.resolved = resolved
        self.size = workers
        self.timeout_s = timeout_s
        self.log_level = log_level
        self.threads = max(1, _cpu_count() // workers)
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    def _top_up(self, pending: int) -> None:
        busy = sum(1 for w in self.workers if w.task is not None)
        idle = len(self.workers) - busy  # ready or still starting
        wanted = min(self.size, busy + pending)
        if pending > idle:
            for _ in range(wanted - len(self.workers)):
                self.workers.append(
                    _Worker(self.ctx, self.config, self.resolved, self.threads, self.log_level)
                )

    def _receive(self, w: _Worker) -> tuple[int, VideoResult] | None:
        """Handle one message (or the death) of ``w``; a finished input comes back."""
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            w.proc.join(5)
            code = w.proc.exitcode
            w.kill()
            self.workers.remove(w)
            if w.task is None:
                if not w.ready:
                    raise SyncEvalError(
                        f"a worker process exited while starting (exit code {code})"
                    ) from None
                return None
            return w.task[0], _worker_died(w.task[1], self.config.recipe, code)
        kind = msg[0]
        if kind == "ready":
            w.ready = True
            return None
        if kind == "result" and w.task is not None:
            index = w.task[0]
            w.task, w.deadline = None, None
            return index, VideoResult.from_dict(msg[2])
        if kind == "fatal":
            raise _FATAL_ERRORS.get(msg[1], SyncEvalError)(msg[2])
        path = w.task[1].path if w.task else "?"
        raise RuntimeError(f"unexpected error scoring {path} in a worker:\n{msg[-1]}")

    def _expire(self) -> Iterator[tuple[int, VideoResult]]:
        now = time.monotonic()
        for w in list(self.workers):
            if w.task is not None and w.deadline is not None and now >= w.deadline:
                index, item = w.task
                w.kill()
                self.workers.remove(w)
                log.debug("%s: timed out after %s s; worker killed", item.path, self.timeout_s)
                yield index, _timed_out(item, self.config.recipe, self.timeout_s or 0.0)

    def results(self, jobs: list[tuple[int, BatchInput]]) -> Iterator[tuple[int, VideoResult]]:
        pending = deque(jobs)
        try:
            while pending or any(w.task is not None for w in self.workers):
                self._top_up(len(pending))
                for w in self.workers:
                    if w.ready and w.task is None and pending:
                        w.assign(*pending.popleft(), self.timeout_s)
                deadlines = [w.deadline for w in self.workers if w.deadline is not None]
                wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                by_conn = {w.conn: w for w in self.workers}
                for conn in wait(list(by_conn), timeout=wait_s):
                    done = self._receive(by_conn[conn])
                    if done is not None:
                        yield done
                yield from self._expire()
        finally:
            for w in self.workers:
                if w.task is not None:
                    w.kill()
                else:
                    w.stop()
            self.workers.clear()


def _inprocess_results(
    jobs: list[tuple[int, BatchInput]],
    config: BatchConfig,
    resolved: ResolvedRun,
    stage_hook: StageHook | None,
) -> Iterator[tuple[int, VideoResult]]:
    scorer = Scorer(config, resolved)
    try:
        if config.streams > 1:
            yield from scorer.score_many(jobs)
            return
        for index, item in jobs:
            yield index, scorer.score(item, stage_hook)
    finally:
        scorer.close()


# Statuses of inputs that could not be scored, which ``retry_failed`` scores again. no_face,
# too_short and no_audio describe the video itself: scoring it again gives the same answer.
RETRY_STATUSES: tuple[Status, ...] = ("decode_error", "error")


def _drop_retryable(log_path: Path, logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite ``log_path`` (atomically) without its retryable records; return the rest."""
    kept = [rec for rec in logged if rec.get("status") not in RETRY_STATUSES]
    if len(kept) < len(logged):
        log.info("%s: scoring %d failed inputs again", log_path, len(logged) - len(kept))
        atomic_write_text(log_path, "".join(jsonl_line(rec) for rec in kept))
    return kept


def run_batch(
    inputs: Sequence[BatchInput],
    config: BatchConfig,
    *,
    workers: int = 1,
    timeout_s: float | None = None,
    log_path: Path | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_record: Callable[[BatchEvent], None] | None = None,
    worker_log_level: int | None = None,
    download_progress: bool = True,
    stage_hook: StageHook | None = None,
) -> BatchOutcome:
    """Score every input; one record each, in input order, whatever happens to it.

    With ``workers == 1`` and no ``timeout_s`` the inputs are scored in this process. Otherwise
    each of ``workers`` spawned processes builds its own pipeline once (``torch`` threads =
    cores // workers) and takes one input at a time; a worker still busy after ``timeout_s`` is
    killed with its ffmpeg children and its temporary files, the input is recorded as ``error``
    (reason code ``timeout``) and a fresh worker takes the next one. Results are identical to a
    serial run. Workers die with this process (also when it is killed); SIGTERM stops the
    batch like Ctrl-C, keeping every finished record in the log. Only one run at a time may
    write a log (a lock file ``.NAME.lock`` beside it).

    Args:
        inputs: the inputs, in output order.
        config: how to score them.
        workers: worker processes.
        timeout_s: per-input time limit in seconds (runs in a worker process even when
            ``workers == 1``, so a hang can be killed).
        log_path: JSONL log; each record is appended (in input order) as soon as it and every
            input before it are done.
        resume: reuse records of ``log_path`` with the same input identity and configuration
            hash (the latest of each; a timeout is reused only under a limit no larger than
            the one it ran under); without it the log is started afresh.
        retry_failed: with ``resume``, drop the log's records of inputs that could not be
            scored (``RETRY_STATUSES``: decode errors, timeouts, crashed workers) and score
            those inputs again. The log is rewritten atomically without them first.
        on_start: called once with (total inputs, inputs taken from the log).
        on_record: called as each input finishes (completion order).
        worker_log_level: logging level for the package's loggers in worker processes (a
            stderr handler); ``None`` leaves them unconfigured.
        download_progress: show a progress bar if weights must be downloaded.
        stage_hook: told about each video's stages (only when scoring in this process).

    Returns:
        A ``BatchOutcome``.

    Raises:
        ModelWeightsError, ConfigError, DependencyError: problems that affect every input.
        OutputError: another run holds ``log_path``, or it cannot be written.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if config.streams > 1 and (workers > 1 or timeout_s is not None):
        raise ConfigError(
            "streams > 1 scores in this process: it cannot be combined with workers > 1 or a "
            "timeout (use one or the other)"
        )
    if timeout_s is not None and timeout_s <= 0:
        raise ConfigError(f"timeout must be positive, got {timeout_s}")
    with contextlib.ExitStack() as stack:
        if log_path is not None:
            stack.enter_context(LogLock(log_path))
        stack.enter_context(sigterm_stops_the_batch())
        return _run_locked(
            inputs, config, workers=workers, timeout_s=timeout_s, log_path=log_path,
            resume=resume, retry_failed=retry_failed, on_start=on_start, on_record=on_record,
            worker_log_level=worker_log_level, download_progress=download_progress,
            stage_hook=stage_hook,
        )  # fmt: skip


def _run_locked(
    inputs: Sequence[BatchInput],
    config: BatchConfig,
    *,
    workers: int,
    timeout_s: float | None,
    log_path: Path | None,
    resume: bool,
    retry_failed: bool,
    on_start: Callable[[int, int], None] | None,
    on_record: Callable[[BatchEvent], None] | None,
    worker_log_level: int | None,
    download_progress: bool,
    stage_hook: StageHook | None,
) -> BatchOutcome:
    resolved = prepare_run(config, download_progress)
    digest = resolved.config_hash
    if config.save_crops is not None:
        inputs = [
            replace(i, crops_name=n) for i, n in zip(inputs, crops_names(inputs), strict=True)
        ]
    identities = [input_identity(item, config.identity) for item in inputs]
    previous = _logged_records(log_path, retry_failed) if log_path is not None and resume else {}
    records: list[BatchRecord | None] = [
        _resumed_record(item, ident, digest, previous, timeout_s)
        for item, ident in zip(inputs, identities, strict=True)
    ]
    jobs = [(i, item) for i, item in enumerate(inputs) if records[i] is None]
    num_resumed = len(inputs) - len(jobs)
    if num_resumed:
        log.info("resuming: %d of %d inputs already in %s", num_resumed, len(inputs), log_path)
    if on_start is not None:
        on_start(len(inputs), num_resumed)

    writer = _InOrderLog(log_path, [i for i, _ in jobs], truncate=not resume)
    done = num_resumed
    try:
        source = _score_jobs(
            jobs, config, resolved, workers, timeout_s, worker_log_level, stage_hook
        )
        try:
            for index, result in source:
                item = inputs[index]
                record = BatchRecord(
                    replace(result, id=item.id, group=item.group), identities[index], digest
                )
                records[index] = record
                done += 1
                if on_record is not None:
                    on_record(BatchEvent(index, done, len(inputs), record))
                writer.flush(records)
        finally:
            source.close()
    finally:
        writer.close(records)
    final = [r for r in records if r is not None]
    assert len(final) == len(inputs)
    return BatchOutcome(final, digest, num_resumed)


def _logged_records(log_path: Path, retry_failed: bool) -> dict[str, dict[str, Any]]:
    """The log's latest record per resume key (identity and config hash)."""
    logged = read_jsonl(log_path, repair=True)
    if retry_failed:
        logged = _drop_retryable(log_path, logged)
    return {
        resume_key(rec.get("input_identity") or {}, str(rec.get("config_hash"))): rec
        for rec in logged
    }


def _resumed_record(
    item: BatchInput,
    ident: dict[str, Any],
    digest: str,
    previous: dict[str, dict[str, Any]],
    timeout_s: float | None,
) -> BatchRecord | None:
    """The log's record of ``item`` under this configuration, else ``None`` (score it)."""
    rec = previous.get(resume_key(ident, digest))
    if rec is None:
        return None
    try:
        old = BatchRecord.from_dict(rec)
    except (TypeError, ValueError, KeyError) as exc:
        log.warning("%s: unusable record in the log (%s); scoring again", item.path, exc)
        return None
    if old.result.reason_code == "timeout":
        limit = (old.result.provenance or {}).get("timeout_s")
        if timeout_s is None or not isinstance(limit, int | float) or limit < timeout_s:
            log.info("%s: timed out under a smaller limit before; scoring again", item.path)
            return None
    result = replace(old.result, id=item.id, group=item.group)
    return BatchRecord(result, ident, digest, resumed=True)


@contextlib.contextmanager
def sigterm_stops_the_batch() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does: workers are killed and every finished
    record is written before the process exits (only where signals can be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _score_jobs(
    jobs: list[tuple[int, BatchInput]],
    config: BatchConfig,
    resolved: ResolvedRun,
    workers: int,
    timeout_s: float | None,
    worker_log_level: int | None,
    stage_hook: StageHook | None,
) -> Generator[tuple[int, VideoResult], None, None]:
    """``(index, result)`` of every job, in completion order.

    Non-regular files are refused here (no worker needed) and come first. The rest are scored
    in this process, or by worker processes when there are several or a time limit.
    """
    to_score: list[tuple[int, BatchInput]] = []
    for i, item in jobs:
        failure = precheck(item, config.recipe)
        if failure is not None:
            yield i, failure
        else:
            to_score.append((i, item))
    if not to_score:
        return
    if workers == 1 and timeout_s is None:
        yield from _inprocess_results(to_score, config, resolved, stage_hook)
    else:
        yield from _Pool(config, resolved, workers, timeout_s, worker_log_level).results(to_score)


class _InOrderLog:
    """Appends finished records to the JSONL log in input order (a record waits for earlier ones).

    Args:
        path: the log, or ``None`` for no log.
        order: indices of the inputs scored in this run, in input order.
        truncate: start the log afresh.
    """

    def __init__(self, path: Path | None, order: list[int], *, truncate: bool) -> None:
        self._log = JsonlLog(path, truncate=truncate) if path is not None else None
        self._order = order
        self._next = 0

    def flush(self, records: Sequence[BatchRecord | None]) -> None:
        """Append every record that is done and has no unfinished one before it."""
        while self._next < len(self._order):
            ready = records[self._order[self._next]]
            if ready is None:
                return
            if self._log is not None:
                self._log.append(ready.to_dict())
            self._next += 1

    def close(self, records: Sequence[BatchRecord | None]) -> None:
        """Flush, then also append the records that finished after an unfinished one (a batch
        stopped early: they are not lost, and resume finds them in any order)."""
        try:
            self.flush(records)
            if self._log is not None:
                for index in self._order[self._next :]:
                    ready = records[index]
                    if ready is not None:
                        self._log.append(ready.to_dict())
        finally:
            if self._log is not None:
                self._log.close()
