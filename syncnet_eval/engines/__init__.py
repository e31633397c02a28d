"""Running many inputs: one driver, pluggable executors, a registry of executors by name.

- :mod:`.plan`: ``BatchConfig`` (how each input is scored), ``RunConfig`` (how the run goes),
  ``RunOutputs`` (where records go), ``ResolvedRun`` (weights resolved once).
- :mod:`.records`: ``BatchRecord``, the resume index, the retry, time-limit and latest-record
  rules.
- :mod:`.scorer`: ``Scorer``, the per-input function every executor runs; every failure record
  the engines write; worker logging.
- :mod:`.run`: :func:`~syncnet_eval.engines.run.run_inputs`, the only driver (locks, SIGTERM,
  pre-checks, resume, stamping, the log, events, "every input recorded once").
- executors, by name in :data:`EXECUTORS`: where the per-input function runs. Each satisfies
  :class:`Executor`: ``check`` refuses settings it cannot honour, ``results`` yields
  ``(index, VideoResult)`` pairs in any order.

This module is light (no numpy, torch or cluster runtime): the command line reads the registry
for ``--help``; an executor's module is imported when it is chosen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
import importlib
from typing import TYPE_CHECKING, Any, Protocol

from ..registry import choose, load

if TYPE_CHECKING:  # annotations only: the executors load torch
    from ..inputs import BatchInput
    from ..timing import StageHook
    from ..types import VideoResult
    from .plan import BatchConfig, ResolvedRun, RunConfig

__all__ = [
    "DEFAULT_EXECUTOR",
    "EXECUTORS",
    "ExecContext",
    "Executor",
    "ExecutorEntry",
    "REGISTRY",
    "create_executor",
    "executor_entry",
]


@dataclass(frozen=True)
class ExecContext:
    """What an executor needs besides the jobs: how to score, how the run goes, the weights
    the driver resolved, the log level for its workers, and a stage hook (in-process only)."""

    config: BatchConfig
    run: RunConfig
    resolved: ResolvedRun
    worker_log_level: int | None = None
    stage_hook: StageHook | None = None


class Executor(Protocol):
    """Where the per-input function (``engines.scorer.Scorer``) runs.

    Attributes:
        name: its registry name.
        timeout_s: its per-input time limit (``None``: none); resume reuses a timed-out
            record only under a limit no larger than the one it ran under.
    """

    name: str
    timeout_s: float | None

    def check(self, config: BatchConfig, run: RunConfig) -> None:
        """Raise ``ConfigError`` for settings this executor cannot honour (before any work);
        ``DependencyError`` when what it needs is not installed."""

    def results(
        self, jobs: Sequence[tuple[int, BatchInput]], context: ExecContext
    ) -> Iterator[tuple[int, VideoResult]]:
        """Score every job; ``(index, result)`` in any order. A result for an index already
        given is ignored by the driver (a retried block); an index never given is recorded
        as ``lost``. Raises only for errors that stop the whole run."""
        ...


@dataclass(frozen=True)
class ExecutorEntry:
    """One executor in the registry.

    Attributes:
        name: the ``--engine`` value.
        help: one sentence for ``--help``.
        module: its module in this package (imported when chosen).
        options: its options dataclass as ``module:Class`` in this package, in a light module
            (fields with ``Option`` metadata become CLI options valid only with this engine),
            or ``None``.
    """

    name: str
    help: str
    module: str
    options: str | None = None

    def load(self) -> Any:
        return importlib.import_module(f"{__name__}.{self.module}")

    def options_class(self) -> type | None:
        """The options dataclass (its module is light at import)."""
        if self.options is None:
            return None
        cls: type = load("." + self.options, __name__)
        return cls


REGISTRY: dict[str, ExecutorEntry] = {
    entry.name: entry
    for entry in (
        ExecutorEntry(
            "local",
            "this machine: in this process, or --workers processes",
            module="local",
            options="plan:LocalOptions",
        ),
        ExecutorEntry(
            "ray",
            'a Ray cluster, or a Ray runtime started here (pip install "syncnet-eval[ray]")',
            module="ray",
            options="ray:RayConfig",
        ),
    )
}
EXECUTORS = REGISTRY  # the name the command line and older code use
DEFAULT_EXECUTOR = "local"


def executor_entry(name: str) -> ExecutorEntry:
    """The registered executor ``name``.

    Raises:
        ConfigError: no such executor (the message lists them).
    """
    entry: ExecutorEntry = choose(REGISTRY, name, "engine")
    return entry


def create_executor(name: str = DEFAULT_EXECUTOR, options: Any = None) -> Executor:
    """An executor by name, with its options dataclass (``None``: its defaults)."""
    entry = executor_entry(name)
    executor: Executor = entry.load().create(options)
    return executor
