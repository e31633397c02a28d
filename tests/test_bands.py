"""Reference bands: the table, its sources in the docs, records, summaries and check."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
import re
from typing import Any

import pytest

from syncnet_eval.bands import (
    BANDS,
    DATASETS,
    band_line,
    band_record,
    beyond_band,
    dataset_help,
    get_band,
)
from syncnet_eval.checks import Thresholds, run_checks
from syncnet_eval.errors import ConfigError, InputError
from syncnet_eval.inputs import read_manifest
from syncnet_eval.io import load_records, write_results
from syncnet_eval.recipes import REGISTRY
from syncnet_eval.stats import summarize

from conftest import invoke_cli, scored_result

DOCS = Path(__file__).resolve().parents[1] / "docs" / "bands.md"


# -- the table and its sources ----------------------------------------------------------------


def test_every_band_value_is_traced_to_its_source_in_the_docs() -> None:
    """Each published value sits in docs/bands.md on the row that links its source."""
    rows = [line for line in DOCS.read_text(encoding="utf-8").splitlines() if "|" in line]
    for name, band in BANDS.items():
        for src in band.sources:
            found = [r for r in rows if src.url in r]
            assert len(found) == 1, f"{name}: no single docs row links {src.url}"
            cells = [c.strip() for c in found[0].strip("|").split("|")]
            assert cells[0] == name, found[0]
            assert f"{src.lse_c:.3f}" in cells and f"{src.lse_d:.3f}" in cells, found[0]
            assert (src.recipe or "as published") in found[0]


def test_every_band_value_cites_its_table_and_page_or_its_thread_and_protocol() -> None:
    """A paper's value names its table and page; a measurement in an issue thread names the
    protocol it was measured with. The docs row says the same."""
    rows = [line for line in DOCS.read_text(encoding="utf-8").splitlines() if "|" in line]
    for band in BANDS.values():
        for src in band.sources:
            (row,) = [r for r in rows if src.url in r]
            if "/issues/" in src.url:
                assert src.protocol and src.protocol in row, src
            else:
                assert src.table and src.page, src
                assert src.table in row and src.page in row, row


def test_a_value_without_its_table_and_page_is_refused() -> None:
    from syncnet_eval.bands import BandSource

    with pytest.raises(ConfigError, match="table and page"):
        BandSource(
            name="A paper",
            citation="somewhere",
            url="https://arxiv.org/abs/1",
            lse_c=8.0,
            lse_d=7.0,
        )
    with pytest.raises(ConfigError, match="protocol"):
        BandSource(
            name="A thread",
            citation="a user",
            url="https://github.com/a/b/issues/1",
            lse_c=8.0,
            lse_d=7.0,
            table="Table 1",
            page="p. 2",
        )


def test_the_docs_hold_no_value_the_table_does_not() -> None:
    """Nothing in the docs' table of values is missing from the package's table."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- values -->")[1].split("<!-- /values -->")[0]
    quoted = {float(x) for x in re.findall(r"\b\d\.\d{3}\b", table)}
    known = {v for b in BANDS.values() for s in b.sources for v in (s.lse_c, s.lse_d)}
    assert quoted == known


def test_ranges_span_the_cited_values_and_recipes_are_registered() -> None:
    for band in BANDS.values():
        cs = sorted(s.lse_c for s in band.sources)
        ds = sorted(s.lse_d for s in band.sources)
        assert band.lse_c_range == (cs[0], cs[-1])
        assert band.lse_d_range == (ds[0], ds[-1])
        assert all(r is None or r in REGISTRY for r in band.recipes)
    assert get_band("lrs2").recipes == ["wav2lip-lrs"]  # the source says so
    with pytest.raises(ConfigError, match="unknown dataset 'hdtf'; choose one of lrs2"):
        get_band("hdtf")  # its values could not be traced to a table: removed
    with pytest.raises(ConfigError, match="unknown dataset 'vox'; choose one of lrs2"):
        get_band("vox")


def test_help_names_every_dataset_and_source() -> None:
    text = dataset_help()
    for name, band in BANDS.items():
        assert f"{name}: {band.title}" in text
        assert all(s.name in text for s in band.sources)
    result = invoke_cli(["score", "--help"])
    flat = " ".join(result.output.split())
    assert "--dataset [lrs2]" in flat and "LipVoicer issue #5" in flat


def test_beyond_band_judges_both_sides() -> None:
    band = band_record("lrs2")
    assert band is not None
    c_high, d_low = band["lse_c_range"][1], band["lse_d_range"][0]
    assert beyond_band(band, c_high, d_low) == []  # at the edge: within
    assert beyond_band(band, 5.0, 9.0) == []  # worse than real: nothing to flag
    found = beyond_band(band, c_high + 0.01, d_low - 0.01)
    assert len(found) == 2 and "LSE-C" in found[0] and "LSE-D" in found[1]


