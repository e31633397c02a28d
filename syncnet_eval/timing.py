"""Per-stage wall-clock timing of one video: ``with timer.stage("detection"): ...``.

Recipes wrap each named step in :meth:`Timer.stage`; a stage entered inside another is charged
to itself only (the outer stage gets the rest), so the stages add up to the time spent in them.
The totals end up in every record's ``timings_s``. A :class:`StageHook` (pyannote's hook
pattern) sees each stage start, advance and finish: the command line draws progress with it.
Inside :meth:`Timer.about` (``with timer.about("track 1 of 2"):``) the hook sees each stage
named with what it works on, ``embeddings (track 1 of 2)``; the timings keep the bare name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
import time
from typing import Protocol, TypeVar

__all__ = ["StageHook", "Timer"]

T = TypeVar("T")


class StageHook(Protocol):
    """Told about a video's stages as they run (progress displays).

    ``stage`` is the stage's name, followed by what it works on in parentheses inside
    :meth:`Timer.about` (``embeddings (track 1 of 2)``).
    """

    def started(self, stage: str, total: int | None) -> None:
        """``stage`` began; ``total`` units (frames, windows) are expected, if known."""

    def advanced(self, stage: str, units: int) -> None:
        """``units`` more of ``stage`` are done."""

    def finished(self, stage: str, seconds: float) -> None:
        """``stage`` ended after ``seconds`` (its own time, nested stages excluded)."""

    def failed(self, stage: str, seconds: float) -> None:
        """``stage`` stopped after ``seconds`` with an exception (the error says why); it is
        not finished."""


class Timer:
    """Seconds spent per named stage (accumulated over repeated entries).

    Args:
        hook: told when stages start, advance and finish.
    """

    def __init__(self, hook: StageHook | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.hook = hook
        self._open: list[str] = []  # the open stages as the hook sees them
        self._about: list[str] = []
        self._nested: list[float] = []  # per open stage: seconds charged to stages inside it
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the timer was made."""
        return time.perf_counter() - self._start

    def add(self, stage: str, seconds: float) -> None:
        """Charge ``seconds`` to ``stage``."""
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def stage(self, name: str, total: int | None = None) -> AbstractContextManager[None]:
        """Time the block as ``name``, minus what stages nested inside it were charged.

        Args:
            name: the stage (a key of ``timings_s``).
            total: units the stage will :meth:`advance` through, if known (for progress).
        """
        return self._timed(name, total, notify=True)

    @contextmanager
    def about(self, subject: str) -> Iterator[None]:
        """Stages inside work on ``subject`` (``track 1 of 2``): the hook sees it after each
        stage's name."""
        self._about.append(subject)
        try:
            yield
        finally:
            self._about.pop()

    @contextmanager
    def _timed(self, name: str, total: int | None, *, notify: bool) -> Iterator[None]:
        hook = self.hook if notify else None
        t0 = time.perf_counter()
        shown = f"{name} ({self._about[-1]})" if self._about else name
        self._open.append(shown)
        self._nested.append(0.0)
        if hook is not None:
            hook.started(shown, total)
        ok = False
        try:
            yield
            ok = True
        finally:
            elapsed = time.perf_counter() - t0
            own = elapsed - self._nested.pop()
            self._open.pop()
            self.add(name, own)
            if self._nested:
                self._nested[-1] += elapsed
            if hook is not None:
                (hook.finished if ok else hook.failed)(shown, own)

    def advance(self, units: int) -> None:
        """Report progress of the innermost open stage (frames decoded, windows embedded)."""
        if self.hook is not None and self._open:
            self.hook.advanced(self._open[-1], units)

    def wrap(self, name: str, items: Iterable[T]) -> Iterator[T]:
        """Pass ``items`` through, charging the time spent producing each one to ``name``.

        Consumed inside another stage (frames decoded while the embedder waits for them), that
        time is taken off the outer stage. No hook sees these short entries.
        """
        it = iter(items)
        while True:
            with self._timed(name, None, notify=False):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def rounded(self, digits: int = 4) -> dict[str, float]:
        """The timings rounded for a record."""
        return {k: round(v, digits) for k, v in self.timings.items()}
