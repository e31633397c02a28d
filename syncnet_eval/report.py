"""The HTML report: one self-contained file from results (and a baseline, and CI rules).

:func:`build_report` is a pure function from records to one HTML string; it reads and writes no
file (:func:`annotated_videos` looks for the annotated videos to link). The page needs no
network (inline CSS, JS and SVG; a ``Content-Security-Policy`` that lets it fetch nothing):
a provenance header, the summaries with their bootstrap intervals, the ``check`` verdicts when
rules are given, the paired A/B view when a baseline is given, histograms drawn here as SVG, and
a per-video table that the inline script builds, sorts, filters and pages from one embedded
JSON blob. Per-video charts (the distance-by-offset curve, the confidence timeline) are drawn
by the script when a video is opened, so 10,000 videos cost their numbers, not their drawings.

The embedded data keeps the file small: each track's 31-point curve to 3 decimals and its
per-window confidence as little-endian int16 hundredths in base64 (``conf``; decoded by the
script), its window times as a start and a step. Offsets are in frames of the scored stream;
the page says their sign, labels the metrics and formats numbers as every output does
(:mod:`syncnet_eval.presentation`): the script gets those words, the track colours, each curve's
offset axis and the scene cuts' times in the embedded data instead of working them out.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib import resources
import json
import math
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

import numpy as np

from .bands import band_line
from .checks import (
    CheckReport,
    Thresholds,
    configuration_differences,
    configurations,
    counts_line,
    mixed_configuration_warning,
    run_checks,
)
from .constants import FPS
from .leakage import LEAKAGE_STATISTICS
from .measures import Field, field_named, get_measure, reading_lines, track_fields, video_values
from .media_provenance import media_warning
from .ownership import owner_runs
from .presentation import (
    ABS_OFFSET,
    AV_OFFSET,
    COLOURS,
    DRIFT_AXIS_LABEL,
    LSE_C,
    LSE_D,
    METRICS,
    MISSING,
    OFFSET_AXIS_LABEL,
    OFFSET_SENTENCE,
    OFFSET_SIGN,
    TRACK_COLOURS,
    count,
    drift_text,
    fps_text,
    frame_time_s,
    number,
    offset_axis,
    scored_fps,
    signed,
    window_start_s,
)
from .reliability import FLAG_HELP
from .stats import (
    BatchSummary,
    DatasetSummary,
    GroupSummary,
    MetricSummary,
    PairedComparison,
    in_means,
    is_usable,
    metric_value,
    pair_results,
    summarize,
)
from .types import TrackResult, VideoResult
from .version import __version__

__all__ = [
    "ANNOTATED_SUFFIX",
    "CONF_SCALE",
    "MOVED_MOST",
    "ReportRun",
    "annotated_video_name",
    "annotated_videos",
    "build_report",
    "encode_confidence",
]

# Per-window confidence is stored as int16 hundredths: +-327 covers any real confidence (the
# reference's is a difference of two distances, a few units), 0.01 is finer than a chart shows.
CONF_SCALE = 100
# ``visualise`` names its output VIDEO_STEM.annotated.mp4 by default; a report links the files of
# that name it finds beside itself.
ANNOTATED_SUFFIX = ".annotated.mp4"
# The A/B view lists this many videos whose LSE-C moved most.
MOVED_MOST = 20
_HIST_BINS = 30
_OFFSET_CONTEXT_FRAMES = 3
_RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
_BASELINE_COLOUR = "#7f7f7f"


@dataclass(frozen=True)
class ReportRun:
    """One run in a report: a name (usually its results file) and its records."""

    name: str
    results: Sequence[VideoResult]


@dataclass
class _Context:
    """What the sections share: the runs, the baseline, the options, the record indices."""

    runs: list[ReportRun]
    baseline: ReportRun | None
    thresholds: Thresholds | None
    include_flagged: bool
    index: dict[int, int] = field(default_factory=dict)  # id(record) -> row in the data
    comparisons: list[PairedComparison] = field(default_factory=list)

    @property
    def all_runs(self) -> list[ReportRun]:
        return [*self.runs, *([self.baseline] if self.baseline is not None else [])]

    def colour(self, run_index: int) -> str:
        if self.baseline is not None and run_index == len(self.runs):
            return _BASELINE_COLOUR
        return _RUN_COLOURS[run_index % len(_RUN_COLOURS)]


def _text(value: str) -> str:
    """A string safe to put in the report: file-name bytes that are not UTF-8 as ``\\xNN``."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _h(value: Any) -> str:
    return escape(_text(str(value)))


def _metric_name(key: str) -> str:
    label = METRICS[key]
    return f"{label.name} ({label.unit})" if label.unit else label.name


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def annotated_video_name(video: str | PurePath) -> str:
    """``clip.annotated.mp4`` for ``dir/clip.mp4``: the name ``visualise`` gives by default."""
    return PurePath(video).stem + ANNOTATED_SUFFIX


