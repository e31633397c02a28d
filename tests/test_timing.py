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


def test_stages_inside_about_are_named_with_their_subject_and_timed_bare() -> None:
    hook = _Recorder()
    timer = Timer(hook)
    with timer.stage("detection"):
        pass
    for k in range(2):
        with timer.about(f"track {k}"), timer.stage("embeddings"):
            timer.advance(5)
    assert hook.events == [
        ("started", "detection"),
        ("finished", "detection"),
        ("started", "embeddings (track 0)"),
        ("advanced", "embeddings (track 0)"),
        ("finished", "embeddings (track 0)"),
        ("started", "embeddings (track 1)"),
        ("advanced", "embeddings (track 1)"),
        ("finished", "embeddings (track 1)"),
    ]
    assert set(timer.timings) == {"detection", "embeddings"}  # both tracks' time in one key
