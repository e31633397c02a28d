"""Summary statistics, ``syncnet-eval check`` gates and ``compare`` (constructed results)."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from syncnet_eval.checks import (
    Thresholds,
    configuration_differences,
    mixed_configuration_warning,
    run_checks,
)
from syncnet_eval.io import JsonlLog, load_results, write_results
from syncnet_eval.stats import bootstrap_mean_ci, describe, pair_results, summarize
from syncnet_eval.types import TrackResult, VideoResult

from conftest import invoke_cli


def _ok(path: str, lse_c: float, lse_d: float, offset: int = 0, **kw: Any) -> VideoResult:
    return VideoResult(
        path=path,
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=offset,
        lse_d=lse_d,
        lse_c=lse_c,
        aggregate="best",
        **kw,
    )


def _bad(path: str, status: str = "decode_error", **kw: Any) -> VideoResult:
    return VideoResult.failure(path, "direct", status, f"{path}: broken", **kw)


def _write(path: Path, results: list[VideoResult]) -> Path:
    write_results(path, results, summarize(results))
    return path


@pytest.fixture()
def run_file(tmp_path: Path) -> Path:
    """Four ok videos (LSE-C 6..7.5, LSE-D 7..8.5, |offset| 0..3) and one decode error."""
    results = [
        _ok("v0.mp4", 6.0, 8.5, 0),
        _ok("v1.mp4", 6.5, 8.0, -1),
        _ok("v2.mp4", 7.0, 7.5, 2),
        _ok("v3.mp4", 7.5, 7.0, 3),
        _bad("v4.mp4"),
    ]
    return _write(tmp_path / "run.json", results)


# -- statistics -------------------------------------------------------------------------------


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean() -> None:
    x = np.random.default_rng(3).normal(5.0, 1.0, 40)
    low, high = bootstrap_mean_ci(x)
    assert (low, high) == bootstrap_mean_ci(x)
    assert low < x.mean() < high
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_mean_ci([2.5]) == (2.5, 2.5)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])
    assert describe([]).mean is None and describe([1.0]).std is None


def test_summary_never_averages_unscored_videos() -> None:
    results = [
        _ok("a", 6.0, 8.0, 1, group="g1"),
        _ok("b", 8.0, 6.0, -3, group="g2"),
        _bad("c", group="g1"),
        _bad("d", "no_face"),
        _ok("e", float("nan"), 7.0, 0, group="g2"),  # a NaN score must not poison the means
    ]
    summary = summarize(results)
    assert (summary.num_inputs, summary.num_scored, summary.num_not_scored) == (5, 2, 3)
    s = summary.to_dict()
    assert (s["num_inputs"], s["num_ok"], s["num_not_scored"]) == (5, 2, 3)
    assert s["status_counts"]["ok"] == 3 and s["status_counts"]["decode_error"] == 1
    assert s["status_counts"]["no_face"] == 1
    assert s["lse_c"]["mean"] == pytest.approx(7.0) and s["lse_c"]["n"] == 2
    assert s["lse_d"]["std"] == pytest.approx(np.std([8.0, 6.0], ddof=1))
    assert s["lse_c"]["ci95_low"] <= 7.0 <= s["lse_c"]["ci95_high"]
    assert s["mean_abs_offset"] == pytest.approx(2.0)
    assert set(s["groups"]) == {"g1", "g2", "(none)"}
    assert s["groups"]["g1"]["num_ok"] == 1 and s["groups"]["g1"]["num_not_scored"] == 1
    assert s["groups"]["(none)"]["lse_c"]["mean"] is None
    json.dumps(s, allow_nan=False)  # JSON-safe
    assert "groups" not in summarize([_ok("a", 1.0, 2.0)]).to_dict()


def test_pairing_matches_by_id_then_path_and_reports_the_rest() -> None:
    base = [
        _ok("old/x.mp4", 6.0, 8.0, id="x"),
        _ok("y.mp4", 6.0, 8.0),
        _ok("z.mp4", 6.0, 8.0),
        _ok("gone.mp4", 6.0, 8.0),
    ]
    new = [
        _ok("new/x.mp4", 7.0, 7.0, id="x"),
        _ok("./y.mp4", 5.0, 9.0),
        _bad("z.mp4"),
        _ok("fresh.mp4", 9.0, 5.0),
    ]
    cmp = pair_results(new, base)
    assert [k for k, _, _ in cmp.pairs] == ["x", "./y.mp4"]
    assert cmp.metrics["lse_c"].diff_mean == pytest.approx(0.0)
    assert cmp.metrics["lse_c"].base_mean == pytest.approx(6.0)
    assert cmp.only_in_new == ["fresh.mp4"] and cmp.only_in_base == ["gone.mp4"]
    assert cmp.not_ok == [("z.mp4", "ok", "decode_error")]


# -- thresholds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "passes"),
    [
        ("--min-lse-c", "6.7", True),  # mean LSE-C 6.75
        ("--min-lse-c", "6.8", False),
        ("--max-lse-d", "7.8", True),  # mean LSE-D 7.75
        ("--max-lse-d", "7.7", False),
        ("--max-abs-offset", "1.5", True),  # mean |offset| 1.5
        ("--max-abs-offset", "1.4", False),
        ("--min-ok-fraction", "0.8", True),  # 4 of 5
        ("--min-ok-fraction", "0.9", False),
    ],
)
def test_each_threshold_passes_and_fails(
    run_file: Path, option: str, value: str, passes: bool
) -> None:
    result = invoke_cli(["check", str(run_file), option, value])
    assert result.exit_code == (0 if passes else 1), result.output
    name = option.lstrip("-")
    row = next(ln for ln in result.stdout.splitlines() if ln.startswith(f"| `{name}`"))
    assert ("pass" in row) == passes and ("**FAIL**" in row) != passes
    assert " by " in row or "margin" in row
    if not passes:
        assert "## syncnet-eval check: FAIL (1 of 1 check failed)" in result.stdout
        assert f"- `{name}`:" in result.stdout


def test_failure_margin_is_reported(run_file: Path) -> None:
    result = invoke_cli(["check", str(run_file), "--min-lse-c", "7.0", "--max-lse-d", "9"])
    assert result.exit_code == 1
    assert "mean LSE-C 6.750 is below the limit 7.000 by 0.250" in result.stdout
    assert "mean LSE-D 7.750 is within the limit 9.000 by 1.250" in result.stdout


def test_per_video_thresholds_name_the_offenders(run_file: Path) -> None:
    result = invoke_cli(["check", str(run_file), "--min-lse-c", "6.2", "--per-video"])
    assert result.exit_code == 1
    assert "1 of 4 videos has LSE-C below 6.200" in result.stdout
    assert "v0.mp4: LSE-C 6.000 (below by 0.200)" in result.stdout
    assert invoke_cli(["check", str(run_file), "--min-lse-c", "6.0", "--per-video"]).exit_code == 0


def test_no_thresholds_is_bad_usage_instead_of_a_silent_pass(run_file: Path) -> None:
    result = invoke_cli(["check", str(run_file)])
    assert result.exit_code == 2
    assert "no rule given" in result.output
    counted = invoke_cli(["check", str(run_file), "--min-ok-fraction", "0"])
    assert counted.exit_code == 0
    assert "5 inputs, 4 ok, 1 not scored (decode_error 1)" in counted.stdout


def test_metric_threshold_fails_without_any_scored_video(tmp_path: Path) -> None:
    path = _write(tmp_path / "none.json", [_bad("a"), _bad("b", "no_face")])
    result = invoke_cli(["check", str(path), "--min-lse-c", "1"])
    assert result.exit_code == 1 and "no scored videos" in result.stdout


# -- baseline regression rule -----------------------------------------------------------------


def _pair_files(tmp_path: Path, c_diffs: list[float], d_diffs: list[float]) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    base_c = rng.uniform(5, 8, len(c_diffs))
    base_d = rng.uniform(6, 9, len(d_diffs))
    base = [
        _ok(f"/ci/old/{i}.mp4", base_c[i], base_d[i], id=f"clip{i}") for i in range(len(c_diffs))
    ]
    new = [
        _ok(f"/ci/new/{i}.mp4", base_c[i] + c_diffs[i], base_d[i] + d_diffs[i], id=f"clip{i}")
        for i in range(len(c_diffs))
    ]
    new.append(_bad("/ci/new/extra.mp4", id="extra"))
    return _write(tmp_path / "new.json", new), _write(tmp_path / "base.json", base)


# Mean -0.3 but noisy: the 95% CI of the paired difference reaches well above -0.2.
NOISY = [-2.0, 1.5, -1.8, 1.2, -0.9, 0.5, -1.5, 1.0, -1.2, 0.2]
# About -1 with little spread: the whole CI lies below -0.2.
CLEAR = [-1.0, -1.1, -0.9, -1.05, -0.95, -1.0, -1.1, -0.9, -1.0, -1.0]
FLAT = [0.0] * 10


def test_lse_c_drop_fails_only_when_the_whole_ci_is_beyond_d(tmp_path: Path) -> None:
    new, base = _pair_files(tmp_path, NOISY, FLAT)
    args = ["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "0.2"]
    noisy = invoke_cli(args)
    assert noisy.exit_code == 0, noisy.stdout
    assert "CI upper bound" in noisy.stdout
    assert "10 videos scored in both runs; 1 only in the results" in noisy.stdout
    strict = invoke_cli([*args, "--strict"])
    assert strict.exit_code == 1, strict.stdout
    assert "LSE-C dropped: mean change -0.300 is below -0.200 by 0.100" in strict.stdout

    new, base = _pair_files(tmp_path, CLEAR, FLAT)
    clear = invoke_cli(["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "0.2"])
    assert clear.exit_code == 1
    assert "LSE-C dropped: CI upper bound" in clear.stdout
    assert (
        invoke_cli(
            ["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "1.5"]
        ).exit_code
        == 0
    )


def test_lse_d_rise_rule_is_symmetric(tmp_path: Path) -> None:
    rise = [-d for d in CLEAR]
    new, base = _pair_files(tmp_path, FLAT, rise)
    args = ["check", str(new), "--baseline", str(base), "--max-lse-d-rise"]
    failed = invoke_cli([*args, "0.2"])
    assert failed.exit_code == 1 and "LSE-D rose: CI lower bound" in failed.stdout
    assert invoke_cli([*args, "1.5"]).exit_code == 0
    new, base = _pair_files(tmp_path, FLAT, [-d for d in NOISY])
    assert invoke_cli([*args, "0.2"]).exit_code == 0
    assert invoke_cli([*args, "0.2", "--strict"]).exit_code == 1
    # An improvement never fails.
    new, base = _pair_files(tmp_path, [-d for d in CLEAR], CLEAR)
    both = ["--max-lse-c-drop", "0", "--max-lse-d-rise", "0"]
    assert invoke_cli(["check", str(new), "--baseline", str(base), *both]).exit_code == 0


def test_baseline_without_any_pair_fails(tmp_path: Path) -> None:
    new = _write(tmp_path / "new.json", [_ok("a.mp4", 6, 8)])
    base = _write(tmp_path / "base.json", [_ok("b.mp4", 6, 8)])
    result = invoke_cli(["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "1"])
    assert result.exit_code == 1 and "no video was scored in both runs" in result.stdout


def test_run_checks_library_api(run_file: Path) -> None:
    results = load_results(run_file)
    report = run_checks(results, Thresholds(min_lse_c=6.0, max_abs_offset=1.0))
    assert [c.name for c in report.checks] == ["min-lse-c", "max-abs-offset"]
    assert [c.passed for c in report.checks] == [True, False]
    assert not report.passed
    with pytest.raises(ValueError):
        run_checks(results, Thresholds(max_lse_c_drop=1.0))


# -- reports, exit codes ----------------------------------------------------------------------


def test_junit_file_has_one_case_per_check(run_file: Path, tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "check.xml"
    args = ["check", str(run_file), "--min-lse-c", "7", "--max-lse-d", "9", "--junit", str(junit)]
    result = invoke_cli(args)
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"min-lse-c", "max-lse-d"}
    failure = cases["min-lse-c"].find("failure")
    assert failure is not None and "by 0.250" in (failure.get("message") or "")
    assert cases["max-lse-d"].find("failure") is None
    assert not list(junit.parent.glob(".*.tmp"))  # written atomically, no temp left


def test_github_annotations_only_under_github_actions(run_file: Path) -> None:
    args = ["check", str(run_file), "--min-lse-c", "7", "--max-lse-d", "9"]
    plain = invoke_cli(args, env={"GITHUB_ACTIONS": ""})
    assert "::error" not in plain.stdout
    gha = invoke_cli(args, env={"GITHUB_ACTIONS": "true"})
    errors = [ln for ln in gha.stdout.splitlines() if ln.startswith("::error")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=syncnet-eval check min-lse-c::mean LSE-C 6.750")


@pytest.mark.parametrize(
    "content",
    ["", "{not json", json.dumps({"results": "nope"}), json.dumps([1, 2]), "\x00\xff\xfe"],
)
def test_unreadable_results_exit_2(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    result = invoke_cli(["check", str(path), "--min-lse-c", "1"])
    assert result.exit_code == 2, result.output
    assert "Error:" in result.stderr and "broken.json" in result.stderr


def test_usage_errors_exit_2(run_file: Path, tmp_path: Path) -> None:
    assert invoke_cli(["check", str(tmp_path / "missing.json")]).exit_code == 2
    assert invoke_cli(["check", str(run_file), "--max-lse-c-drop", "1"]).exit_code == 2
    assert invoke_cli(["check", str(run_file), "--min-ok-fraction", "1.5"]).exit_code == 2
    assert (
        invoke_cli(["check", str(run_file), "--baseline", str(tmp_path / "nope.json")]).exit_code
        == 2
    )
    assert invoke_cli(["compare", str(run_file)]).exit_code == 2


def test_check_reads_a_jsonl_log_counting_each_input_once(tmp_path: Path) -> None:
    log_path = tmp_path / "run.jsonl"
    with JsonlLog(log_path) as log:
        log.append({**_ok("a.mp4", 1.0, 9.0).to_dict(), "input_identity": {"path": "/a.mp4"}})
        log.append({**_ok("b.mp4", 7.0, 7.0).to_dict(), "input_identity": {"path": "/b.mp4"}})
        log.append({**_ok("a.mp4", 7.0, 7.0).to_dict(), "input_identity": {"path": "/a.mp4"}})
    results = load_results(log_path)
    assert [(r.path, r.lse_c) for r in results] == [("b.mp4", 7.0), ("a.mp4", 7.0)]
    assert invoke_cli(["check", str(log_path), "--min-lse-c", "7"]).exit_code == 0


def _log_with_bad_lines(path: Path) -> Path:
    """A log whose lines 2-4 are not records: valid JSON of another shape, a record with a
    number as text, and a record with a track that is not one; line 5 is a good record."""
    good = {**_ok("a.mp4", 7.0, 7.0).to_dict(), "input_identity": {"path": "/a.mp4"}}
    lines = [
        good,
        {"event": "started", "pid": 12},
        {**_ok("b.mp4", 7.0, 7.0).to_dict(), "lse_c": "high"},
        {**_ok("c.mp4", 7.0, 7.0).to_dict(), "tracks": [{"index": "first"}]},
        {**_ok("d.mp4", 8.0, 6.0).to_dict(), "input_identity": {"path": "/d.mp4"}},
    ]
    path.write_text("".join(json.dumps(rec) + "\n" for rec in lines), encoding="utf-8")
    return path


def test_a_log_line_that_is_not_a_record_is_reported_and_skipped(tmp_path: Path) -> None:
    log_path = _log_with_bad_lines(tmp_path / "run.jsonl")
    assert [r.path for r in load_results(log_path)] == ["a.mp4", "d.mp4"]
    checked = invoke_cli(["check", str(log_path), "--min-lse-c", "7"])
    reported = invoke_cli(["report", str(log_path), "-o", str(tmp_path / "r.html")])
    for result in (checked, reported):
        assert result.exit_code == 0, result.output
        warned = [ln for ln in result.output.splitlines() if "not a record" in ln]
        where = [re.search(rf"{re.escape(str(log_path))}:(\d+): ", ln) for ln in warned]
        assert [m.group(1) if m else ln for m, ln in zip(where, warned, strict=True)] == [
            "2",
            "3",
            "4",
        ]
    assert (tmp_path / "r.html").is_file()


_HASH_A, _HASH_B = "a1" * 32, "b2" * 32


def _log_with_a_stray_configuration(path: Path) -> Path:
    """Six records of one configuration (mean LSE-C 7.94), then one of another (LSE-C 99)."""
    lse_c = [7.2, 7.6, 7.9, 8.1, 8.3, 8.54]
    with JsonlLog(path) as log:
        for i, c in enumerate(lse_c):
            log.append(
                {
                    **_ok(f"v{i}.mp4", c, 7.0).to_dict(),
                    "config_hash": _HASH_A,
                    "input_identity": {"path": f"/v{i}.mp4"},
                }
            )
        log.append(
            {
                **_ok("stray.mp4", 99.0, 1.0).to_dict(),
                "config_hash": _HASH_B,
                "input_identity": {"path": "/stray.mp4"},
            }
        )
    return path


def test_records_of_another_configuration_are_named_and_can_be_left_out(tmp_path: Path) -> None:
    log_path = _log_with_a_stray_configuration(tmp_path / "run.jsonl")
    gate = ["check", str(log_path), "--min-lse-c", "7"]
    pooled = invoke_cli(gate)
    assert pooled.exit_code == 0 and "n=7" in pooled.output  # all counted, but said so
    assert "1 of 7 records have another config_hash" in pooled.output
    for choice, n in ((["--config-hash", _HASH_A[:12]], 6), (["--latest-config"], 1)):
        chosen = invoke_cli([*gate, *choice])
        assert chosen.exit_code == 0, chosen.output
        assert f"n={n})" in chosen.output and "another config_hash" not in chosen.output
    mean = invoke_cli([*gate, "--config-hash", _HASH_A])
    assert "7.940" in mean.output  # (7.2 + 7.6 + 7.9 + 8.1 + 8.3 + 8.54) / 6
    page = tmp_path / "r.html"
    reported = invoke_cli(["report", str(log_path), "-o", str(page), "--config-hash", _HASH_A])
    assert reported.exit_code == 0 and ": 6 records" in reported.output, reported.output
    kept = tmp_path / "kept.csv"
    filtered = invoke_cli(["filter", str(log_path), "-o", str(kept), "--config-hash", _HASH_A])
    assert filtered.exit_code == 0 and "6 inputs:" in filtered.output, filtered.output
    unknown = invoke_cli([*gate, "--config-hash", "c3c3c3"])
    assert unknown.exit_code == 2 and "c3c3c3" in unknown.output and _HASH_A[:12] in unknown.output
    both = invoke_cli([*gate, "--config-hash", _HASH_A, "--latest-config"])
    assert both.exit_code == 2


def test_compare_prints_the_paired_table_without_gating(tmp_path: Path) -> None:
    new, base = _pair_files(tmp_path, CLEAR, FLAT)
    result = invoke_cli(["compare", str(base), str(new), "--per-video"])
    assert result.exit_code == 0
    out = result.stdout
    assert "| Metric | n | Base mean | New mean | Mean diff | 95% CI of diff |" in out
    lse_c_row = next(ln for ln in out.splitlines() if ln.startswith("| LSE-C |"))
    assert "| 10 |" in lse_c_row and "-1.000" in lse_c_row
    assert "- only in B: `extra`" in out
    assert out.count("| `clip") == 10


def _provenance(**score: Any) -> dict[str, Any]:
    config = {"vshift": 15, "batch_size": 64, "jpeg_roundtrip": True, "device": "cpu"}
    return {
        "syncnet_weights_sha256": "a" * 64,
        "ffmpeg": "ffmpeg version 5.1.9",
        "score_config": {**config, **score},
    }


def _configured_runs(tmp_path: Path, **new_score: Any) -> tuple[Path, Path]:
    rng = np.random.default_rng(2)
    base, new = [], []
    for i in range(12):
        c = float(rng.normal(6, 1))
        base.append(_ok(f"v{i}.mp4", c, 7.0, id=f"v{i}", provenance=_provenance()))
        new.append(_ok(f"v{i}.mp4", c, 7.0, id=f"v{i}", provenance=_provenance(**new_score)))
    return _write(tmp_path / "base.json", base), _write(tmp_path / "new.json", new)


def test_runs_with_different_configurations_are_named_and_fail_strict(tmp_path: Path) -> None:
    base, new = _configured_runs(tmp_path, jpeg_roundtrip=False, batch_size=8, device="cuda")
    args = ["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "0.5"]
    warned = invoke_cli(args)
    assert warned.exit_code == 0  # the numbers did not move: the gate itself passes
    assert "different configurations" in warned.stdout
    assert "jpeg_roundtrip: true vs false" in warned.stdout
    assert "batch_size" not in warned.stdout and "device" not in warned.stdout  # no effect
    strict = invoke_cli([*args, "--strict"])
    assert strict.exit_code == 1 and "same-configuration" in strict.stdout
    compared = invoke_cli(["compare", str(base), str(new)])
    assert compared.exit_code == 0 and "jpeg_roundtrip: true vs false" in compared.stdout
    assert invoke_cli(["compare", str(base), str(new), "--strict"]).exit_code == 1
    same_base, same_new = _configured_runs(tmp_path, batch_size=8)
    clean = invoke_cli(
        ["check", str(same_new), "--baseline", str(same_base), "--max-lse-c-drop", "1"]
    )
    assert clean.exit_code == 0 and "different configurations" not in clean.stdout


def test_a_log_mixing_two_configurations_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "mixed.jsonl"
    with JsonlLog(log) as out:
        out.append(_ok("a.mp4", 6.0, 7.0, provenance=_provenance()).to_dict())
        out.append(_ok("b.mp4", 6.0, 7.0, provenance=_provenance(vshift=10)).to_dict())
    result = invoke_cli(["check", str(log), "--min-lse-c", "1"])
    assert result.exit_code == 0
    assert "mixes 2 configurations" in result.stdout and "vshift" in result.stdout


def test_flagged_videos_are_counted_and_left_out_of_checks_unless_included(
    tmp_path: Path,
) -> None:
    results = [
        _ok("good.mp4", 6.0, 7.0),
        _ok("short.mp4", 119.5, 9.0, flags=["few_windows"]),
    ]
    path = _write(tmp_path / "r.json", results)
    out = invoke_cli(["check", str(path), "--max-lse-d", "8"])
    assert out.exit_code == 0  # the flagged clip's LSE-D 9.0 is not in the mean
    assert "1 flagged and left out of the means (few_windows 1" in out.stdout
    included = invoke_cli(["check", str(path), "--max-lse-d", "7.5", "--include-flagged"])
    assert included.exit_code == 1  # with it, the mean LSE-D is (7 + 9) / 2 = 8 > 7.5
    summary = summarize(results)
    assert (summary.num_ok, summary.num_scored, summary.num_flagged) == (2, 1, 1)
    assert summary.lse_c.mean == pytest.approx(6.0)


@pytest.mark.parametrize("per_track", [False, True])
def test_results_csv_reads_back(tmp_path: Path, per_track: bool) -> None:
    track = TrackResult(
        index=0,
        first_frame=0,
        last_frame=99,
        av_offset=-2,
        lse_d=7.25,
        lse_c=3.5,
        num_windows=95,
        dist_by_shift=[8.0] * 31,
        framewise_conf=[1.0] * 95,
        start_s=0.0,
        end_s=4.0,
    )
    results = [
        _ok(
            "a b.mp4",
            3.5,
            7.25,
            -2,
            id="a",
            group="g",
            tracks=[track],
            flags=["few_windows"],
            av_offset_ms=-80.0,
            selected_track=0,
            warnings=["w1", "w2"],
        ),
        _bad("c.mp4", "no_face", reason_code="faces_too_small"),
    ]
    path = tmp_path / "r.csv"
    write_results(path, results, per_track=per_track)
    back = load_results(path)
    assert [(r.path, r.status, r.id, r.group) for r in back] == [
        ("a b.mp4", "ok", "a", "g"),
        ("c.mp4", "no_face", None, None),
    ]
    a, c = back
    assert (a.av_offset, a.lse_d, a.lse_c, a.av_offset_ms) == (-2, 7.25, 3.5, -80.0)
    assert a.flags == ["few_windows"] and a.warnings == ["w1", "w2"] and a.selected_track == 0
    assert c.reason_code == "faces_too_small" and c.lse_c is None
    if per_track:
        assert [(t.index, t.lse_c, t.num_windows, t.end_s) for t in a.tracks] == [(0, 3.5, 95, 4.0)]


# -- problems a new user found ----------------------------------------------------------------


def test_min_ok_fraction_counts_flagged_ok_videos_as_ok(tmp_path: Path) -> None:
    # 11 ok videos, 6 of them flagged non_25fps: all 11 were scored, so a 0.95 gate passes and
    # says the same counts as the summary line.
    results = [_ok(f"v{i}.mp4", 6.0, 7.0) for i in range(5)]
    results += [_ok(f"f{i}.mp4", 6.0, 7.0, flags=["non_25fps"]) for i in range(6)]
    path = _write(tmp_path / "r.json", results)
    out = invoke_cli(["check", str(path), "--min-ok-fraction", "0.95"])
    assert out.exit_code == 0, out.stdout
    assert "11 inputs, 11 ok;" in out.stdout
    assert "11 of 11 inputs ok" in out.stdout and "6 of them flagged" in out.stdout
    # Failing, it names the cause: the statuses of the inputs that were not scored.
    failing = _write(tmp_path / "f.json", [*results[:2], _bad("x.mp4", "no_face")])
    low = invoke_cli(["check", str(failing), "--min-ok-fraction", "0.95"])
    assert low.exit_code == 1
    assert "only 2 of 3 inputs ok" in low.stdout and "not scored: no_face 1" in low.stdout


def test_fail_on_missing_fails_when_baseline_videos_are_gone(tmp_path: Path) -> None:
    new, base = _pair_files(tmp_path, FLAT, FLAT)
    base_results = load_results(base)
    gone = _ok("/ci/old/gone.mp4", 6.0, 7.0, id="gone")
    base = _write(tmp_path / "base_more.json", [*base_results, gone])
    args = ["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "1"]
    listed = invoke_cli(args)
    assert listed.exit_code == 0  # by default a missing video is only listed
    failed = invoke_cli([*args, "--fail-on-missing"])
    assert failed.exit_code == 1, failed.stdout
    row = next(ln for ln in failed.stdout.splitlines() if ln.startswith("| `fail-on-missing`"))
    assert "**FAIL**" in row and "1 of 11 baseline videos are missing" in row
    assert "missing: gone" in failed.stdout
    alone = invoke_cli(["check", str(new), "--baseline", str(base), "--fail-on-missing"])
    assert alone.exit_code == 1  # a gate by itself
    assert invoke_cli(["check", str(new), "--fail-on-missing"]).exit_code == 2  # no baseline
    help_text = invoke_cli(["check", "--help"]).stdout
    assert "--fail-on-missing" in help_text


def test_configuration_differences_name_the_recipe_first_then_what_applies_to_it() -> None:
    common = {"weights": "w", "ffmpeg": "5.1", "vshift": 15, "jpeg_roundtrip": True}
    pipeline = {**common, "recipe": "syncnet-pipeline", "fps": None, "min_track": 100}
    # Same recipe: min_track moves the pipeline's numbers, fps does not (it transcodes).
    moved = configuration_differences([pipeline], [{**pipeline, "fps": 25, "min_track": 50}])
    assert [d.split(":")[0] for d in moved] == ["min_track", "fps"]
    # Different recipes: the recipe first, then the new recipe's settings, then the others.
    direct = {**common, "recipe": "direct", "fps": 25}
    changed = configuration_differences([pipeline], [{**direct, "vshift": 10}])
    assert [d.split(":")[0] for d in changed] == ["recipe", "fps", "vshift", "min_track"]
    results = [
        _ok("a.mp4", 6.0, 7.0, provenance={"syncnet_weights_sha256": "w", "score_config": c})
        for c in ({"vshift": 15, "fps": None}, {"vshift": 10, "fps": 25})
    ]
    results[1] = VideoResult.from_dict({**results[1].to_dict(), "recipe": "wav2lip-lrs"})
    warning = mixed_configuration_warning(results, "mixed.json")
    assert warning is not None and "differ in recipe, fps, vshift)" in warning


def test_check_help_names_every_results_format() -> None:
    out = invoke_cli(["check", "--help"]).stdout
    usage, options = out.split("Options:")
    assert all(ext in usage for ext in (".json", ".jsonl", ".csv", ".parquet"))
    baseline = options.split("--baseline", 1)[1].split("--min-lse-c")[0]
    assert ".parquet" in baseline and ".csv" in baseline


def test_one_of_a_thing_is_said_in_the_singular(tmp_path: Path) -> None:
    one = _write(tmp_path / "one.json", [_ok("v0.mp4", 6.0, 8.5, 0)])
    checked = invoke_cli(
        [
            "check",
            str(one),
            "--min-lse-c",
            "7",
            "--per-video",
            "--baseline",
            str(one),
            "--min-ok-fraction",
            "1",
        ]
    )
    kept = tmp_path / "kept.csv"
    filtered = invoke_cli(["filter", str(one), "--min-lse-c", "3", "-o", str(kept)])
    said = checked.output + filtered.output
    assert "1 input," in checked.output and "1 input:" in filtered.output, said
    assert "1 video " in checked.output, said
    for plural in ("1 inputs", "1 videos", "1 checks", "of 1 videos"):
        assert plural not in said, (plural, said)