# -- inputs: the manifest column --------------------------------------------------------------


def test_manifest_dataset_column(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,dataset\na.mp4,lrs2\nb.mp4,\n", encoding="utf-8")
    assert [i.dataset for i in read_manifest(manifest)] == ["lrs2", None]
    manifest.write_text("path,dataset\na.mp4,lrs2\nb.mp4,LRS3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"m\.csv:3: unknown dataset 'LRS3'.*lrs2"):
        read_manifest(manifest)


# -- records, summary, check ------------------------------------------------------------------


def _run(
    lse_ds: list[float], slope: float, dataset: str | None = "lrs2", prefix: str = "v"
) -> list:
    """ok records whose LSE-C is the curve's median minus LSE-D (see conftest.scored_result)."""
    band = band_record(dataset)
    return [
        scored_result(
            f"{prefix}{k}.mp4", lse_d=d, slope=slope, id=f"{prefix}{k}", reference_band=band
        )
        for k, d in enumerate(lse_ds)
    ]


def test_summary_compares_each_dataset_with_its_band() -> None:
    gamed = _lrs2([6.0, 6.1], slope=1.2)  # LSE-C 9.6 above 8.248, LSE-D 6.05 below 6.258
    plain = _run([7.0], slope=1.0, dataset=None, prefix="p")
    summary = summarize([*gamed, *plain])
    assert list(summary.datasets) == ["lrs2"]
    lrs2 = summary.datasets["lrs2"]
    assert lrs2.summary.num_scored == 2
    assert any("LSE-D 6.050 below" in b for b in lrs2.beyond_real), lrs2.beyond_real
    doc = summary.to_dict()["datasets"]
    assert doc["lrs2"]["band"]["sources"][0]["name"] == "LipVoicer issue #5 (2024)"
    assert doc["lrs2"]["lse_d"]["mean"] == pytest.approx(6.05)
    assert doc["lrs2"]["above_real"]["better_than_real"] is True
    honest = summarize(_lrs2([7.0, 7.1], slope=1.0)).datasets["lrs2"]  # LSE-D above 6.258
    assert honest.beyond_real == [] and honest.verdict.judged
    line = band_line(*_band_args(honest))
    assert "LipVoicer issue #5 (2024)" in line and "gamed" not in line


def test_check_above_real_flags_and_fail_above_real_fails() -> None:
    gamed = _lrs2([6.0, 6.2], slope=1.2)  # LSE-C 9.6 > 8.248, LSE-D 6.1 < 6.258
    honest = _lrs2([7.2, 7.4], slope=1.0)

    flagged = run_checks(gamed, Thresholds(above_real=True))
    assert flagged.passed and flagged.checks == []
    assert any("lrs2 scored better than published real video" in w for w in flagged.warnings)
    assert run_checks(honest, Thresholds(above_real=True)).warnings == []

    failed = run_checks(gamed, Thresholds(fail_above_real=True))
    assert not failed.passed
    (outcome,) = failed.failures
    assert (
        outcome.name == "above-real"
        and "LSE-C 9.600 above real video's 8.248" in (outcome.details[0])
    )
    assert run_checks(honest, Thresholds(fail_above_real=True)).passed
    nothing = run_checks(_run([6.0], 1.2, dataset=None), Thresholds(fail_above_real=True))
    assert not nothing.passed and "no scored record names a dataset" in nothing.checks[0].message


def test_check_cli_above_real_on_a_results_file(tmp_path: Path) -> None:
    results = tmp_path / "run.json"
    write_results(results, _lrs2([6.0, 6.2], slope=1.2))
    warned = invoke_cli(["check", str(results), "--above-real"])
    assert warned.exit_code == 0 and "better than published real video" in warned.output
    failed = invoke_cli(["check", str(results), "--fail-above-real"])
    assert failed.exit_code == 1 and "above-real" in failed.output
    assert "LipVoicer issue #5 (2024)" in failed.output


def test_band_round_trips_json_csv_and_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    records = _run([7.0], slope=1.0, dataset="lrs2")
    for suffix in (".json", ".csv", ".parquet"):
        path = tmp_path / f"r{suffix}"
        write_results(path, records)
        (got,) = load_records(path)
        assert got["reference_band"] == band_record("lrs2"), suffix


def test_score_dataset_stamps_records_and_summary(
    tmp_path: Path, batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    out = tmp_path / "out.json"
    csv_out = tmp_path / "out.csv"
    args = [
        "score",
        str(batch_clips[0]),
        str(batch_clips[1]),
        "--recipe",
        "direct",
        "--syncnet-weights",
        str(syncnet_parity_weights),
        "--offline",
        "--device",
        "cpu",
        "--dataset",
        "lrs2",
        "-o",
        str(out),
        "-o",
        str(csv_out),
    ]
    result = invoke_cli(args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [r["reference_band"]["dataset"] for r in doc["results"]] == ["lrs2", "lrs2"]
    assert doc["summary"]["datasets"]["lrs2"]["num_inputs"] == 2
    assert "LRS2 test real video: mean LSE-C" in result.output  # the terminal summary
    assert [r["reference_band"] for r in load_records(csv_out)] == [band_record("lrs2")] * 2
    assert set(DATASETS) == set(BANDS)


def test_report_names_the_band_and_its_sources_per_run() -> None:
    from syncnet_eval.report import ReportRun, build_report

    page = build_report([ReportRun("gamed.json", _lrs2([6.0, 6.2], slope=1.2))])
    assert page.count("<b>Reference band</b>") == 1
    assert 'href="https://github.com/yochaiye/LipVoicer/issues/5"' in page
    assert "better than real video on both metrics" in page and "band warning" in page
    unofficial = build_report([ReportRun("u.json", _lrs2([6.0, 6.2], 1.2, official=False))])
    assert "band warning" not in unofficial and "not judged against real video" in unofficial
    plain = build_report([ReportRun("plain.json", _run([7.0], slope=1.0, dataset=None))])
    assert "Reference band" not in plain


# -- what it takes to call a run better than real video --------------------------------------


def _lrs2(
    lse_ds: list[float], slope: float, *, recipe: str = "wav2lip-lrs", official: bool | None = True
) -> list:
    """lrs2 records (its band was measured with wav2lip-lrs) scored with ``recipe`` and weights
    that are (``official``) the official syncnet_v2.model, or not, or not recorded (None)."""
    prov = {} if official is None else {"syncnet_weights_official": official}
    return [
        replace(r, recipe=recipe, provenance=prov)
        for r in _run(lse_ds, slope, dataset="lrs2", prefix="l")
    ]


def test_above_real_is_judged_only_with_official_weights_the_bands_recipe_and_both_metrics() -> (
    None
):
    gamed = _lrs2([6.0, 6.2], slope=1.2)  # LSE-C 9.6 > 8.248 and LSE-D 6.1 < 6.258
    judged = summarize(gamed).datasets["lrs2"].verdict
    assert judged.judged and judged.better_than_real
    assert "LSE-C 9.600 above" in judged.text and "LSE-D 6.100 below" in judged.text

    # LSE-D below the band, LSE-C far under it (the 5.4 against 8.2): not better.
    one_metric = summarize(_lrs2([6.0, 6.2], slope=0.3)).datasets["lrs2"].verdict
    assert one_metric.judged and not one_metric.better_than_real
    assert "LSE-D 6.100 below" in one_metric.text and "LSE-C 2.400" in one_metric.text

    for records, why in (
        (_lrs2([6.0, 6.2], slope=1.2, official=False), "not the official syncnet_v2.model"),
        (_lrs2([6.0, 6.2], slope=1.2, official=None), "not recorded"),
        (_lrs2([6.0, 6.2], slope=1.2, recipe="direct"), "measured with wav2lip-lrs"),
    ):
        verdict = summarize(records).datasets["lrs2"].verdict
        assert not verdict.judged and not verdict.better_than_real, why
        assert verdict.text.startswith("not judged") and why in verdict.text, verdict.text
        failed = run_checks(records, Thresholds(fail_above_real=True))
        assert not failed.passed and "not judged" in failed.checks[0].message, why
        warned = run_checks(records, Thresholds(above_real=True))
        assert warned.passed and any(why in w for w in warned.warnings), why
        line = band_line(*_band_args(summarize(records).datasets["lrs2"]))
        assert "gamed" not in line and why in line


def test_a_band_without_a_known_recipe_judges_nothing() -> None:
    from syncnet_eval.bands import BandSource, ReferenceBand

    unknown = ReferenceBand(
        "x",
        "X real video",
        (
            BandSource(
                name="A paper",
                citation="a table",
                url="https://example.org",
                lse_c=8.0,
                lse_d=7.0,
                table="Table 1",
                page="p. 6",
            ),
        ),
    ).to_dict()
    records = [
        replace(
            r,
            reference_band=unknown,
            recipe="direct",
            provenance={"syncnet_weights_official": True},
        )
        for r in _run([6.0, 6.2], slope=1.2, dataset=None)
    ]
    verdict = summarize(records).datasets["x"].verdict
    assert not verdict.judged and "recipe is not known" in verdict.text


def _band_args(d: Any) -> tuple[Any, ...]:
    return (d.band, d.summary.lse_c.mean, d.summary.lse_d.mean, d.summary.num_scored, d.verdict)
