"""The one place for what every output shows: window times, the offset axis, labels, numbers,
the offset sign, colours; and every renderer takes them from there."""

from __future__ import annotations

from dataclasses import replace
import math
from pathlib import Path
import re

import pytest

from syncnet_eval.presentation import (
    MISSING,
    OFFSET_SIGN,
    count,
    fps_text,
    number,
    offset_axis,
    offset_text,
    scored_fps,
    signed,
    window_start_s,
    window_time_s,
    window_times_s,
)
from syncnet_eval.types import OFFSET_CONVENTION, TrackResult

from conftest import scored_result

PACKAGE = Path(__file__).resolve().parents[1] / "syncnet_eval"
RENDERERS = [
    "report.py",
    "report_assets/report.js",
    "plots.py",
    "visualise.py",
    "checks.py",
    "cli/display.py",
]


def _track(first: int, n: int, fps: float, *, times: bool = True) -> TrackResult:
    return TrackResult(
        index=0,
        first_frame=first,
        last_frame=first + n + 4,
        av_offset=0,
        lse_d=7.0,
        lse_c=3.0,
        num_windows=n,
        dist_by_shift=[0.0] * 31,
        framewise_conf=[1.0] * n,
        start_s=first / fps if times else None,
        end_s=None,
        framewise_time_s=[(first + i) / fps for i in range(n)] if times else None,
    )


@pytest.mark.parametrize("fps", [25.0, 30.0, 30000 / 1001])
def test_window_i_is_i_frames_of_the_scored_stream_after_the_first(fps: float) -> None:
    """Frame-rate definition: window i starts at frame first + i, at (first + i) / fps s."""
    track = _track(40, 50, fps)
    assert scored_fps(track) == pytest.approx(fps)
    assert window_start_s(track) == pytest.approx(40 / fps)
    for i in (0, 1, 17, 49):
        assert window_time_s(track, i) == pytest.approx((40 + i) / fps)
    assert window_times_s(track) == pytest.approx([(40 + i) / fps for i in range(50)])


def test_a_record_without_times_is_at_25_fps_from_its_first_frame() -> None:
    track = _track(10, 20, 25.0, times=False)
    assert scored_fps(track) == 25.0
    assert window_times_s(track) == pytest.approx([(10 + i) * 0.04 for i in range(20)])


def test_the_offset_axis_pairs_point_k_with_offset_vshift_minus_k() -> None:
    """A curve whose minimum is planted at the offset: the axis finds it there."""
    for vshift, planted in ((15, 3), (15, -7), (4, 0)):
        curve = [abs(k - (vshift - planted)) for k in range(2 * vshift + 1)]
        axis = offset_axis(len(curve))
        assert len(axis) == len(curve) and axis[vshift] == 0
        assert axis[curve.index(min(curve))] == planted


def test_numbers_and_the_missing_glyph() -> None:
    for missing in (None, math.nan, math.inf):
        assert number(missing) == signed(missing) == offset_text(missing) == MISSING
    assert number(7.12345) == "7.123" and signed(0.5) == "+0.500" and signed(-0.5, 1) == "-0.5"
    assert offset_text(2, 80.0) == "+2 (+80 ms)" and offset_text(-1.5) == "-1.50"
    assert fps_text(30000 / 1001) == "29.97" and fps_text(25.0) == "25"
    assert count(1, "record") == "1 record" and count(2, "record") == "2 records"


def test_every_renderer_says_the_offset_sign_the_one_way() -> None:
    from syncnet_eval.checks import comparison_markdown
    from syncnet_eval.cli.display import format_table
    from syncnet_eval.report import ReportRun, build_report
    from syncnet_eval.stats import pair_results

    a = [scored_result("a.mp4", offset=2)]
    b = [replace(a[0], lse_c=1.0)]
    assert OFFSET_SIGN in OFFSET_CONVENTION  # every record
    assert OFFSET_SIGN in format_table(a)
    assert OFFSET_SIGN in comparison_markdown(pair_results(b, a), "a", "b", per_video=True)
    page = build_report([ReportRun("run.json", a)])
    assert OFFSET_SIGN in page
    pytest.importorskip("matplotlib")
    _, (ax_curve, _) = a[0].plot()
    assert OFFSET_SIGN in ax_curve.get_xlabel()


# -- nothing re-derives it --------------------------------------------------------------------

