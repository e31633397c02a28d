"""The Ray executor (``score --engine ray``): the per-input function on a Ray cluster.

Light at import (the registry reads :class:`RayConfig` for ``--help``); Ray itself, torch and
the scorer are imported when a run starts (``pip install "syncnet-eval[ray]"``). The driver
(``engines.run``) does everything a run promises (pre-checks, weights, resume, stamping, the
log, Parquet); this module only scores jobs on Ray. Designed around what goes wrong with media
on Ray:

- **Rows are input descriptions** (index, path, audio, id, group, crops name), never bytes or
  frames: decoded frames in the object store fill it and spill. Each actor decodes its own
  inputs from a filesystem every node sees at the same paths.
- **One scorer actor per slot** (``--actors``, ``--cpus-per-actor``, ``--gpus-per-actor``)
  builds a ``Scorer`` once (models loaded once), with its own temporary folder and its ffmpeg
  children reaped whenever no input is in flight and when it shuts down. It checks that it
  loaded the driver's SyncNet file.
- **Every outcome is a row**, never a failed block: ``Scorer.score`` records bad inputs, and
  anything else a row raises becomes an ``error`` record. An error that stops the run (weights,
  device) crosses as data (``scorer.error_to_wire``) and the driver raises it as the package's
  own class. An actor that dies (a decoder crash, out of memory, ``ray.kill``) is restarted by
  Ray, which retries its block; an :class:`AttemptLedger` counts, per input, the starts that
  never finished, so an input in flight during a crash is scored alone next time, and one
  that was in flight during ``MAX_ATTEMPTS`` crashes is recorded as ``error`` (reason code
  ``worker_crashed``) instead of crashing actors forever.
- **Quiet**: Ray's own progress bars, start-up lines and colour codes are turned off, and the
  lines its C++ core writes to stderr are filtered out (:func:`quiet_stderr`); the package's
  log lines from the actors reach the driver's stderr.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
from dataclasses import dataclass, replace
import json
import logging
import math
import os
from pathlib import Path
import re
import shutil
import signal
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from ..config import option_field, validate_options
from ..errors import ConfigError, DependencyError, ModelWeightsError, SyncEvalError
from ..inputs import BatchInput
from . import ExecContext

if TYPE_CHECKING:  # annotations only: they load torch
    import numpy as np

    from ..types import VideoResult
    from .plan import BatchConfig, ResolvedRun, RunConfig

__all__ = [
    "INSTALL_HINT",
    "MAX_ATTEMPTS",
    "AttemptLedger",
    "RayConfig",
    "RayExecutor",
    "ScorerActor",
    "check_ray_installed",
    "create",
    "import_ray",
    "input_row",
    "pool_size",
    "pool_strategy",
    "row_input",
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


# No colour codes around the actors' lines that Ray forwards to the driver.
QUIET_ENV = {"RAY_COLOR_PREFIX": "0"}
# Lines of Ray's C++ core ("[2026-12-06 20:57:35,915 E 20762 20762] core_worker.cc:2465: ...",
# also forwarded from its raylet as "(raylet) [...] ...cc:..."): written straight to file
# descriptor 2, at levels that no setting silences without printing a line of its own.
_RAY_CORE_LINE = re.compile(
    rb"^(\(raylet\) )?\[\d{4}-\d\d-\d\d [\d:,.]+ [DIWEF] \d+ \d+\] \S+\.cc:\d+:"
)
_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class RayConfig:
    """Where and how the Ray executor runs (``score --engine ray``); no effect on the numbers.

    Attributes:
        ray_address: an existing cluster (``auto``, ``HOST:6379``, ``ray://HOST:10001``);
            ``None``: ``RAY_ADDRESS`` if set, else a runtime started on this machine,
            listening on loopback only.
        actors: scorer actors; ``None``: as many as the cluster's CPUs (or GPUs) allow.
        cpus_per_actor: CPUs each scorer actor reserves (also its torch threads).
        gpus_per_actor: GPUs each scorer actor reserves (fractions share one GPU).
    """

    ray_address: str | None = option_field(
        None,
        help="Ray cluster to run on (auto, HOST:6379, ray://HOST:10001). Default: "
        "RAY_ADDRESS if set, else a Ray runtime started on this machine (loopback only).",
    )
    actors: int | None = option_field(
        None,
        min=1,
        help="Scorer actors, each loading the models once. Default: as many as the "
        "cluster's CPUs (and GPUs) allow at --cpus-per-actor (--gpus-per-actor).",
    )
    cpus_per_actor: float = option_field(
        1.0, min=0, min_open=True, help="CPUs each scorer actor reserves (its torch threads)."
    )
    gpus_per_actor: float = option_field(
        0.0, min=0, help="GPUs each scorer actor reserves (0.5: two actors share a GPU)."
    )

    def __post_init__(self) -> None:
        validate_options(self)


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
    for key, value in QUIET_ENV.items():  # the driver's side (and a runtime started here)
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
                size,
                config.cpus_per_actor,
                config.gpus_per_actor,
                cpus,
                gpus,
            )
    else:
        size = math.floor(cpus / config.cpus_per_actor + 1e-9)
        if config.gpus_per_actor > 0:
            size = min(size, math.floor(gpus / config.gpus_per_actor + 1e-9))
    return max(1, min(size, jobs))


def input_row(index: int, item: BatchInput) -> dict[str, Any]:
    """The dataset row of one input: its index and a JSON description (paths as text; file
    names that are not UTF-8 survive as JSON escapes)."""
    desc = {
        "path": os.fspath(item.path),
        "audio": None if item.audio_path is None else os.fspath(item.audio_path),
        "id": item.id,
        "group": item.group,
        "error": item.error,
        "crops_name": item.crops_name,
    }
    return {"index": index, "input": json.dumps(desc)}


def row_input(text: str) -> BatchInput:
    """The input from a row's ``input`` (see :func:`input_row`)."""
    desc = json.loads(text)
    item = BatchInput(
        path=Path(desc["path"]),
        audio_path=None if desc["audio"] is None else Path(desc["audio"]),
        id=desc["id"],
        group=desc["group"],
        error=desc["error"],
        crops_name=desc["crops_name"],
    )
    return item


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


# -- actors -----------------------------------------------------------------------------------


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


class ScorerActor:
    """One scorer actor (Ray Data calls it with batches of rows): a ``Scorer`` built once, its
    own temporary folder; out come rows of ``index`` and ``outcome`` (JSON: ``{"result":
    VideoResult dict}``, or ``{"fatal": error}`` for an error that stops the run).

    Args:
        config: how to score.
        resolved: the weights the driver resolved.
        streams: inputs scored at once, sharing forward passes.
        threads: torch threads.
        ledger: name of the run's :class:`AttemptLedger` actor.
        log_level: level of the package's log lines (forwarded by Ray), or None.
    """

    def __init__(
        self,
        config: BatchConfig,
        resolved: ResolvedRun,
        streams: int,
        threads: int,
        ledger: str,
        log_level: int | None,
    ) -> None:
        import ray
        import torch

        from ..allocator import tune_malloc
        from .scorer import Scorer, error_to_wire, setup_worker_logging

        setup_worker_logging(log_level)
        tune_malloc()
        torch.set_num_threads(threads)
        self.workdir = _actor_workdir()
        tempfile.tempdir = str(self.workdir)  # every temporary file of this actor goes here
        self.config = config
        self.fatal: dict[str, str] | None = None
        self.scorer: Any = None
        try:
            # The actor hashes the file it finds itself: every node must load the driver's.
            self.scorer = Scorer(config, replace(resolved, syncnet_sha256=None), streams)
            actor_sha256 = self.scorer.pipe.syncnet_weights_sha256 or ""
            if actor_sha256 != resolved.syncnet_sha256:
                raise ModelWeightsError(
                    f"{resolved.syncnet_weights}: this node's file (sha256 "
                    f"{actor_sha256[:12]}...) is not the driver's "
                    f"({(resolved.syncnet_sha256 or '')[:12]}...); give every node the same "
                    "weights at the same path"
                )
        except SyncEvalError as exc:
            self.fatal = error_to_wire(exc)
        self.ray = ray
        self.ledger = ray.get_actor(ledger)
        context = ray.get_runtime_context()
        self.key = str(context.get_actor_id())
        ray.get(self.ledger.register.remote(self.key, context.current_actor))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import numpy as np

        from .scorer import crashed_repeatedly

        indices = [int(i) for i in batch["index"]]
        rows = dict(zip(indices, (row_input(str(t)) for t in batch["input"]), strict=True))
        outcomes: dict[int, str] = {}
        if self.fatal is not None:
            outcomes = {i: json.dumps({"fatal": self.fatal}) for i in indices}
        else:
            prior = self.ray.get(self.ledger.attempts.remote(indices))
            fresh: list[int] = []
            suspects: list[int] = []
            for index, attempts in zip(indices, prior, strict=True):
                if attempts >= MAX_ATTEMPTS:
                    failure = crashed_repeatedly(rows[index], self.config.recipe, attempts)
                    outcomes[index] = _outcome(failure)
                elif attempts:
                    suspects.append(index)
                else:
                    fresh.append(index)
            # Inputs in flight during a crash are scored one at a time: one that crashes its
            # actor again is then the only one charged.
            for group in [fresh, *([s] for s in suspects)]:
                if group:
                    outcomes.update(self._score_group(group, rows))
        return {
            "index": np.array(list(outcomes), dtype=np.int64),
            "outcome": np.array(list(outcomes.values()), dtype=object),
        }

    def _score_group(self, group: list[int], rows: dict[int, BatchInput]) -> dict[int, str]:
        from .. import ffmpeg
        from .scorer import unexpected

        self.ray.get(self.ledger.begin.remote(self.key, group))
        done: dict[int, str] = {}
        jobs = [(index, rows[index]) for index in group]
        try:
            for index, result in self.scorer.score_many(jobs):
                done[index] = _outcome(result)
        except Exception as exc:  # noqa: BLE001 - only with raise_unexpected; a row, never a block
            for index, item in jobs:
                if index not in done:
                    done[index] = _outcome(unexpected(item, self.config.recipe, exc))
        finally:
            ffmpeg.reap()  # nothing is in flight: no ffmpeg may outlive its input
        self.ray.get(self.ledger.finish.remote(self.key, group))
        return done

    def shutdown(self) -> None:
        """Stop the shared embedder, kill leftover ffmpeg, remove the temporary folder."""
        from .. import ffmpeg

        with contextlib.suppress(Exception):
            if self.scorer is not None:
                self.scorer.close()
        ffmpeg.reap()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __del__(self) -> None:  # Ray Data drops its actors at the end of a run
        self.shutdown()


def _outcome(result: VideoResult) -> str:
    return json.dumps({"result": result.to_dict()}, allow_nan=False)


# -- the executor -----------------------------------------------------------------------------


class RayExecutor:
    """Scores on a Ray cluster (see the module docstring)."""

    name = "ray"
    timeout_s: float | None = None  # no per-input time limit

    def __init__(self, config: RayConfig | None = None) -> None:
        self.config = config or RayConfig()

    def check(self, config: BatchConfig, run: RunConfig) -> None:
        if config.needs_reference:
            # Its input rows (input_row) carry no ground-truth path yet.
            raise ConfigError(
                f"--engine ray cannot run recipe {config.recipe} or the row (it needs a "
                "reference video per input, which its input rows do not carry); use --engine local"
            )
        if config.score_config.device.startswith("cuda") and not self.config.gpus_per_actor:
            raise ConfigError(
                f"--device {config.score_config.device} with --engine ray needs "
                "--gpus-per-actor (Ray hides the GPUs from actors that reserve none)"
            )
        check_ray_installed()

    def results(
        self, jobs: Sequence[tuple[int, BatchInput]], context: ExecContext
    ) -> Iterator[tuple[int, VideoResult]]:
        from ..types import VideoResult
        from .scorer import error_from_wire

        local = not (self.config.ray_address or os.environ.get("RAY_ADDRESS"))
        saved = _signal_handlers()
        ray = import_ray(local=local)
        with quiet_stderr(), _ray_runtime(ray, self.config):
            _restore_signal_handlers(saved)  # Ray's core replaced SIGTERM's: the driver's again
            _quiet_ray_data(ray)
            actors = pool_size(self.config, ray.cluster_resources(), len(jobs))
            ledger_name = f"syncnet-eval-ledger-{os.getpid()}-{id(jobs):x}"
            ledger = ray.remote(AttemptLedger).options(name=ledger_name, num_cpus=0).remote()
            try:
                rows = [input_row(i, item) for i, item in jobs]
                blocks = max(
                    1, min(len(rows), max(4 * actors, math.ceil(len(rows) / ROWS_PER_BLOCK)))
                )
                dataset = ray.data.from_items(rows, **{_blocks_keyword(ray): blocks})
                scored = dataset.map_batches(
                    ScorerActor,
                    fn_constructor_kwargs={
                        "config": context.config,
                        "resolved": context.resolved,
                        "streams": context.run.streams,
                        "threads": max(1, round(self.config.cpus_per_actor)),
                        "ledger": ledger_name,
                        "log_level": context.worker_log_level,
                    },
                    batch_size=context.run.streams,  # rows per call: inputs scored at once
                    batch_format="numpy",
                    num_cpus=self.config.cpus_per_actor,
                    num_gpus=self.config.gpus_per_actor or None,
                    **pool_strategy(ray, actors),
                )
                rows_out = iter(scored.iter_rows())
                try:
                    while True:
                        try:
                            row = next(rows_out)
                        except StopIteration:
                            break
                        except Exception as exc:  # noqa: BLE001 - Ray's side failed: one line
                            raise _engine_error(exc) from exc
                        outcome = json.loads(row["outcome"])
                        if "fatal" in outcome:
                            raise error_from_wire(outcome["fatal"])
                        yield int(row["index"]), VideoResult.from_dict(outcome["result"])
                finally:
                    # A stopped run (Ctrl-C, SIGTERM) ends Ray Data's execution before the
                    # runtime goes: its threads must not call Ray (and start a new runtime)
                    # after the shutdown.
                    close = getattr(rows_out, "close", None)
                    if close is not None:
                        with contextlib.suppress(Exception):
                            close()
            finally:
                ray.kill(ledger)  # also drops its actor handles, so Ray Data's actors can go


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _signal_handlers() -> dict[int, Any]:
    """The handlers of the signals that stop a run (the driver's: ``run.sigterm_stops_the_run``
    makes SIGTERM stop like Ctrl-C)."""
    return {s: signal.getsignal(s) for s in _STOP_SIGNALS}


def _restore_signal_handlers(saved: dict[int, Any]) -> None:
    """Put back the handlers :func:`_signal_handlers` saw: starting Ray's core installs its
    own for SIGTERM (a crash report and abort, exit 134), which would skip the driver's stop
    (records kept, Parquet written, the resume line, exit 143)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in saved.items():
        if handler is not None:
            signal.signal(signum, handler)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """While Ray runs, this process's stderr (file descriptor 2, which Ray's C++ core writes to
    directly) goes through a filter: lines of Ray's core are dropped, colour codes removed;
    everything else (the package's own log lines, the actors' forwarded ones) passes in order."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):
        yield  # no file descriptor 2 to filter
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        pending = b""
        while chunk := os.read(read_end, 1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if not _RAY_CORE_LINE.match(line):
                    os.write(real, _ANSI.sub(b"", line) + b"\n")
            if b"\r" in pending:  # a progress bar redrawing its line: show it now
                shown, _, pending = pending.rpartition(b"\r")
                os.write(real, shown + b"\r")
        if pending:
            os.write(real, pending)
        os.close(read_end)

    thread = threading.Thread(target=forward, name="syncnet-eval-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer closes: the thread reads to the end
        thread.join(5)
        os.close(real)


def create(options: RayConfig | None = None) -> RayExecutor:
    """The registry's constructor."""
    return RayExecutor(options)


def _engine_error(exc: BaseException) -> SyncEvalError:
    """The error to report for a failed Ray run: the package's own error when one is in the
    chain of causes, else a one-line summary."""
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
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return SyncEvalError(f"the Ray run failed: {type(exc).__name__}: {first}")


def _package_path() -> dict[str, str]:
    """``PYTHONPATH`` for a runtime started here: its workers import this very package."""
    root = str(Path(__file__).resolve().parents[2])
    return {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


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
    env = {**QUIET_ENV, **_package_path()}
    address = config.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, runtime_env={"env_vars": dict(QUIET_ENV)}, **quiet)
    else:
        ray.init(
            address="local",  # a new runtime, not a cluster 'ray start' left running here
            include_dashboard=False,
            runtime_env={"env_vars": env},
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
