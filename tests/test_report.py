"""The HTML report: what it embeds and shows, the CLI, and the page in a real browser."""

from __future__ import annotations

import base64
from dataclasses import replace
import html
import json
from pathlib import Path
import re
from typing import Any

import numpy as np
import pytest

from syncnet_eval.checks import Thresholds
from syncnet_eval.io import write_results
from syncnet_eval.report import ReportRun, build_report, encode_confidence
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult

from conftest import (
    console_errors,
    invoke_cli,
    needs_chromium,
    open_page,
    page_requests,
    scored_result,
)


def _data(page: str) -> dict[str, Any]:
    """The JSON the page's script reads."""
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def _conf(encoded: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(encoded), "<i2") / 100


def _failed(path: str, status: str = "decode_error", **kw: Any) -> VideoResult:
    return VideoResult.failure(path, "direct", status, f"{path}: could not be read", **kw)


def _run_records() -> list[VideoResult]:
    return [
        scored_result("a.mp4", lse_d=7.0, offset=1, group="g1"),
        scored_result(
            "b.mp4", lse_d=6.0, slope=0.8, group="g2", tracks=2, scenes=[[0, 50], [50, 200]]
        ),
        scored_result("c.mp4", lse_d=8.0, slope=0.3, flags=["few_windows"]),
        _failed("d.mp4", reason_code="timeout"),
    ]


# -- what the page holds ----------------------------------------------------------------------


def test_the_page_embeds_every_record_with_its_curve_and_confidence() -> None:
    results = _run_records()
    page = build_report([ReportRun("run.json", results)])
    data = _data(page)
    videos = data["videos"]
    assert [v["p"] for v in videos] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    a, b, c, d = videos
    assert a["c"] == pytest.approx(results[0].lse_c, abs=1e-4) and a["o"] == 1 and a["ms"] == 40
    assert len(b["t"]) == 2 and b["sel"] == 0 and b["sc"] == [[0, 50], [50, 200]]
    track = results[1].tracks[1]
    assert b["t"][1]["dist"] == pytest.approx(track.dist_by_shift, abs=5e-4)
    assert len(b["t"][1]["dist"]) == 31
    assert _conf(b["t"][1]["conf"]) == pytest.approx(track.framewise_conf, abs=0.005)
    assert b["t"][1]["ct0"] == pytest.approx(track.framewise_time_s[0])
    assert b["t"][1]["cdt"] == pytest.approx(1 / 25)
    assert c["f"] == ["few_windows"] and c["c"] is not None  # flagged: shown, numbers kept
    assert d["s"] == "decode_error" and d["rc"] == "timeout" and d["c"] is None
    assert d["why"] == "d.mp4: could not be read"


def test_confidence_encoding_rounds_to_hundredths_and_saturates() -> None:
    got = _conf(encode_confidence([0.004, -1.236, 12.5, 1e6, -1e6]))
    assert list(got) == pytest.approx([0.0, -1.24, 12.5, 327.67, -327.68])


def test_the_page_loads_nothing_from_anywhere() -> None:
    page = build_report([ReportRun("run.json", _run_records())])
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in page
    assert re.findall(r"\bsrc\s*=", page) == []  # no script, image or frame is fetched
    hrefs = set(re.findall(r'href="([^"]*)"', page))
    assert all(h.startswith("#") or h == "data:," for h in hrefs), hrefs
    # The only URL in the page is SVG's namespace, a name that is never fetched.
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_names_cannot_break_out_of_the_page() -> None:
    hostile = "x</script><img src=x onerror=alert(1)>\udcff.mp4"  # and a byte that is not UTF-8
    page = build_report([ReportRun("<b>run</b>.json", [scored_result(hostile)])])
    assert "</script><img" not in page and "<b>run</b>" not in page
    assert page.encode("utf-8")  # valid UTF-8 throughout
    assert _data(page)["videos"][0]["p"] == "x</script><img src=x onerror=alert(1)>\\xff.mp4"
    assert _data(page)["runs"] == ["<b>run</b>.json"]


def _summary_cells(page: str, run: str) -> list[str]:
    """The cells of the 'all' row of ``run``'s summary table, as text."""
    start = page.index(f"<code>{run}</code>", page.index('id="summary"'))
    row = page[page.index("<tr><th>all</th>", start) :].split("</tr>", 1)[0]
    return [html.unescape(re.sub("<[^>]+>", "", c)) for c in row.split("<td>")[1:]]


