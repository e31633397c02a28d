"""What the command line shows on a terminal: the results table, the summary, batch progress."""

from __future__ import annotations

from collections.abc import Sequence
import sys
import time
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from ..checks import counts_line
from ..logs import one_line
from ..stats import BatchSummary
from ..types import VideoResult

if TYPE_CHECKING:
    from ..batch import BatchEvent  # the batch engine imports torch; only its type is needed

__all__ = [
    "OFFSET_LEGEND",
    "Progress",
    "StageProgress",
    "columns",
    "format_summary",
    "format_table",
    "num",
    "shown",
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
    """A number for a table cell, ``-`` for none."""
    return "-" if x is None else f"{x:.{digits}f}"


def _offset(value: int | float | None, ms: float | None) -> str:
    if value is None:
        return "-"
    frames = f"{value:+d}" if isinstance(value, int) else f"{value:+.2f}"
    return frames if ms is None else f"{frames} ({ms:+.0f} ms)"


OFFSET_LEGEND = "(AV offset in frames and ms; positive: the audio leads the video)"


def format_table(results: list[VideoResult]) -> str:
    """A row per video (offset, LSE-D, LSE-C, tracks, flags), then a line per track of
    multi-track videos with the one that gave the video's numbers marked ``*``."""
    rows: list[tuple[str, ...]] = [
        ("file", "status", "AV offset", "LSE-D", "LSE-C", "tracks", "flags")
    ]
    for r in results:
        flags = ",".join(r.flags)
        if r.ok:
            offset = _offset(r.av_offset, r.av_offset_ms)
            rows.append(
                (shown(r.path), r.status, offset, num(r.lse_d), num(r.lse_c), str(len(r.tracks)),
                 flags)
            )  # fmt: skip
        else:
            rows.append((shown(r.path), r.status, "-", "-", "-", str(len(r.tracks)), flags))
    lines = columns(rows)
    for r in results:
        if r.ok and len(r.tracks) > 1:
            for t in r.tracks:
                mark = "*" if t.index == r.selected_track else " "
                speaking = ""
                if t.speaking_judge == "light-asd" and t.speaking_fraction is not None:
                    speaking = f"  speaking {100 * t.speaking_fraction:.0f}% (ASD)"
                lines.append(
                    f" {mark}track {t.index} frames {t.first_frame}-{t.last_frame}: offset "
                    f"{t.av_offset:+d}  LSE-D {t.lse_d:.3f}  LSE-C {t.lse_c:.3f}{speaking}"
                )
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
        for label, m in (("LSE-D", summary.lse_d), ("LSE-C", summary.lse_c)):
            rows.append(
                (label, str(m.n), num(m.mean), num(m.std), f"{num(m.ci_low)} to {num(m.ci_high)}")
            )
        rows.append(("|offset|", str(summary.num_scored), num(summary.mean_abs_offset), "", ""))
        lines += columns(rows)
        lines.append("(means over the n videos in them; the others are counted above)")
    if summary.groups:
        rows = [("group", "inputs", "ok", "in means", "LSE-D mean", "LSE-C mean", "|offset| mean")]
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
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class Progress:
    """Progress on stderr: a tqdm bar on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.t0 = time.monotonic()
        self.resumed = 0
        self.failed = 0

    def start(self, total: int, resumed: int) -> None:
        """A batch of ``total`` inputs starts, ``resumed`` of them already in the log."""
        self.t0 = time.monotonic()
        self.resumed = resumed
        if not self.enabled or total <= 1:
            self.enabled = False
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
            click.echo(f"scoring {total} inputs{extra}", err=True)

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
        what = f"LSE-D {r.lse_d:.3f} LSE-C {r.lse_c:.3f}" if r.ok else "not scored"
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
                total=total, desc=stage, unit="frame", file=sys.stderr, leave=False,
                dynamic_ncols=True,
            )  # fmt: skip

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
            rate = f", {self.units} frames ({self.units / seconds:.1f}/s)" if self.units else ""
            click.echo(f"{self.name}: {stage} done in {seconds:.1f} s{rate}", err=True)
