"""The stage timer: nested stages charged once, and what a progress hook is told."""

from __future__ import annotations

import pytest

from syncnet_eval.timing import Timer


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, stage: str, total: int | None) -> None:
        self.events.append(("started", stage))

    def advanced(self, stage: str, units: int) -> None:
        self.events.append(("advanced", stage))

    def finished(self, stage: str, seconds: float) -> None:
        self.events.append(("finished", stage))

    def failed(self, stage: str, seconds: float) -> None:
        self.events.append(("failed", stage))


def test_a_stage_that_raises_is_failed_not_finished() -> None:
    hook = _Recorder()
    timer = Timer(hook)
    with timer.stage("mfcc"):
        pass
    with pytest.raises(FileNotFoundError), timer.stage("decode"), timer.stage("inner"):
        raise FileNotFoundError("x.mp4")
    assert hook.events == [
        ("started", "mfcc"),
        ("finished", "mfcc"),
        ("started", "decode"),
        ("started", "inner"),
        ("failed", "inner"),
        ("failed", "decode"),
    ]
    assert set(timer.timings) == {"mfcc", "decode", "inner"}  # the time is still charged
