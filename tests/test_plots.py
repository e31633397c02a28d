"""Matplotlib figures of records (``.plot()``, ``syncnet-eval plot``) and the missing extra."""

from __future__ import annotations

from pathlib import Path
import statistics
import sys
from xml.etree import ElementTree as ET

import pytest

from syncnet_eval.errors import DependencyError
from syncnet_eval.io import write_results
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult

from conftest import invoke_cli, scored_result

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib (the [viz] extra) is needed")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_track_plot_marks_the_minimum_at_the_offset_and_the_median() -> None:
    from matplotlib.figure import Figure

    track = scored_result("a.mp4", offset=-3, lse_d=6.5).tracks[0]
    fig, (ax_curve, ax_time) = track.plot()
    assert isinstance(fig, Figure) and ax_curve.figure is fig and ax_time.figure is fig
    curve = ax_curve.lines[0]
    xs, ys = list(curve.get_xdata()), list(curve.get_ydata())
    assert len(xs) == 31 and xs[0] == 15 and xs[-1] == -15  # point k is offset vshift - k
    minimum = next(line for line in ax_curve.lines if "min (LSE-D)" in str(line.get_label()))
    assert list(minimum.get_xdata()) == [-3] and list(minimum.get_ydata()) == [6.5]
    median = next(line for line in ax_curve.lines if str(line.get_label()).startswith("median"))
    assert median.get_ydata()[0] == pytest.approx(statistics.median(ys))
    timeline = ax_time.lines[0]
    assert list(timeline.get_xdata()) == track.framewise_time_s
    assert list(timeline.get_ydata()) == track.framewise_conf


def test_video_plot_draws_every_track_and_marks_the_selected_one() -> None:
    result = scored_result("two.mp4", tracks=2, scenes=[[0, 60], [60, 200]])
    fig, (ax_curve, ax_time) = result.plot()
    curves = [ln for ln in ax_curve.lines if len(ln.get_xdata()) == 31]
    assert len(curves) == 2
    assert sorted(ln.get_linewidth() for ln in curves) == [1, 2]  # the selected one is thicker
    conf_lines = [ln for ln in ax_time.lines if len(ln.get_xdata()) == 120]
    assert len(conf_lines) == 2
    cuts = [ln for ln in ax_time.lines if list(ln.get_xdata()) == [60 / 25, 60 / 25]]
    assert len(cuts) == 1  # the cut at frame 60, in seconds


def test_plots_draw_on_given_axes() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, 2)
    got_fig, got_axes = scored_result("a.mp4").plot(axes=list(axes))
    assert got_fig is fig and got_axes == (axes[0], axes[1])


def test_a_record_without_curves_cannot_be_plotted() -> None:
    failed = VideoResult.failure("x.mp4", "direct", "no_face", "x.mp4: no face")
    with pytest.raises(ValueError, match="no distance curves"):
        failed.plot()


def test_plot_command_writes_a_valid_image_per_scored_video(tmp_path: Path) -> None:
    results = [
        scored_result("clips/a.mp4", offset=2),
        scored_result("other/a.mp4", lse_d=8.0),  # same stem: a second name
        VideoResult.failure("b.mp4", "direct", "decode_error", "b.mp4: broken"),
    ]
    src = tmp_path / "run.json"
    write_results(src, results, summarize(results))
    out = invoke_cli(["plot", str(src), "-o", str(tmp_path / "png")])
    assert out.exit_code == 0, out.output
    assert "2 plots written" in out.output and "1 record without curves skipped" in out.output
    pngs = sorted((tmp_path / "png").iterdir())
    assert [p.name for p in pngs] == ["a-2.png", "a.png"]
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in pngs)
    out = invoke_cli(["plot", str(src), "-o", str(tmp_path / "svg"), "--format", "svg"])
    assert out.exit_code == 0, out.output
    for svg in (tmp_path / "svg").iterdir():
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_plot_reads_the_parquet_results_its_help_names(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from syncnet_eval.parquet import write_parquet

    src = tmp_path / "run.parquet"
    write_parquet(src, [scored_result("clips/a.mp4").to_dict()])
    out = invoke_cli(["plot", str(src), "-o", str(tmp_path / "png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "png" / "a.png").read_bytes().startswith(PNG_SIGNATURE)
    assert ".parquet" in " ".join(invoke_cli(["plot", "--help"]).output.split())


def test_plot_command_without_curves_fails_in_one_line(tmp_path: Path) -> None:
    results = [scored_result("a.mp4")]
    src = tmp_path / "run.csv"
    write_results(src, results)  # CSV keeps the numbers, not the curves
    out = invoke_cli(["plot", str(src), "-o", str(tmp_path / "plots")])
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        "Error: no record has curves to plot (records that were not scored have none, and CSV "
        "results keep only the numbers: give the .json, .jsonl or .parquet results)"
    ]


def test_without_matplotlib_plots_fail_in_one_line_saying_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = [scored_result("a.mp4")]
    src = tmp_path / "run.json"
    write_results(src, results, summarize(results))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    out = invoke_cli(["plot", str(src), "-o", str(tmp_path / "plots")])
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        "Error: matplotlib is not installed; install it with: pip install 'syncnet-eval[viz]'"
    ]
    assert not (tmp_path / "plots").exists()
    with pytest.raises(DependencyError, match=r"syncnet-eval\[viz\]"):
        results[0].plot()
    with pytest.raises(DependencyError, match=r"syncnet-eval\[viz\]"):
        results[0].tracks[0].plot()