def annotated_videos(results: Iterable[VideoResult], directory: Path) -> dict[str, str]:
    """Annotated videos beside a report in ``directory``, by record path.

    For each record, ``directory/<id without its suffix>.annotated.mp4`` (an id that is a
    relative path keeps its folders) or ``directory/<stem>.annotated.mp4``, the first that
    exists; the link is relative to ``directory``.
    """
    found: dict[str, str] = {}
    for r in results:
        candidates = [annotated_video_name(r.path)]
        if r.id and not PurePath(r.id).is_absolute() and ".." not in PurePath(r.id).parts:
            candidates.insert(0, str(PurePath(r.id).with_suffix("")) + ANNOTATED_SUFFIX)
        for name in candidates:
            if (directory / name).is_file():
                found[r.path] = quote(name.encode("utf-8", "surrogateescape"))
                break
    return found


# -- the embedded data ------------------------------------------------------------------------


def encode_confidence(values: Sequence[float]) -> str:
    """Per-window confidence as base64 of little-endian int16 hundredths (``CONF_SCALE``)."""
    scaled = np.clip(np.round(np.asarray(values, dtype=np.float64) * CONF_SCALE), -32768, 32767)
    return base64.b64encode(scaled.astype("<i2").tobytes()).decode("ascii")


def _track_data(track: TrackResult) -> dict[str, Any]:
    # Window i is at ct0 + i * cdt (presentation.window_time_s): one scored frame apart.
    t0, dt = window_start_s(track), 1.0 / scored_fps(track)
    return {
        "i": track.index,
        "a": track.first_frame,
        "b": track.last_frame,
        "o": track.av_offset,
        "d": _round(track.lse_d),
        "c": _round(track.lse_c),
        "n": track.num_windows,
        "t0": _round(track.start_s if track.start_s is not None else t0, 3),
        "t1": _round(track.end_s, 3),
        "dist": [round(x, 3) for x in track.dist_by_shift],
        "conf": encode_confidence(track.framewise_conf),
        "ct0": round(t0, 4),
        "cdt": round(dt, 6),
        # Speaking state by the active-speaker model (--asd): share of frames and segments.
        "sf": _round(track.speaking_fraction, 3) if track.speaking_judge == "light-asd" else None,
        "sp": [
            [round(seg["start_s"], 2), round(seg["end_s"], 2)]
            for seg in (track.speaking_segments or [])
        ]
        if track.speaking_judge == "light-asd"
        else None,
        # Every track measure's numbers (measures registry), as the table shows them.
        "m": {
            f.name: f.shown(track.value(f.name))
            for f in _table_fields()
            if track.value(f.name) is not None
        },
        # Offset over time for the drift chart: the drift as every output writes it, the
        # line's slope, and each segment as [centre s, offset frames, 1 if in the line else 0].
        "dr": drift_text(
            track.value("drift_ms_per_min"),
            track.value("drift_segments"),
            track.value("drift_segments_left_out"),
        )
        if track.value("segment_offsets") is not None
        else None,
        "drs": track.value("drift_ms_per_min"),
        "seg": [
            [round(float(seg["time_s"]), 2), int(seg["offset"]), int(bool(seg.get("used")))]
            for seg in track.value("segment_offsets") or []
        ],
    }


def _table_fields() -> list[Field]:
    """The track measure fields the report's track table has a column for (numbers)."""
    return [f for f in track_fields() if f.numeric and f.video_column]


def _video_data(run_index: int, r: VideoResult, href: str | None) -> dict[str, Any]:
    usable = in_means(r, include_flagged=True)
    fps = float((r.provenance or {}).get("scored_fps") or FPS)
    scenes = r.scenes or []
    return {
        "r": run_index,
        "id": _text(r.id or r.path),
        "p": _text(r.path),
        "g": _text(r.group) if r.group else None,
        "s": r.status,
        "rc": r.reason_code,
        "why": _text(r.reason) if r.reason else None,
        "f": list(r.flags),
        "d": _round(r.lse_d) if usable else None,
        "c": _round(r.lse_c) if usable else None,
        "o": r.av_offset if usable else None,
        "ms": r.av_offset_ms if usable else None,
        "w": [_text(w) for w in r.warnings],
        "sel": r.selected_track,
        "agg": r.track_select or r.aggregate,
        "sc": r.scenes,
        # Scene cuts (the starts of every scene but the first) and the last scene's end, in s.
        "cut": [round(frame_time_s(a, fps), 4) for a, _ in scenes[1:]],
        "end": round(frame_time_s(scenes[-1][1], fps), 4) if scenes else None,
        "t": [_track_data(t) for t in r.tracks],
        "v": href,
        "pr": None,
        # One line per measure (measures registry) of the detail: mouth motion in silence,
        # the offset drift, ...; none when the video was not scored.
        "ml": reading_lines(r) if usable else [],
        # Who owns the audio (the owner measure): [track, start s, end s] per run of one owner,
        # drawn on the timeline over that track's bar; none when not judged.
        "own": [
            [run["track"], round(run["start_s"], 2), round(run["end_s"], 2)]
            for run in owner_runs(video_values(r, get_measure("owner")))
        ]
        if usable
        else [],
    }