def test_summary_leaves_flagged_videos_out_of_the_means_unless_asked() -> None:
    results = _run_records()
    page = build_report([ReportRun("run.json", results)])
    s = summarize(results)
    cells = _summary_cells(page, "run.json")
    # inputs, in the means, flagged, not scored (by status)
    assert cells[:4] == ["4", "2", "1", "1 (decode_error 1)"]
    assert cells[5].startswith(f"{s.lse_c.mean:.3f} [{s.lse_c.ci_low:.3f}, {s.lse_c.ci_high:.3f}]")
    kept = summarize(results, include_flagged=True)
    cells = _summary_cells(
        build_report([ReportRun("run.json", results)], include_flagged=True), "run.json"
    )
    assert cells[1] == "3" and cells[5].startswith(f"{kept.lse_c.mean:.3f}")
    assert 'id="g1"' not in page and "<tr><th>g1</th>" in page  # per group


def test_checks_and_the_paired_view_with_a_baseline() -> None:
    base = [scored_result(f"v{i}.mp4", lse_d=7.0, slope=0.5) for i in range(5)]
    new = [scored_result(f"v{i}.mp4", lse_d=7.0, slope=0.5 - 0.05 * i) for i in range(5)]
    page = build_report(
        [ReportRun("new.json", new)],
        baseline=ReportRun("base.json", base),
        thresholds=Thresholds(min_lse_c=5.0, max_lse_c_drop=0.5),
    )
    assert 'id="checks"' in page and 'id="comparison"' in page
    checks = page[page.index('id="checks"') : page.index('id="comparison"')]
    assert "min-lse-c" in checks and "max-lse-c-drop" in checks
    assert '<span class="badge bad">FAIL (1 failed)</span>' in checks  # mean LSE-C 6.0 < 5?
    moved = page[page.index('class="num moved-most"') :].split("</table>", 1)[0]
    order = re.findall(r"<a href=\"#v=\d+\"[^>]*>(v\d\.mp4)</a>", moved)
    assert order == ["v4.mp4", "v3.mp4", "v2.mp4", "v1.mp4", "v0.mp4"]  # most moved first
    data = _data(page)
    assert data["runs"] == ["new.json", "base.json"] and data["baseline"] == 1
    for i, v in enumerate(data["videos"]):
        pair = data["videos"][v["pr"]]
        assert pair["pr"] == i and pair["p"] == v["p"] and pair["r"] != v["r"]
    assert "min-lse-c 5" in page  # the rule is drawn on the LSE-C histogram


def test_a_baseline_rule_without_a_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="need a baseline"):
        build_report([ReportRun("r", [])], thresholds=Thresholds(max_lse_c_drop=0.1))
    with pytest.raises(ValueError, match="at least one run"):
        build_report([])


# -- the commands -----------------------------------------------------------------------------


@pytest.fixture()
def run_file(tmp_path: Path) -> Path:
    results = _run_records()
    path = tmp_path / "run.json"
    write_results(path, results, summarize(results))
    return path