# Words that say the sign of an offset ("audio leads", "+ = audio"), written anywhere but in
# presentation.py.
_SIGN_WORDS = re.compile(r"audio\s+leads|\+\s*=\s*audio|audio\s+(?:comes\s+)?(?:early|first)", re.I)
# A fallback for a missing value written as a literal glyph ("-", "–", "n/a", "N/A").
_MISSING_FALLBACK = re.compile(
    r"""(?:\?|\breturn|\belse|\bor)\s*["'](?:-|–|n/a|N/A)["']|["'](?:-|–|n/a|N/A)["']\s+if\b"""
)
# A window's time worked out from a frame index and a rate.
_TIME_RULE = re.compile(r"(?:first_frame|\.a\b)[^\n]*/\s*(?:FPS|fps|rate|v\.fps)\b")


def _code(path: Path) -> str:
    """The source without comments and docstrings (they may explain the sign)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".js":
        return re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"""[\s\S]*?"""', '""', text)
    return re.sub(r"#[^\n]*", "", text)


@pytest.mark.parametrize("name", RENDERERS)
def test_no_renderer_writes_its_own_sign_sentence_glyph_or_time_rule(name: str) -> None:
    code = _code(PACKAGE / name)
    assert _SIGN_WORDS.findall(code) == []
    assert _MISSING_FALLBACK.findall(code) == []
    assert _TIME_RULE.findall(code) == []


def test_the_source_probes_can_fail() -> None:
    assert _SIGN_WORDS.search('label = "AV offset (frames; + = audio leads)"')
    assert _MISSING_FALLBACK.search('return "-" if x is None else f"{x:.3f}"')
    assert _MISSING_FALLBACK.search('x === null ? "–" : x.toFixed(3)')
    assert _MISSING_FALLBACK.search('return "n/a"')
    assert _TIME_RULE.search("return [(track.first_frame + i) / FPS for i in range(n)]")
    assert _MISSING_FALLBACK.search("key = '–' if v is None else str(v)")
    assert not _MISSING_FALLBACK.search('t.a + "–" + t.b')  # a range, not a missing value
    assert not _MISSING_FALLBACK.search('if (flag === "-") {')  # a filter's value


# -- every command's table: presentation's glyph and labels ------------------------------------


def _cells(table: str) -> list[str]:
    return [cell for line in table.splitlines() for cell in re.split(r"\s{2,}", line.strip())]


def test_fix_speakers_and_selftest_tables_show_the_one_glyph_for_a_missing_value() -> None:
    from syncnet_eval.cli.curate import selftest_rows
    from syncnet_eval.cli.fix import format_fix_reports
    from syncnet_eval.cli.speakers import speakers_table
    from syncnet_eval.resync import FixReport
    from syncnet_eval.selftest import PlantedShift, SelftestReport
    from syncnet_eval.types import VideoResult

    failed = VideoResult.failure("a.mp4", "direct", "no_face", "a.mp4: no face")
    fix = format_fix_reports([FixReport("a.mp4", "b.mp4", None, 0.0, None, failed, 1.0)])
    unsure = scored_result("c.mp4", tracks=1)
    speakers = speakers_table(replace(unsure, tracks=[replace(unsure.tracks[0], mean_box=None)]))
    report = SelftestReport("a.mp4", "direct", failed, [PlantedShift(3, failed, None)], 0.0)
    selftest = [cell for row in selftest_rows(report) for cell in row]
    for cells in (_cells(fix), _cells(speakers), selftest):
        assert MISSING in cells
        assert "-" not in cells  # a missing value is never a bare hyphen


def test_the_mean_absolute_offset_has_one_label_in_every_output() -> None:
    from syncnet_eval.checks import Thresholds, run_checks
    from syncnet_eval.cli.display import format_summary
    from syncnet_eval.presentation import ABS_OFFSET
    from syncnet_eval.stats import summarize

    results = [scored_result(f"v{k}.mp4", offset=k, group="g") for k in range(3)]
    summary = format_summary(summarize(results))
    assert summary.count(ABS_OFFSET.name) == 2  # the metrics table and the groups' header
    markdown = run_checks(results, Thresholds(max_abs_offset=0.5)).markdown()
    assert ABS_OFFSET.name.replace("|", "\\|") in markdown  # escaped in a Markdown cell
    for text in (summary, markdown):
        assert "abs offset" not in text and "|offset|" not in text
