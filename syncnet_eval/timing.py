"""Per-stage wall-clock timing of one video: ``with timer.stage("detection"): ...``.

Recipes wrap each named step in :meth:`Timer.stage`; a stage entered inside another is charged
to itself only (the outer stage gets the rest), so the stages add up to the time spent in them.
The totals end up in every record's ``timings_s``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
import time
from typing import TypeVar

__all__ = ["Timer"]

T = TypeVar("T")


class Timer:
    """Seconds spent per named stage (accumulated over repeated entries)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._nested: list[float] = []  # per open stage: seconds charged to stages inside it
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the timer was made."""
        return time.perf_counter() - self._start

    def add(self, stage: str, seconds: float) -> None:
        """Charge ``seconds`` to ``stage``."""
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as ``name``, minus what stages nested inside it were charged."""
        t0 = time.perf_counter()
        self._nested.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            self.add(name, elapsed - self._nested.pop())
            if self._nested:
                self._nested[-1] += elapsed

    def wrap(self, name: str, items: Iterable[T]) -> Iterator[T]:
        """Pass ``items`` through, charging the time spent producing each one to ``name``.

        Consumed inside another stage (frames decoded while the embedder waits for them), that
        time is taken off the outer stage.
        """
        it = iter(items)
        while True:
            with self.stage(name):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def rounded(self, digits: int = 4) -> dict[str, float]:
        """The timings rounded for a record."""
        return {k: round(v, digits) for k, v in self.timings.items()}