def test_report_command_writes_the_page_and_links_annotated_videos(
    run_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site" / "report.html"
    out.parent.mkdir()
    (out.parent / "a.annotated.mp4").write_bytes(b"")
    result = invoke_cli(
        ["report", str(run_file), str(run_file.with_suffix(".json")), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{out}: 8 records, ")
    data = _data(out.read_text(encoding="utf-8"))
    assert len(data["runs"]) == 2
    assert [v["v"] for v in data["videos"][:4]] == ["a.annotated.mp4", None, None, None]


def test_report_reads_csv_and_jsonl_results(run_file: Path, tmp_path: Path) -> None:
    results = _run_records()
    csv = tmp_path / "run.csv"
    write_results(csv, results, per_track=True)
    out = tmp_path / "r.html"
    assert invoke_cli(["report", str(csv), "-o", str(out)]).exit_code == 0
    videos = _data(out.read_text(encoding="utf-8"))["videos"]
    assert [len(v["t"]) for v in videos] == [1, 2, 1, 0]
    assert videos[0]["t"][0]["dist"] == []  # CSV keeps the numbers, not the curves


def test_report_usage_errors_exit_2_before_any_work(run_file: Path, tmp_path: Path) -> None:
    for args in (
        [str(run_file), "-o", "/proc/nope/r.html"],
        [str(run_file), "-o", str(tmp_path)],
        [str(run_file), "-o", str(tmp_path / "r.html"), "--max-lse-c-drop", "0.1"],
        [str(tmp_path / "missing.json"), "-o", str(tmp_path / "r.html")],
    ):
        assert invoke_cli(["report", *args]).exit_code == 2, args
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = invoke_cli(["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "not a syncnet-eval results file" in result.output
    assert not (tmp_path / "r.html").exists()


def test_compare_html_writes_the_ab_view(run_file: Path, tmp_path: Path) -> None:
    new = [scored_result("a.mp4", lse_d=6.5, offset=1, group="g1"), *_run_records()[1:]]
    new_file = tmp_path / "new.json"
    write_results(new_file, new, summarize(new))
    out = tmp_path / "ab.html"
    result = invoke_cli(["compare", str(run_file), str(new_file), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("## syncnet-eval compare")  # the Markdown is still printed
    page = out.read_text(encoding="utf-8")
    assert 'id="comparison"' in page and "2 videos whose LSE-C moved most" in page
    assert _data(page)["runs"] == [str(new_file), str(run_file)]
    # The page is titled A vs B in the order given (A the base, B the new run).
    title = re.search(r"<title>(.*?)</title>", page)
    assert title is not None and title.group(1) == "syncnet-eval compare: run.json vs new.json"
    assert (
        invoke_cli(["compare", str(run_file), str(new_file), "--html", "/proc/x/y.html"]).exit_code
        == 2
    )


# -- in a real browser ------------------------------------------------------------------------


@needs_chromium
def test_the_network_and_console_probes_see_what_a_page_does(browser: Any, tmp_path: Path) -> None:
    """The two probes the report's browser test relies on can fail."""
    page = tmp_path / "control.html"
    page.write_text('<img src="missing.png"><script>console.error("boom")</script>')
    open_page(browser, page)
    assert (tmp_path / "missing.png").as_uri() in page_requests(browser)
    assert any("boom" in m for m in console_errors(browser))


@needs_chromium
def test_the_report_works_in_a_browser_without_network(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rng = np.random.default_rng(1)
    results: list[VideoResult] = [
        scored_result(
            f"clips/v{i:03d}.mp4",
            lse_d=float(rng.uniform(5, 9)),
            slope=float(rng.uniform(0.1, 0.9)),
            offset=int(rng.integers(-4, 5)),
            tracks=1 + (i % 7 == 0),
        )
        for i in range(230)
    ]
    results += [_failed(f"bad{i}.mp4") for i in range(5)]
    page = tmp_path / "report.html"
    page.write_text(build_report([ReportRun("run.json", results)]), encoding="utf-8")
    open_page(browser, page)
    requests = page_requests(browser)
    assert page.as_uri() in requests and set(requests) == {page.as_uri()}  # itself, no other

    def column(key: str) -> list[str]:
        heads = browser.find_elements(By.CSS_SELECTOR, "#video-table thead th")
        n = [h.get_attribute("data-key") for h in heads].index(key)
        rows = browser.find_elements(By.CSS_SELECTOR, "#video-table tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[n].text for r in rows]

    by_lse_c = sorted((r for r in results if r.ok), key=lambda r: r.lse_c or 0.0)
    assert column("id") == [r.path for r in by_lse_c[:100]]  # worst first, 100 a page
    browser.find_element(By.CSS_SELECTOR, '#video-table th[data-key="c"]').click()
    assert column("id") == [r.path for r in by_lse_c[::-1][:100]]
    lse_c = [float(x) for x in column("c")]
    assert lse_c == sorted(lse_c, reverse=True) and lse_c[0] == round(by_lse_c[-1].lse_c, 3)  # type: ignore[arg-type]
    browser.find_element(By.ID, "next").click()
    assert column("id") == [r.path for r in by_lse_c[::-1][100:200]]

    first = browser.find_element(By.CSS_SELECTOR, "#video-table tbody tr")
    first.click()
    detail = browser.find_element(By.ID, "detail")
    assert detail.is_displayed()
    title = detail.find_element(By.TAG_NAME, "h3").text
    assert title == first.find_element(By.CLASS_NAME, "id").text
    curve = detail.find_element(By.CSS_SELECTOR, "svg.curve-chart polyline.curve.main")
    assert len(curve.get_attribute("points").split()) == 31
    assert detail.find_elements(By.CSS_SELECTOR, "svg.timeline-chart polyline.conf")

    status = browser.find_element(By.ID, "f-status")
    status.find_element(By.CSS_SELECTOR, 'option[value="!ok"]').click()
    assert sorted(column("id")) == [f"bad{i}.mp4" for i in range(5)]
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert console_errors(browser) == []
    assert set(page_requests(browser)) <= {page.as_uri()}


# -- what a new user found ----------------------------------------------------------------------


def test_the_verdict_and_the_summary_come_before_the_provenance() -> None:
    page = build_report(
        [ReportRun("run.json", _run_records())], thresholds=Thresholds(min_lse_c=1.0)
    )
    at = {s: page.index(f'<section id="{s}">') for s in ("checks", "summary", "provenance")}
    assert at["checks"] < at["summary"] < at["provenance"]
    assert page.index('<section id="videos">') < at["provenance"]


def test_one_record_is_one_record() -> None:
    page = build_report([ReportRun("run.json", [scored_result("a.mp4")])])
    assert "run.json: 1 record<" in page and "1 records" not in page


def test_frame_rates_are_rounded() -> None:
    ntsc = scored_result("a.mp4", provenance={"input_fps": 30000 / 1001})
    page = build_report([ReportRun("run.json", [ntsc])])
    row = page[page.index("<th>input frame rates</th>") :].split("</tr>", 1)[0]
    assert re.sub("<[^>]+>", "", row) == "input frame rates29.97"


def test_asd_settings_are_shown_only_when_asd_ran() -> None:
    def page(asd: str | None) -> str:
        prov = {"pipeline_config": {"detector": "hog", "asd": asd, "asd_model": "talkset"}}
        return build_report([ReportRun("run.json", [scored_result("a.mp4", provenance=prov)])])

    off, on = page(None), page("light-asd")
    assert "detector=hog" in off and "asd_model" not in off and "asd=" not in off
    assert "asd_model=talkset" in on and "asd=light-asd" in on


def _svg_texts(page: str, cls: str) -> list[tuple[float, str, str]]:
    """``(x, anchor, text)`` of the histograms' ``<text class=cls>`` elements."""
    found = re.findall(
        rf'<text x="([-\d.]+)" y="[-\d.]+" class="{cls}"(?: text-anchor="(\w+)")?>([^<]*)</text>',
        page,
    )
    return [(float(x), anchor or "start", text) for x, anchor, text in found]


def test_histogram_labels_stay_inside_their_chart() -> None:
    """A label (about 6 px a character at 11 px) must not run past the 420 px wide chart."""
    results = [
        scored_result(f"v{i}.mp4", lse_d=6.0 + 0.1 * i, slope=0.2 + 0.05 * i) for i in range(20)
    ]
    top = max(r.lse_d for r in results)
    page = build_report(
        [ReportRun("run.json", results)], thresholds=Thresholds(max_lse_d=top, min_lse_c=0.5)
    )
    labels = _svg_texts(page, "rule") + _svg_texts(page, "tick")
    assert any(text.startswith("max-lse-d") for _, _, text in labels)
    for x, anchor, text in labels:
        width = 6.0 * len(text)
        left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
        assert left >= 0 and left + width <= 420, (x, anchor, text)


def test_the_script_gets_its_words_colours_axes_and_cut_times_from_python() -> None:
    data = _data(build_report([ReportRun("run.json", _run_records())]))
    from syncnet_eval.presentation import MISSING, OFFSET_SIGN, TRACK_COLOURS, offset_axis

    assert data["text"]["offsetSign"] == OFFSET_SIGN and data["text"]["missing"] == MISSING
    assert data["trackColours"] == list(TRACK_COLOURS)
    assert data["axes"] == {"31": offset_axis(31)}
    b = data["videos"][1]  # scenes [[0, 50], [50, 200]] at 25 fps: a cut at 2 s, the end at 8
    assert b["cut"] == [2.0] and b["end"] == 8.0


@needs_chromium
def test_the_selected_curve_has_its_tracks_colour_and_speaking_is_marked(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    r = scored_result("two.mp4", tracks=2)
    segment = {"start_s": 1.0, "end_s": 2.5, "mean_score": 1.0}
    speaking = replace(
        r.tracks[1], speaking_judge="light-asd", speaking_fraction=0.5, speaking_segments=[segment]
    )
    r = replace(r, tracks=[r.tracks[0], speaking], selected_track=1)
    page = tmp_path / "report.html"
    page.write_text(build_report([ReportRun("run.json", [r])]), encoding="utf-8")
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")  # the page opens the video named in its address
    detail = browser.find_element(By.ID, "detail")
    curve = detail.find_element(By.CSS_SELECTOR, "svg.curve-chart polyline.curve.main")
    timeline = detail.find_element(By.CSS_SELECTOR, "svg.timeline-chart polyline.conf.main")
    assert curve.get_attribute("stroke") == timeline.get_attribute("stroke")
    others = detail.find_elements(By.CSS_SELECTOR, "svg.timeline-chart polyline.conf")
    assert len({o.get_attribute("stroke") for o in others}) == 2  # each track its own colour
    marks = detail.find_elements(By.CSS_SELECTOR, "svg.timeline-chart rect.speaking")
    assert len(marks) == 1 and marks[0].size["height"] >= 3
    assert "track 1 speaking" in marks[0].get_attribute("innerHTML")
    assert console_errors(browser) == []


@needs_chromium
def test_the_detail_draws_the_offset_over_time(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    r = scored_result("drift.mp4")
    segments = [
        {"time_s": 2.58 + k, "offset": k // 3, "confidence": 5.0, "used": k != 4} for k in range(12)
    ]
    track = replace(
        r.tracks[0],
        measures={
            "segment_offsets": segments,
            "drift_ms_per_min": 800.0,
            "drift_segments": 11,
            "drift_segments_left_out": 1,
            "drift_span_s": 11.0,
        },
    )
    page = tmp_path / "report.html"
    page.write_text(
        build_report([ReportRun("run.json", [replace(r, tracks=[track])])]), encoding="utf-8"
    )
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")
    chart = browser.find_element(By.CSS_SELECTOR, "#detail svg.drift-chart")
    dots = chart.find_elements(By.TAG_NAME, "circle")
    assert len(dots) == len(segments)
    assert [d.get_attribute("fill") == "none" for d in dots] == [not s["used"] for s in segments]
    assert chart.find_elements(By.CSS_SELECTOR, "polyline.curve.main")  # the drift line
    assert "+800 ms/min (11 segments, 1 left out)" in chart.text
    # The track table's drift column (a measure field, as every output writes it).
    cell = browser.find_element(By.CSS_SELECTOR, '#detail td[data-measure="drift_ms_per_min"]')
    assert cell.text == "800.000"
    assert console_errors(browser) == []


_X_AXIS_JS = """
function axis(svg) {  // the x-axis tick labels inside the plot: [text, centre x on screen]
  var ticks = Array.prototype.filter.call(svg.querySelectorAll('text.tick'), function (t) {
    return /^-?[0-9.]+$/.test(t.textContent) && t.getAttribute('text-anchor') === 'middle';
  });
  var low = Math.max.apply(null, ticks.map(function (t) { return +t.getAttribute('y'); }));
  return ticks.filter(function (t) { return +t.getAttribute('y') === low; }).map(function (t) {
    var r = t.getBoundingClientRect();
    return [t.textContent, r.left + r.width / 2];
  });
}
var svgs = [arguments[0], arguments[1]];
return svgs.map(function (s) {
  var r = s.getBoundingClientRect();
  return {left: r.left, width: r.width, axis: axis(s)};
});
"""


@needs_chromium
def test_the_drift_chart_has_the_timelines_width_and_time_axis(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    r = scored_result("drift.mp4", num_windows=400)
    segments = [
        {"time_s": 2.58 + k, "offset": k // 3, "confidence": 5.0, "used": k != 4} for k in range(12)
    ]
    track = replace(
        r.tracks[0],
        measures={
            "segment_offsets": segments,
            "drift_ms_per_min": 800.0,
            "drift_segments": 11,
            "drift_segments_left_out": 1,
            "drift_span_s": 11.0,
        },
    )
    page = tmp_path / "report.html"
    page.write_text(
        build_report([ReportRun("run.json", [replace(r, tracks=[track])])]), encoding="utf-8"
    )
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")
    timeline = browser.find_element(By.CSS_SELECTOR, "#detail svg.timeline-chart")
    drift = browser.find_element(By.CSS_SELECTOR, "#detail svg.drift-chart")
    browser.execute_script("arguments[0].scrollIntoView()", timeline)
    browser.save_screenshot(str(tmp_path / "drift.png"))
    t, d = browser.execute_script(_X_AXIS_JS, timeline, drift)
    assert abs(t["left"] - d["left"]) < 1 and abs(t["width"] - d["width"]) < 1, (t, d)
    assert [label for label, _ in d["axis"]] == [label for label, _ in t["axis"]]  # same ticks
    assert len(t["axis"]) >= 3
    for (label, x_drift), (_, x_time) in zip(d["axis"], t["axis"], strict=True):
        assert abs(x_drift - x_time) < 1, (label, x_drift, x_time)  # at the same place
    assert console_errors(browser) == []
