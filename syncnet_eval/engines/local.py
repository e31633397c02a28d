"""The local executor: inputs scored on this machine, in this process or in worker processes.

In this process when there is one worker and no time limit (``--streams K`` then scores K
inputs at once, sharing SyncNet's forward passes). Otherwise each of ``workers`` spawned
processes builds its own pipeline once (``torch`` threads = cores // workers) and takes one
input at a time; a worker still busy after ``timeout_s`` is killed with its ffmpeg children and
its temporary files, the input is recorded as ``error`` (reason code ``timeout``) and a fresh
worker takes the next one. Results are identical to a serial run. Workers die with this
process (also when it is killed). Messages between processes are dicts; a run-stopping error
crosses as ``scorer.error_to_wire`` data and is raised here as the package's own class.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
import contextlib
import logging
import multiprocessing
from multiprocessing.connection import Connection, wait
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from typing import Any

import torch

from ..allocator import tune_malloc
from ..errors import ConfigError, SyncEvalError
from ..inputs import BatchInput
from ..types import VideoResult
from . import ExecContext
from .plan import BatchConfig, LocalOptions, ResolvedRun, RunConfig
from .scorer import (
    Scorer,
    error_from_wire,
    error_to_wire,
    setup_worker_logging,
    timed_out,
    worker_died,
)

__all__ = ["LocalExecutor", "create"]

log = logging.getLogger(__name__)


class LocalExecutor:
    """Scores on this machine (see the module docstring), with its own options (``--workers``,
    ``--timeout``)."""

    name = "local"

    def __init__(self, options: LocalOptions | None = None) -> None:
        self.options = options or LocalOptions()
        self.timeout_s = self.options.timeout_s

    def check(self, config: BatchConfig, run: RunConfig) -> None:
        if run.streams > 1 and not self.options.in_process:
            raise ConfigError(
                "--streams scores in this process: use it without --workers and --timeout"
            )

    def results(
        self, jobs: Sequence[tuple[int, BatchInput]], context: ExecContext
    ) -> Iterator[tuple[int, VideoResult]]:
        todo = list(jobs)
        options = self.options
        if options.in_process:
            yield from _inprocess_results(todo, context, context.run.streams)
            return
        pool = _Pool(
            context.config,
            context.resolved,
            options.workers,
            options.timeout_s,
            context.worker_log_level,
        )
        yield from pool.results(todo)


def create(options: LocalOptions | None = None) -> LocalExecutor:
    """The registry's constructor (``None``: one worker, no time limit)."""
    return LocalExecutor(options)


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
    setup_worker_logging(log_level)
    try:
        torch.set_num_threads(threads)
        scorer = Scorer(config, resolved)
    except SyncEvalError as exc:
        conn.send({"kind": "fatal", **error_to_wire(exc)})
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        wire = error_to_wire(SyncEvalError(f"worker start-up failed: {exc!r}"))
        conn.send({"kind": "fatal", **wire})
        return
    conn.send({"kind": "ready"})
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
            conn.send({"kind": "fatal", **error_to_wire(exc)})
            return
        except Exception:  # noqa: BLE001 - only with raise_unexpected (debugging)
            conn.send({"kind": "crash", "index": index, "trace": traceback.format_exc()})
            return
        try:
            conn.send({"kind": "result", "index": index, "result": result.to_dict()})
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
            return w.task[0], worker_died(w.task[1], self.config.recipe, code)
        kind = msg["kind"]
        if kind == "ready":
            w.ready = True
            return None
        if kind == "result" and w.task is not None:
            index = w.task[0]
            w.task, w.deadline = None, None
            return index, VideoResult.from_dict(msg["result"])
        if kind == "fatal":
            raise error_from_wire(msg)
        path = w.task[1].path if w.task else "?"
        raise RuntimeError(f"unexpected error scoring {path} in a worker:\n{msg.get('trace')}")

    def _expire(self) -> Iterator[tuple[int, VideoResult]]:
        now = time.monotonic()
        for w in list(self.workers):
            if w.task is not None and w.deadline is not None and now >= w.deadline:
                if w.conn.poll():
                    # Its record (or its death) came in after the wait returned (a loaded
                    # machine wakes late): the input finished in time, take what it sent.
                    done = self._receive(w)
                    if done is not None:
                        yield done
                    continue
                index, item = w.task
                w.kill()
                self.workers.remove(w)
                log.debug("%s: timed out after %s s; worker killed", item.path, self.timeout_s)
                yield index, timed_out(item, self.config.recipe, self.timeout_s or 0.0)

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
    jobs: list[tuple[int, BatchInput]], context: ExecContext, streams: int
) -> Iterator[tuple[int, VideoResult]]:
    scorer = Scorer(context.config, context.resolved, streams)
    try:
        if streams > 1:
            yield from scorer.score_many(jobs)
            return
        for index, item in jobs:
            yield index, scorer.score(item, context.stage_hook)
    finally:
        scorer.close()
