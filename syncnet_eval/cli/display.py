"""What the command line shows on a terminal: the results table, the summary, batch progress."""

from __future__ import annotations

from collections.abc import Sequence
import re
import sys
import time
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from ..bands import band_line
from ..checks import counts_line
from ..engines.plan import RunHooks
from ..logs import one_line
from ..measures import video_fields
from ..presentation import (
    ABS_OFFSET,
    LSE_C,
    LSE_D,
    OFFSET_SENTENCE,
    count,
    number,
    offset_text,
)
from ..stats import BatchSummary
from ..types import TrackResult, VideoResult

if TYPE_CHECKING:
    from ..engines.records import BatchEvent
    from ..timing import StageHook

__all__ = [
    "OFFSET_LEGEND",
    "Progress",
    "SHORT_TRACK_NOTE",
    "StageProgress",
    "columns",
    "format_summary",
    "format_table",
    "num",
    "result_warning_lines",
    "shown",
    "warning_lines",
]


def shown(text: str) -> str:
    """``text`` safe for one terminal line: newlines and control characters escaped, bytes of
    file names that are not UTF-8 shown as ``\\xNN``."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in one_line(text))


def columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows of cells as left-aligned, space-separated columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def num(x: float | None, digits: int = 3) -> str:
    """A number for a table cell (:func:`syncnet_eval.presentation.number`)."""
    return number(x, digits)


# A number inside a warning: the part of its text that differs from one input to the next.
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
WARNING_FILES_SHOWN = 3  # files named on a grouped warning line


def _warning_kind(file: str, text: str) -> tuple[str, list[str]]:
    """A warning's text without its file's name, split at its numbers: (the words with each
    number as ``{}``, the numbers)."""
    text = text.removeprefix(f"{file}: ")
    return _NUMBER.sub("{}", text.replace("{", "{{").replace("}", "}}")), _NUMBER.findall(text)


def warning_lines(warnings: Sequence[tuple[str, str]]) -> list[str]:
    """``Warning:`` lines for ``(file, warning)`` pairs, one per kind of warning.

    A kind said for one file is its own line, as the file's record has it. A kind said for
    several is one line: how many inputs, the words (a number that differs between the files
    shown as ``…``; each record's ``warnings`` keeps its own) and the first files named.
    """
    kinds: dict[str, list[tuple[str, str, list[str]]]] = {}
    for file, text in warnings:
        kind, numbers = _warning_kind(file, text)
        kinds.setdefault(kind, []).append((file, text, numbers))
    lines = []
    for kind, said in kinds.items():
        files = list(dict.fromkeys(file for file, _, _ in said))
        if len(files) == 1:
            lines += [f"Warning: {shown(text)}" for text in dict.fromkeys(t for _, t, _ in said)]
            continue
        columns_ = zip(*(numbers for _, _, numbers in said), strict=True)
        words = kind.format(*(col[0] if len(set(col)) == 1 else "…" for col in columns_))
        named = ", ".join(shown(f) for f in files[:WARNING_FILES_SHOWN])
        more = len(files) - WARNING_FILES_SHOWN
        named += f", and {more} more" if more > 0 else ""
        lines.append(f"Warning: {count(len(files), 'input')}: {shown(words)} ({named})")
    return lines


def result_warning_lines(results: Sequence[VideoResult]) -> list[str]:
    """:func:`warning_lines` of every record's ``warnings``."""
    return warning_lines([(r.path, w) for r in results for w in r.warnings])


OFFSET_LEGEND = OFFSET_SENTENCE
# best picks the highest LSE-C, and LSE-C (median minus minimum of a mean over windows) runs
# higher on fewer windows: a short track can win over the long one that carries the speech.
SHORT_TRACK_NOTE = "picked by LSE-C, which favours short tracks"


def _track_line(r: VideoResult, t: TrackResult, rule: str) -> str:
    selected = t.index == r.selected_track
    note = ""
    longest = max(r.tracks, key=lambda u: u.num_windows)
    if selected and rule == "best" and t.num_windows < longest.num_windows:
        note = (
            f"  ({SHORT_TRACK_NOTE}; the longest, track {longest.index}, has "
            f"{count(longest.num_windows, 'window')})"
        )
    speaking = ""
    if t.speaking_judge == "light-asd" and t.speaking_fraction is not None:
        speaking = f"  speaking {100 * t.speaking_fraction:.0f}% (ASD)"
    return (
        f"  {'*' if selected else ' '}track {t.index} frames {t.first_frame}-{t.last_frame}, "
        f"{count(t.num_windows, 'window')}: offset {offset_text(t.av_offset)}  "
        f"{LSE_D.name} {number(t.lse_d)}  {LSE_C.name} {number(t.lse_c)}{speaking}{note}"
    )


def _name(r: VideoResult, with_id: bool) -> str:
    return shown(r.path) + (f" (id {shown(r.id)})" if with_id and r.id else "")


def format_table(results: list[VideoResult]) -> str:
    """A row per video (offset, LSE-D, LSE-C, tracks, flags), then, for each multi-track
    video, its name and a line per track (frames, windows, numbers) with the one that gave the
    video's numbers marked ``*``. Rows get an ``id`` column when two records share a path
    (rows of a manifest may: the same video with two audio tracks)."""
    with_id = len({r.path for r in results}) < len(results)
    head = (
        "file",
        *(("id",) if with_id else ()),
        "status",
        "AV offset",
        LSE_D.name,
        LSE_C.name,
        "tracks",
        "flags",
    )
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        name = (shown(r.path), *((shown(r.id or ""),) if with_id else ()))
        if r.ok:
            offset = offset_text(r.av_offset, r.av_offset_ms)
            numbers = (offset, number(r.lse_d), number(r.lse_c))
        else:
            numbers = (number(None),) * 3
        rows.append((*name, r.status, *numbers, str(len(r.tracks)), ",".join(r.flags)))
    lines = columns(rows)
    for r in results:
        if r.ok and len(r.tracks) > 1:
            rule = r.track_select or r.aggregate or "best"
            lines.append(f"{_name(r, with_id)}: {count(len(r.tracks), 'track')}")
            lines += [_track_line(r, t, rule) for t in r.tracks]
    if any(r.ok for r in results):
        lines.append(OFFSET_LEGEND)
    rules = sorted(
        {r.track_select or r.aggregate or "best" for r in results if r.ok and len(r.tracks) > 1}
    )
    if rules:
        lines.append(
            f"(* the track the video's numbers come from, by --track-select {'/'.join(rules)})"
        )
    return "\n".join(lines)


def format_summary(summary: BatchSummary) -> str:
    """The batch summary as plain-text tables (stats over scored videos only)."""
    lines = [f"summary: {counts_line(summary)}"]
    if summary.num_scored:
        rows: list[tuple[str, ...]] = [("metric", "n", "mean", "std", "95% CI (bootstrap)")]
        for label, m in ((LSE_D.name, summary.lse_d), (LSE_C.name, summary.lse_c)):
            rows.append(
                (label, str(m.n), num(m.mean), num(m.std), f"{num(m.ci_low)} to {num(m.ci_high)}")
            )
        abs_offset = num(summary.mean_abs_offset)
        rows.append((ABS_OFFSET.name, str(summary.num_scored), abs_offset, "", ""))
        lines += columns(rows)
        lines.append("(means over the n videos in them; the others are counted above)")
    if summary.groups:
        means = (f"{LSE_D.name} mean", f"{LSE_C.name} mean", f"{ABS_OFFSET.name} mean")
        rows = [("group", "inputs", "ok", "in means", *means)]
        for name, g in summary.groups.items():
            rows.append(
                (
                    name,
                    str(g.num_inputs),
                    str(g.num_ok),
                    str(g.num_scored),
                    num(g.lse_d.mean),
                    num(g.lse_c.mean),
                    num(g.mean_abs_offset),
                )
            )
        lines.append("")
        lines += columns(rows)
    if summary.datasets:
        lines += ["", "reference bands (published real video; docs/bands.md):"]
        for d in summary.datasets.values():
            g = d.summary
            line = band_line(d.band, g.lse_c.mean, g.lse_d.mean, g.num_scored, d.verdict)
            lines.append(f"  {line}")
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _numbers(r: VideoResult) -> str:
    """A scored record's numbers for a progress line: LSE-D and LSE-C, or, for a record without
    SyncNet numbers (``lmd``'s), its measures that enter a summary."""
    if r.lse_d is not None and r.lse_c is not None:
        return f"LSE-D {r.lse_d:.3f} LSE-C {r.lse_c:.3f}"
    found = [
        f"{f.label} {f.shown(r.measures[f.name])}"
        for f in video_fields()
        if f.summary != "none" and r.measures.get(f.name) is not None
    ]
    return " ".join(found) or "scored"


class Progress:
    """Progress on stderr: a tqdm bar on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, enabled: bool) -> None:
        self.wanted = enabled
        self.enabled = enabled
        self.bar: Any = None
        self.t0 = time.monotonic()
        self.resumed = 0
        self.failed = 0

    def hooks(
        self,
        worker_log_level: int | None,
        *,
        download_progress: bool = True,
        stage_hook: StageHook | None = None,
    ) -> RunHooks:
        """The run's hooks: this progress told of the run's start and of every record."""
        return RunHooks(self.start, self.record, stage_hook, worker_log_level, download_progress)

    def start(self, total: int, resumed: int) -> None:
        """A batch of ``total`` inputs starts, ``resumed`` of them already in the log (a command
        may run several batches: ``fix`` measures, then measures the copies)."""
        self.close()
        self.t0 = time.monotonic()
        self.resumed = resumed
        self.failed = 0
        self.enabled = self.wanted and total > 1
        if not self.enabled:
            return
        if sys.stderr.isatty():
            self.bar = tqdm(
                total=total,
                initial=resumed,
                unit="video",
                desc="scoring",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )
        else:
            extra = f" ({resumed} already in the log)" if resumed else ""
            click.echo(f"scoring {count(total, 'input')}{extra}", err=True)

    def record(self, event: BatchEvent) -> None:
        """One input finished."""
        if not self.enabled:
            return
        r = event.record.result
        if not r.ok:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        elapsed = time.monotonic() - self.t0
        new_done = event.done - self.resumed
        left = event.total - event.done
        eta = elapsed / new_done * left if new_done else 0.0
        what = _numbers(r) if r.ok else "not scored"
        width = len(str(event.total))
        click.echo(
            f"[{event.done:>{width}}/{event.total}] {r.status:<12} {shown(r.path)}  {what}  "
            f"({_clock(elapsed)} elapsed, ~{_clock(eta)} left)",
            err=True,
        )

    def close(self) -> None:
        """Take the bar down."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StageProgress:
    """Progress through one video's stages on stderr (a :class:`~syncnet_eval.timing.StageHook`).

    On a terminal: a bar with the frame count and ETA for each stage that knows its length.
    Otherwise one line per finished stage, with its time and speed.
    """

    def __init__(self, name: str) -> None:
        self.name = shown(name)
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.units = 0

    def started(self, stage: str, total: int | None) -> None:
        self.units = 0
        if self.tty and self.bar is None:
            self.bar = tqdm(
                total=total,
                desc=stage,
                unit="frame",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def advanced(self, stage: str, units: int) -> None:
        self.units += units
        if self.bar is not None:
            self.bar.update(units)

    def failed(self, stage: str, seconds: float) -> None:
        # Nothing to say: the error line that follows names the file and the cause.
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finished(self, stage: str, seconds: float) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.tty:
            per_s = f"{self.units / seconds:.1f}/s"
            rate = f", {count(self.units, 'frame')} ({per_s})" if self.units else ""
            click.echo(f"{self.name}: {stage} done in {seconds:.1f} s{rate}", err=True)