def _data(ctx: _Context, videos: Mapping[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for k, run in enumerate(ctx.all_runs):
        for r in run.results:
            ctx.index[id(r)] = len(rows)
            rows.append(_video_data(k, r, videos.get(r.path)))
    for cmp in ctx.comparisons:
        for _, b, n in cmp.pairs:
            i, j = ctx.index[id(n)], ctx.index[id(b)]
            rows[i]["pr"], rows[j]["pr"] = j, i
    names = [_text(run.name) for run in ctx.all_runs]
    lengths = sorted({len(t["dist"]) for v in rows for t in v["t"] if t["dist"]})
    return {
        "version": 1,
        "runs": names,
        "colours": [ctx.colour(k) for k in range(len(names))],
        "baseline": len(ctx.runs) if ctx.baseline is not None else None,
        "flagHelp": dict(FLAG_HELP),
        # What the script shows as every other output does (syncnet_eval.presentation).
        "text": {
            "missing": MISSING,
            "offsetSign": OFFSET_SIGN,
            "offsetAxis": OFFSET_AXIS_LABEL,
            "lseD": LSE_D.name,
            "lseC": LSE_C.name,
            "offset": AV_OFFSET.name,
            "driftAxis": DRIFT_AXIS_LABEL,
            "msPerFrame": 1000.0 / FPS,  # the drift line's ms/min in frames of the offset axis
        },
        # The track table's measure columns: [field name, heading].
        "trackMeasures": [
            [f.name, f.label + (f" ({f.unit})" if f.unit else "")] for f in _table_fields()
        ],
        "trackColours": list(TRACK_COLOURS),
        "axes": {str(n): offset_axis(n) for n in lengths},  # the offset of each curve point
        "videos": rows,
    }


def _script_json(data: Mapping[str, Any]) -> str:
    """JSON safe inside ``<script>``: no ``</script>``, no HTML-significant characters."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# -- provenance -------------------------------------------------------------------------------


def _counted(values: Iterable[Any]) -> str:
    """Distinct values, each with its count when there are several."""
    counts: dict[str, int] = {}
    for v in values:
        key = MISSING if v is None else str(v)
        counts[key] = counts.get(key, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{k} ({n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _weights_cell(provs: list[dict[str, Any]]) -> str:
    parts = []
    for sha, official in sorted(
        {(p.get("syncnet_weights_sha256"), p.get("syncnet_weights_official")) for p in provs},
        key=str,
    ):
        label = "official syncnet_v2" if official else "NOT the official weights"
        css = "ok" if official else "bad"
        parts.append(
            f'<code title="{_h(sha)}">{_h(str(sha)[:16])}…</code> '
            f'<span class="badge {css}">{label}</span>'
        )
    return "<br>".join(parts)


def _config_rows(provs: list[dict[str, Any]], block: str, label: str) -> list[tuple[str, str]]:
    """One row of ``key=value`` cells over the records that have ``block`` (the pipeline's
    options exist only in the pipeline recipe's records)."""
    blocks = [p[block] for p in provs if isinstance(p.get(block), dict)]
    keys = sorted({k for b in blocks for k in b})
    if not keys:
        return []
    cells = [f"{key}={_counted(b.get(key) for b in blocks)}" for key in keys]
    return [(label, _h(", ".join(cells)))]


def _provenance_rows(run: ReportRun) -> list[tuple[str, str]]:
    provs = [r.provenance for r in run.results if r.provenance]
    if not provs:
        return [("provenance", "none recorded (no input could be opened)")]

    def values(key: str) -> str:
        return _h(_counted(p.get(key) for p in provs))

    rows = [
        ("tool version", values("tool_version")),
        ("recipe", _h(_counted(r.recipe for r in run.results))),
        ("SyncNet weights", _weights_cell(provs)),
        ("device", values("device")),
        ("torch / opencv / python", f"{values('torch')} / {values('opencv')} / {values('python')}"),
        ("ffmpeg", values("ffmpeg")),
        (
            "input codecs",
            f"video {values('input_video_codec')}; audio {values('input_audio_codec')}",
        ),
        ("input frame rates", _h(_counted(fps_text(p.get("input_fps")) for p in provs))),
        (
            "track selection",
            _h(_counted(r.track_select or r.aggregate for r in run.results if r.ok)),
        ),
    ]
    rows += _config_rows(provs, "score_config", "score options")
    rows += _config_rows(
        [_without_asd_off(p) for p in provs], "pipeline_config", "pipeline options"
    )
    missing = len(run.results) - len(provs)
    if missing:
        rows.append(
            ("without provenance", f"{count(missing, 'record')} (inputs that could not be opened)")
        )
    return rows


def _without_asd_off(prov: dict[str, Any]) -> dict[str, Any]:
    """``prov`` without the active-speaker model's settings when it was off (``asd`` unset):
    settings of a model that did not run would only be noise."""
    block = prov.get("pipeline_config")
    if not isinstance(block, dict) or block.get("asd") is not None:
        return prov
    kept = {k: v for k, v in block.items() if k != "asd" and not k.startswith("asd_")}
    return {**prov, "pipeline_config": kept}


def _provenance_section(ctx: _Context) -> str:
    parts = ['<section id="provenance"><h2>Provenance</h2>']
    for k, run in enumerate(ctx.all_runs):
        rows = "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in _provenance_rows(run))
        parts.append(
            f'<h3><span class="swatch" style="background:{ctx.colour(k)}"></span>'
            f'{_run_label(ctx, k)}</h3><table class="kv">{rows}</table>'
        )
    parts.append("</section>")
    return "".join(parts)


def _warnings(ctx: _Context) -> str:
    """What makes the numbers hard to compare, shown above the summary."""
    warnings = _configuration_warnings(ctx)
    if any(
        p.get("syncnet_weights_official") is False
        for run in ctx.all_runs
        for p in (r.provenance for r in run.results)
        if p
    ):
        warnings.append(
            "some records were scored with weights that are not the official syncnet_v2.model: "
            "their numbers are not comparable to published ones"
        )
    return "".join(_warning(w) for w in warnings)


def _configuration_warnings(ctx: _Context) -> list[str]:
    warnings = []
    for run in ctx.all_runs:
        if w := mixed_configuration_warning(run.results, run.name):
            warnings.append(w)
    if ctx.baseline is not None:
        base = configurations(ctx.baseline.results)
        for run in ctx.runs:
            differences = configuration_differences(base, configurations(run.results))
            if differences:
                warnings.append(
                    f"{run.name} and the baseline were made with different configurations, so "
                    f"a difference in the numbers may come from them: {'; '.join(differences)}"
                )
            if media := media_warning(ctx.baseline.results, run.results):
                warnings.append(f"{run.name} and the baseline: {media}")
    return warnings


def _warning(text: str) -> str:
    return f'<p class="warning"><b>Warning</b>: {_h(text)}</p>'


def _run_label(ctx: _Context, k: int) -> str:
    run = ctx.all_runs[k]
    prefix = "baseline: " if ctx.baseline is not None and k == len(ctx.runs) else ""
    return f"{prefix}<code>{_h(run.name)}</code>"


# -- summary ----------------------------------------------------------------------------------


def _metric_cell(m: MetricSummary) -> str:
    if m.mean is None:
        return MISSING
    return f"{m.mean:.3f} <small>[{number(m.ci_low)}, {number(m.ci_high)}]</small>"


def _summary_row(name: str, g: GroupSummary) -> str:
    statuses = ", ".join(f"{k} {n}" for k, n in g.status_counts.items() if n and k != "ok")
    not_scored = f"{g.num_not_scored}" + (f" <small>({_h(statuses)})</small>" if statuses else "")
    return (
        f"<tr><th>{_h(name)}</th><td>{g.num_inputs}</td><td>{g.num_scored}</td>"
        f"<td>{g.num_flagged}</td><td>{not_scored}</td><td>{_metric_cell(g.lse_d)}</td>"
        f"<td>{_metric_cell(g.lse_c)}</td><td>{number(g.mean_abs_offset, 2)}</td></tr>"
    )


def _measures_table(s: GroupSummary) -> str:
    """The opt-in measures' summaries (the paper's row beyond LSE: LMD, PSNR, SSIM, LPIPS,
    CSIM means with their intervals, FID and FVD of the set), one column each; empty when
    the run has none."""
    cells = []
    for name, found in s.measures.items():
        named = field_named(name)
        if named is None or named[0].default or not named[1].numeric:
            continue
        f = named[1]
        if isinstance(found, MetricSummary):
            if found.mean is None:
                continue
            text = f"{_h(f.shown(found.mean))} <small>[{_h(f.shown(found.ci_low))}, "
            text += f"{_h(f.shown(found.ci_high))}]</small>"
        else:
            text = _h(f.shown(found))
        label = f"{f.label} ({f.unit})" if f.unit else f.label
        if named[0].level == "set":
            label += " (set)"
        cells.append((label, text, name))
    if not cells:
        return ""
    head = "".join(f"<th>{_h(label)}</th>" for label, _, _ in cells)
    row = "".join(f'<td data-measure="{_h(name)}">{text}</td>' for _, text, name in cells)
    return f'<table class="num row-measures"><tr>{head}</tr><tr>{row}</tr></table>'


def _summary_section(ctx: _Context) -> str:
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        "<p>Means over the scored videos"
        + ("" if ctx.include_flagged else " without reliability flags")
        + " with 95% bootstrap intervals (percentile, 10,000 resamples, seed 0). "
        f"{LSE_D.title}; {LSE_C.title}.</p>",
        _warnings(ctx),
    ]
    head = (
        "<tr><th>group</th><th>inputs</th><th>in the means</th><th>flagged</th>"
        f"<th>not scored</th><th>{LSE_D.name} mean [95% CI]</th><th>{LSE_C.name} mean [95% CI]</th>"
        f"<th>mean {escape(ABS_OFFSET.name)}</th></tr>"
    )
    for k, run in enumerate(ctx.all_runs):
        s = summarize(run.results, include_flagged=ctx.include_flagged)
        rows = _summary_row("all", s) + "".join(_summary_row(n, g) for n, g in s.groups.items())
        parts.append(
            f'<h3><span class="swatch" style="background:{ctx.colour(k)}"></span>'
            f"{_run_label(ctx, k)}</h3><p>{_h(counts_line(s))}</p>"
            f'<table class="num">{head}{rows}</table>' + _measures_table(s)
        )
        parts += [_band_paragraph(d) for d in s.datasets.values()]
        parts.append(_leakage_table(s))
    parts.append("</section>")
    return "".join(parts)


def _leakage_table(s: BatchSummary) -> str:
    """The leakage protocol's statistics per group (docs/leakage.md); empty without any."""
    found = [("all", s.leakage), *((n, g.leakage) for n, g in s.groups.items())]
    rows = [(n, leak) for n, leak in found if leak is not None]
    if not rows:
        return ""
    head = "".join(
        f"<th>{_h(label)} <small>({'higher' if way == 'higher' else 'lower'}: leakage)</small></th>"
        for label, way in LEAKAGE_STATISTICS.values()
    )
    body = "".join(
        f"<tr><th>{_h(name)}</th>"
        + "".join(f"<td>{_metric_cell(leak.statistics[k])}</td>" for k in LEAKAGE_STATISTICS)
        + f"<td>{leak.pairs.get('current', 0)} / {leak.pairs.get('alternative', 0)}"
        + (f" <small>({len(leak.unpaired)} unpaired)</small>" if leak.unpaired else "")
        + "</td></tr>"
        for name, leak in rows
    )
    return (
        '<h4 id="leakage">Identity leakage</h4><p>Yaman et al., arXiv 2511.08613: Silent LSE '
        "of the clips driven by silence (scored against the source's speech), lip-sync "
        "discrepancy LSE(matched) vs LSE(mismatched) per pair, by identity reference "
        "(CR: current, AR: alternative); means with 95% bootstrap intervals.</p>"
        f'<table class="num"><tr><th>group</th>{head}<th>pairs CR / AR</th></tr>{body}</table>'
    )


def _band_paragraph(d: DatasetSummary) -> str:
    """One line: a dataset's means against its published real-video band and sources."""
    verdict = d.verdict
    line = band_line(
        d.band, d.summary.lse_c.mean, d.summary.lse_d.mean, d.summary.num_scored, verdict
    )
    links = ", ".join(
        f'<a href="{_h(src.get("url", ""))}">{_h(src.get("name", ""))}</a>'
        for src in d.band.get("sources") or []
    )
    css = "band warning" if verdict.better_than_real else "band"
    return f'<p class="{css}"><b>Reference band</b>: {_h(line)} [{links}]</p>'


# -- checks -----------------------------------------------------------------------------------


def _checks_section(ctx: _Context) -> str:
    if ctx.thresholds is None or not ctx.thresholds.any_rule:
        return ""
    parts = ['<section id="checks"><h2>Checks</h2>']
    for run in ctx.runs:
        report: CheckReport = run_checks(
            run.results,
            ctx.thresholds,
            baseline=ctx.baseline.results if ctx.baseline is not None else None,
            results_path=run.name,
            baseline_path=ctx.baseline.name if ctx.baseline is not None else None,
        )
        verdict = "PASS" if report.passed else f"FAIL ({len(report.failures)} failed)"
        css = "ok" if report.passed else "bad"
        rows = "".join(
            f"<tr><td><code>{_h(c.name)}</code></td><td>{_h(c.rule)}</td><td>{_h(c.measured)}</td>"
            f'<td><span class="badge {"ok" if c.passed else "bad"}">'
            f"{'pass' if c.passed else 'FAIL'}</span> {_h(c.message)}"
            + "".join(f"<br><small>{_h(d)}</small>" for d in c.details)
            + "</td></tr>"
            for c in report.checks
        )
        parts.append(
            f'<h3><code>{_h(run.name)}</code> <span class="badge {css}">{verdict}</span></h3>'
            "<table><tr><th>check</th><th>rule</th><th>measured</th><th>result</th></tr>"
            f"{rows}</table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _threshold_lines(thresholds: Thresholds | None, metric: str) -> list[tuple[float, str]]:
    if thresholds is None:
        return []
    if metric == "lse_c" and thresholds.min_lse_c is not None:
        return [(thresholds.min_lse_c, f"min-lse-c {thresholds.min_lse_c:g}")]
    if metric == "lse_d" and thresholds.max_lse_d is not None:
        return [(thresholds.max_lse_d, f"max-lse-d {thresholds.max_lse_d:g}")]
    if metric == "offset" and thresholds.max_abs_offset is not None:
        x = thresholds.max_abs_offset
        return [(-x, f"-{x:g}"), (x, f"max-abs-offset {x:g}")]
    return []


# -- histograms (static SVG) ------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    name: str
    colour: str
    values: np.ndarray


def _bin_edges(series: Sequence[_Series], integer: bool) -> np.ndarray:
    values = np.concatenate([s.values for s in series])
    lo, hi = float(values.min()), float(values.max())
    if integer:  # one bin per frame, and a few frames of context around a narrow spread
        lo, hi = min(lo, -_OFFSET_CONTEXT_FRAMES), max(hi, _OFFSET_CONTEXT_FRAMES)
        return np.arange(math.floor(lo) - 0.5, math.ceil(hi) + 1.5, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, _HIST_BINS + 1)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi]."""
    span = hi - lo if hi > lo else 1.0
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    err = raw / step
    step *= 10 if err >= 7.07 else 5 if err >= 3.16 else 2 if err >= 1.41 else 1  # as d3's
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _histogram_svg(
    title: str,
    series: Sequence[_Series],
    *,
    integer: bool = False,
    lines: Sequence[tuple[float, str]] = (),
    unit: str = "",
) -> str:
    """Overlaid histograms of ``series`` (one colour each) as an inline SVG."""
    series = [s for s in series if s.values.size]
    if not series:
        return (
            f'<figure class="hist"><figcaption>{_h(title)}: no scored video</figcaption></figure>'
        )
    width, height, left, right, top, bottom = 420, 220, 44, 12, 24, 34
    edges = _bin_edges(series, integer)
    line_xs = [x for x, _ in lines]
    lo = min(float(edges[0]), *line_xs) if line_xs else float(edges[0])
    hi = max(float(edges[-1]), *line_xs) if line_xs else float(edges[-1])
    counts = [np.histogram(s.values, bins=edges)[0] for s in series]
    peak = max(1, max(int(c.max()) for c in counts))
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - lo) / (hi - lo) * pw

    def sy(y: float) -> float:
        return top + ph - y / peak * ph

    out = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_h(title)}">',
        f'<text x="{left}" y="15" class="title">{_h(title)}</text>',
    ]
    for s, c in zip(series, counts, strict=True):
        for n, a, b in zip(c, edges[:-1], edges[1:], strict=True):
            if n:
                bar_px = max(sx(b) - sx(a) - 0.5, 0.5)
                out.append(
                    f'<rect x="{sx(a):.1f}" y="{sy(n):.1f}" width="{bar_px:.1f}" '
                    f'height="{sy(0) - sy(n):.1f}" fill="{s.colour}" fill-opacity="0.45" '
                    f'stroke="{s.colour}"><title>{_h(s.name)}: {n} in [{a:.3g}, {b:.3g})'
                    "</title></rect>"
                )
        mean = float(s.values.mean())
        out.append(
            f'<path d="M{sx(mean):.1f},{top + ph}l-4,7h8z" fill="{s.colour}">'
            f"<title>{_h(s.name)}: mean {mean:.3f}</title></path>"
        )
    out.append(_axes_svg(lo, hi, peak, sx, sy, left, top, pw, ph, unit))
    for x, label in lines:
        # The label on the side of the line with room for it: right of it in the left half of
        # the chart, left of it in the right half (it ran past the edge there).
        right_half = sx(x) > left + pw / 2
        anchor, dx = ("end", -3) if right_half else ("start", 3)
        out.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" class="rule"/>'
            f'<text x="{sx(x) + dx:.1f}" y="{top + 10}" class="rule" text-anchor="{anchor}">'
            f"{_h(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _axes_svg(
    lo: float,
    hi: float,
    peak: int,
    sx: Any,
    sy: Any,
    left: int,
    top: int,
    pw: int,
    ph: int,
    unit: str,
) -> str:
    out = [
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>',
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>',
    ]
    for t in _ticks(lo, hi):
        out.append(
            f'<text x="{sx(t):.1f}" y="{top + ph + 22}" class="tick" '
            f'text-anchor="{_tick_anchor(sx(t), left, left + pw)}">{t:g}</text>'
        )
    for t in _ticks(0, peak, 4):
        if t == int(t):
            out.append(
                f'<text x="{left - 4}" y="{sy(t) + 3:.1f}" class="tick" text-anchor="end">'
                f"{int(t)}</text>"
            )
    if unit:
        out.append(
            f'<text x="{left + pw}" y="{top + ph + 32}" class="tick" text-anchor="end">'
            f"{_h(unit)}</text>"
        )
    return "".join(out)


def _tick_anchor(x: float, lo: float, hi: float) -> str:
    """``middle``, or the side that keeps a label within 12 px of the axis' ends inside it."""
    return "start" if x - lo < 12 else "end" if hi - x < 12 else "middle"


def _distributions_section(ctx: _Context) -> str:
    def series(metric: str) -> list[_Series]:
        out = []
        for k, run in enumerate(ctx.all_runs):
            kept = [r for r in run.results if in_means(r, ctx.include_flagged) and is_usable(r)]
            if metric == "offset":
                vals = [float(r.av_offset) for r in kept]  # type: ignore[arg-type]
            else:
                vals = [metric_value(r, metric) for r in kept]
            out.append(_Series(run.name, ctx.colour(k), np.asarray(vals, dtype=np.float64)))
        return out

    offsets = series("offset")
    integer = all(float(v).is_integer() for s in offsets for v in s.values)
    legend = "".join(
        f'<span class="legend"><span class="swatch" style="background:{ctx.colour(k)}"></span>'
        f"{_run_label(ctx, k)}</span>"
        for k in range(len(ctx.all_runs))
    )
    return (
        '<section id="distributions"><h2>Distributions</h2>'
        f"<p>{legend}</p><p>Scored videos"
        + ("" if ctx.include_flagged else " without reliability flags")
        + f"; triangles mark the means, dashed lines the rules of the checks. {OFFSET_SENTENCE}"
        "</p>"
        '<div class="charts">'
        + _histogram_svg(
            LSE_D.title, series("lse_d"), lines=_threshold_lines(ctx.thresholds, "lse_d")
        )
        + _histogram_svg(
            LSE_C.title, series("lse_c"), lines=_threshold_lines(ctx.thresholds, "lse_c")
        )
        + _histogram_svg(
            AV_OFFSET.title,
            offsets,
            integer=integer,
            lines=_threshold_lines(ctx.thresholds, "offset"),
            unit="frames",
        )
        + "</div></section>"
    )


# -- A/B comparison ---------------------------------------------------------------------------


def _paired_rows(cmp: PairedComparison) -> str:
    rows = []
    for name, pm in cmp.metrics.items():
        ci = (
            MISSING
            if pm.diff_ci_low is None
            else f"[{signed(pm.diff_ci_low)}, {signed(pm.diff_ci_high)}]"
        )
        excludes_zero = (
            pm.diff_ci_low is not None
            and pm.diff_ci_high is not None
            and (pm.diff_ci_low > 0 or pm.diff_ci_high < 0)
        )
        rows.append(
            f"<tr><th>{_metric_name(name)}</th><td>{pm.n}</td><td>{number(pm.base_mean)}</td>"
            f"<td>{number(pm.new_mean)}</td><td>{signed(pm.diff_mean)}</td>"
            f'<td class="{"moved" if excludes_zero else ""}">{ci}</td></tr>'
        )
    return "".join(rows)


def _moved_rows(ctx: _Context, cmp: PairedComparison) -> str:
    def delta(pair: tuple[str, VideoResult, VideoResult], metric: str) -> float:
        _, b, n = pair
        return metric_value(n, metric) - metric_value(b, metric)

    moved = sorted(cmp.pairs, key=lambda p: -abs(delta(p, "lse_c")))[:MOVED_MOST]
    rows = []
    for pair in moved:
        key, b, n = pair
        rows.append(
            f'<tr><td><a href="#v={ctx.index[id(n)]}" class="open" data-i="{ctx.index[id(n)]}">'
            f"{_h(key)}</a></td><td>{number(b.lse_c)}</td><td>{number(n.lse_c)}</td>"
            f"<td>{signed(delta(pair, 'lse_c'))}</td><td>{number(b.lse_d)}</td>"
            f"<td>{number(n.lse_d)}</td><td>{signed(delta(pair, 'lse_d'))}</td>"
            f"<td>{b.av_offset:+}</td><td>{n.av_offset:+}</td></tr>"
        )
    return "".join(rows)


def _not_compared(cmp: PairedComparison) -> str:
    items = [f"<li>only in this run: <code>{_h(k)}</code></li>" for k in cmp.only_in_new]
    items += [f"<li>only in the baseline: <code>{_h(k)}</code></li>" for k in cmp.only_in_base]
    items += [
        f"<li><code>{_h(k)}</code>: baseline {_h(b)}, this run {_h(n)}</li>"
        for k, b, n in cmp.not_ok
    ]
    items += [
        f"<li><code>{_h(k)}</code>: flagged (baseline {_h(', '.join(b) or MISSING)}; this run "
        f"{_h(', '.join(n) or MISSING)})</li>"
        for k, b, n in cmp.flagged
    ]
    if not items:
        return ""
    return (
        f"<details><summary>{count(len(items), 'video')} not compared</summary><ul>"
        + "".join(items)
        + "</ul></details>"
    )


def _comparison_section(ctx: _Context) -> str:
    if ctx.baseline is None:
        return ""
    parts = [
        '<section id="comparison"><h2>Paired comparison</h2>',
        "<p>Videos matched by id, else path, and scored in both runs; differences are this run "
        "minus the baseline, with 95% bootstrap intervals (an interval that excludes 0 is "
        "highlighted).</p>",
    ]
    for run, cmp in zip(ctx.runs, ctx.comparisons, strict=True):
        diffs = {
            m: np.asarray([metric_value(n, m) - metric_value(b, m) for _, b, n in cmp.pairs])
            for m in ("lse_d", "lse_c")
        }
        parts.append(
            f"<h3><code>{_h(run.name)}</code> − baseline <code>{_h(ctx.baseline.name)}</code>"
            f"</h3><p>{count(len(cmp.pairs), 'video')} paired.</p>"
            '<table class="num"><tr><th>metric</th><th>n</th><th>baseline mean</th>'
            "<th>this run mean</th><th>mean difference</th><th>95% CI of the difference</th>"
            f"</tr>{_paired_rows(cmp)}</table>"
            '<div class="charts">'
            + "".join(
                _histogram_svg(
                    f"per-video change in {_metric_name(m)}",
                    [_Series(run.name, "#555", diffs[m])],
                    lines=[(0.0, "0")],
                )
                for m in ("lse_d", "lse_c")
            )
            + "</div>"
        )
        if cmp.pairs:
            parts.append(
                f"<h4>The {min(MOVED_MOST, len(cmp.pairs))} videos whose LSE-C moved most</h4>"
                '<table class="num moved-most"><tr><th>video</th><th>LSE-C base</th>'
                "<th>LSE-C new</th><th>Δ</th><th>LSE-D base</th><th>LSE-D new</th><th>Δ</th>"
                f"<th>offset base</th><th>offset new</th></tr>{_moved_rows(ctx, cmp)}</table>"
            )
        parts.append(_not_compared(cmp))
    parts.append("</section>")
    return "".join(parts)


# -- the page ---------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return (resources.files("syncnet_eval") / "report_assets" / name).read_text("utf-8")


def _palette_css() -> str:
    """The marks' colours (presentation.COLOURS) as CSS variables the stylesheet uses."""
    return ":root{" + "".join(f"--{k.replace('_', '-')}:{v};" for k, v in COLOURS.items()) + "}"


_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _videos_section(ctx: _Context) -> str:
    runs = "".join(
        f'<option value="{k}">{_h(run.name)}</option>' for k, run in enumerate(ctx.all_runs)
    )
    run_filter = (
        f'<label>run <select id="f-run"><option value="">all</option>{runs}</select></label>'
        if len(ctx.all_runs) > 1
        else ""
    )
    flags = "".join(f'<option value="{f}">{f}</option>' for f in FLAG_HELP)
    return (
        '<section id="videos"><h2>Videos</h2>'
        "<p>Worst first (lowest LSE-C); click a column to sort, a row to see its curve, "
        f"timeline and tracks. {OFFSET_SENTENCE}</p>"
        '<div class="filters"><label>filter <input id="f-text" type="search" '
        'placeholder="id, path, group, reason"></label>'
        '<label>status <select id="f-status"><option value="">all</option>'
        '<option value="ok">ok</option><option value="!ok">not scored</option></select></label>'
        f'<label>flag <select id="f-flag"><option value="">any</option>'
        f'<option value="-">none</option><option value="+">flagged</option>{flags}'
        f"</select></label>{run_filter}"
        '<span id="count"></span></div>'
        '<div class="table-wrap"><table id="video-table" class="num"><thead><tr></tr></thead>'
        "<tbody></tbody></table></div>"
        '<div class="pager"><button id="prev" type="button">previous</button> <span id="page">'
        '</span> <button id="next" type="button">next</button></div>'
        '<div id="detail" hidden></div></section>'
        '<section id="not-scored"><h2>Not scored</h2><div id="failures"></div></section>'
    )


def _footer() -> str:
    flags = "".join(f"<li><code>{k}</code>: {_h(v)}</li>" for k, v in FLAG_HELP.items())
    return (
        f"<footer><p>{OFFSET_SENTENCE} {LSE_D.name}: mean distance at the best offset "
        f"({LSE_D.better}); {LSE_C.name}: median minus minimum of the distance-by-offset curve "
        f"({LSE_C.better}). "
        "Per-window confidence: the curve's median minus the window's distance at the best "
        "offset, 9-tap median filtered.</p><p>Reliability flags (flagged videos are left out "
        f"of the means unless --include-flagged):</p><ul>{flags}</ul>"
        f"<p>Made by syncnet-eval {_h(__version__)}.</p></footer>"
    )


def build_report(
    runs: Sequence[ReportRun],
    *,
    baseline: ReportRun | None = None,
    thresholds: Thresholds | None = None,
    include_flagged: bool = False,
    videos: Mapping[str, str] | None = None,
    title: str = "syncnet-eval report",
) -> str:
    """The report as one self-contained HTML document.

    Args:
        runs: the runs to show (one per results file); each gets a colour.
        baseline: a reference run: overlaid on the histograms, paired with each run (A/B view)
            and used by the baseline rules of ``thresholds``.
        thresholds: ``check`` rules; their verdicts are shown and their limits drawn.
        include_flagged: let flagged videos into the means, histograms and pairs (as
            ``summarize`` does).
        videos: record ``path`` -> link (relative to the report) to its annotated video.
        title: the page's title.

    Returns:
        The HTML text (UTF-8, no external resource).

    Raises:
        ValueError: ``runs`` is empty, or a baseline rule is set without a baseline.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    if thresholds is not None and thresholds.needs_baseline and baseline is None:
        raise ValueError("--max-lse-c-drop/--max-lse-d-rise need a baseline")
    ctx = _Context(list(runs), baseline, thresholds, include_flagged)
    if baseline is not None:
        ctx.comparisons = [
            pair_results(run.results, baseline.results, include_flagged=include_flagged)
            for run in ctx.runs
        ]
    data = _data(ctx, videos or {})
    counts = ", ".join(
        f"{_h(run.name)}: {count(len(run.results), 'record')}" for run in ctx.all_runs
    )
    # The verdict and the summary first; how the runs were made (provenance) after the videos.
    body = "".join(
        [
            f"<header><h1>{_h(title)}</h1><p>{counts}</p><nav>"
            + ('<a href="#checks">checks</a> ' if thresholds and thresholds.any_rule else "")
            + '<a href="#summary">summary</a> '
            + ('<a href="#comparison">comparison</a> ' if baseline is not None else "")
            + '<a href="#distributions">distributions</a> <a href="#videos">videos</a> '
            '<a href="#not-scored">not scored</a> <a href="#provenance">provenance</a></nav>'
            "</header>",
            _checks_section(ctx),
            _summary_section(ctx),
            _comparison_section(ctx),
            _distributions_section(ctx),
            _videos_section(ctx),
            _provenance_section(ctx),
            _footer(),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_h(title)}</title><style>{_palette_css()}{_asset('report.css')}</style>"
        "</head>"
        f"<body>{body}"
        f'<script type="application/json" id="report-data">{_script_json(data)}</script>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )
