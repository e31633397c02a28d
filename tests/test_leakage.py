"""The leakage protocol (Yaman et al., arXiv 2511.08613; syncnet_eval.leakage): Silent LSE-C/D
and the lip-sync discrepancies LSD-CR/LSD-AR, from clips whose condition is known by
construction.

The signal clips (signal_media) make sync measurable: a clip's lips are its brightness, its
speech the noise's amplitude. A *leaky* generator copies the source's lips whatever the audio:
its mismatched clip is the source's video under another clip's audio (out of sync), its
silent-input clip the source's video again (in sync with the source's speech). A *clean*
generator follows the audio: its mismatched clip is in sync with the other audio, its
silent-input clip keeps the mouth still.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
import shutil
from typing import Any

import pytest

from syncnet_eval import ScoreConfig
from syncnet_eval.checks import Thresholds, run_checks
from syncnet_eval.engines.plan import BatchConfig, RunHooks
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.errors import ConfigError, InputError
from syncnet_eval.inputs import read_manifest
from syncnet_eval.io import load_results, write_results
from syncnet_eval.leakage import LEAKAGE_CHOICES, leakage_samples
from syncnet_eval.stats import summarize
from syncnet_eval.types import VideoResult

from conftest import console_errors, invoke_cli, needs_chromium, open_page, scored_result

QUIET = RunHooks(download_progress=False)


def _record(name: str, lse_c: float, group: str | None = None, **labels: str) -> VideoResult:
    """An ok record with LSE-C ``lse_c`` (its curve's slope sets it: median - min = 8 x
    slope), its ``group`` and the leakage labels ``labels``."""
    return scored_result(name, slope=lse_c / 8, id=name, group=group, measures=dict(labels))


# -- the definitions, on records whose numbers are set ------------------------------------------


def test_lsd_is_matched_minus_mismatched_lse_c_per_pair_by_identity_reference() -> None:
    results = [
        _record("p1-m", 6.0, condition="matched", pair_id="p1"),
        _record("p1-x", 2.0, condition="mismatched", pair_id="p1"),
        _record("p2-m", 5.0, condition="matched", pair_id="p2", identity_reference="current"),
        # two mismatched audios for one source: the pair's mismatched value is their mean (3)
        _record("p2-x1", 2.0, condition="mismatched", pair_id="p2"),
        _record("p2-x2", 4.0, condition="mismatched", pair_id="p2"),
        _record("q-m", 5.0, condition="matched", pair_id="q", identity_reference="alternative"),
        _record("q-x", 4.5, condition="mismatched", pair_id="q", identity_reference="alternative"),
        _record("lonely", 5.0, condition="matched", pair_id="r"),
        _record("s1", 3.0, condition="silent", pair_id="p1"),
        _record("s2", 1.0, condition="silent"),
        _record("unlabelled", 9.0),
    ]
    found = leakage_samples(results)
    assert found is not None
    assert found.values["lsd_cr"] == pytest.approx([4.0, 2.0])  # 6 - 2, 5 - mean(2, 4)
    assert found.values["lsd_ar"] == pytest.approx([0.5])
    assert found.values["silent_lse_c"] == pytest.approx([3.0, 1.0])
    assert found.pairs == {"current": 2, "alternative": 1}
    assert found.unpaired == ["r/current"]
    # LSE-D: every record's minimum is 7.0, so the D-based discrepancy is 0 per pair.
    assert found.values["lsd_cr_d"] == pytest.approx([0.0, 0.0])
    assert found.values["silent_lse_d"] == pytest.approx([7.0, 7.0])

    leak = summarize(results).leakage
    assert leak is not None
    assert leak.statistics["lsd_cr"].mean == pytest.approx(3.0)
    assert leak.statistics["lsd_cr"].ci_low == pytest.approx(2.0)  # two pairs: 2 and 4
    assert leak.statistics["lsd_cr"].ci_high == pytest.approx(4.0)
    assert leak.statistics["silent_lse_c"].mean == pytest.approx(2.0)
    block = summarize(results).to_dict()["leakage"]
    assert block["definition"] == LEAKAGE_CHOICES and block["lsd_ar"]["n"] == 1


def test_no_condition_no_leakage_block_and_flagged_clips_stay_out() -> None:
    assert summarize([_record("a", 5.0)]).leakage is None
    assert "leakage" not in summarize([_record("a", 5.0)]).to_dict()
    silent = _record("s", 3.0, condition="silent")
    flagged = VideoResult(**{**silent.__dict__, "flags": ["silent_audio"]})
    leak = summarize([flagged]).leakage
    assert leak is not None and leak.statistics["silent_lse_c"].n == 0
    leak = summarize([flagged], include_flagged=True).leakage
    assert leak is not None and leak.statistics["silent_lse_c"].n == 1


def test_the_summary_has_the_statistics_per_group() -> None:
    results = [
        _record("a-m", 6.0, condition="matched", pair_id="p", group="A"),
        _record("a-x", 1.0, condition="mismatched", pair_id="p", group="A"),
        _record("b-m", 6.0, condition="matched", pair_id="p", group="B"),
        _record("b-x", 6.0, condition="mismatched", pair_id="p", group="B"),
    ]
    s = summarize(results)
    assert s.groups["A"].leakage.statistics["lsd_cr"].mean == pytest.approx(5.0)  # type: ignore[union-attr]
    assert s.groups["B"].leakage.statistics["lsd_cr"].mean == pytest.approx(0.0)  # type: ignore[union-attr]
    report = run_checks(results, Thresholds(leakage_limit=("lsd_cr<=1",)))
    verdicts = {c.name: c.passed for c in report.checks}
    assert verdicts == {"leakage:lsd_cr<=1 [A]": False, "leakage:lsd_cr<=1 [B]": True}
    report = run_checks(results, Thresholds(leakage_limit=("silent_lse_c<=1",)))
    assert not report.passed and "no silent clip" in report.checks[0].message


@pytest.mark.parametrize("text", ["lsd<=1", "lsd_cr<1", "lsd_cr<=x", "lsd_cr<=inf"])
def test_a_bad_leakage_limit_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--leakage-limit"):
        Thresholds(leakage_limit=(text,))


# -- the manifest --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, message",
    [
        ("a.mkv,matched,", "a matched clip needs a pair_id"),
        ("a.mkv,silenced,p", "unknown condition 'silenced'"),
        ("a.mkv,matched,p,previous", "unknown identity_reference 'previous'"),
    ],
)
def test_manifest_labels_are_checked_naming_the_line(
    row: str, message: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,condition,pair_id,identity_reference\nok.mkv,silent,,\n{row}\n")
    with pytest.raises(InputError, match=f"m.csv:3: {message}"):
        read_manifest(manifest)


# -- end to end: constructed clips through the run driver ----------------------------------------


@pytest.fixture(scope="module")
def leakage_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[VideoResult]]:
    from signal_media import write_signal_clip

    d = tmp_path_factory.mktemp("leakage")
    write_signal_clip(d / "a.mkv", num_frames=60, seed=1)  # the source: lips and speech A
    write_signal_clip(d / "b.mkv", num_frames=60, seed=2)  # another video: lips and speech B
    write_signal_clip(d / "still.mkv", num_frames=60, seed=1, still_video=True)  # speech A
    shutil.copy(d / "a.mkv", d / "a2.mkv")
    rows = [
        # leaky: every clip shows the source's lips
        ("a.mkv", "", "leaky-m", "leaky", "matched"),
        ("a.mkv", "b.mkv", "leaky-x", "leaky", "mismatched"),
        ("a.mkv", "a.mkv", "leaky-s", "leaky", "silent"),
        # clean: the lips follow the audio (silence: a still mouth)
        ("a2.mkv", "", "clean-m", "clean", "matched"),
        ("b.mkv", "", "clean-x", "clean", "mismatched"),
        ("still.mkv", "", "clean-s", "clean", "silent"),
    ]
    manifest = d / "manifest.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "audio", "id", "group", "condition", "pair_id"])
        w.writerows([(*r, "src") for r in rows])
    config = BatchConfig("direct", ScoreConfig(device="cpu"), embedder="signal")
    outcome = run_inputs(read_manifest(manifest), config, hooks=QUIET)
    return d, outcome.results


def test_constructed_clips_give_the_leaky_generator_away(
    leakage_run: tuple[Path, list[VideoResult]],
) -> None:
    _, results = leakage_run
    assert all(r.ok for r in results), [r.reason for r in results]
    by_id = {r.id: r for r in results}
    assert by_id["leaky-x"].measures == {"condition": "mismatched", "pair_id": "src"}
    # Short clips are flagged few_windows: let them in (the numbers are what is tested).
    s = summarize(results, include_flagged=True)
    leaky, clean = s.groups["leaky"].leakage, s.groups["clean"].leakage
    assert leaky is not None and clean is not None
    # The leaky silent clip is the source clip scored against its own speech: the matched
    # clip's numbers exactly; the still mouth of the clean one finds no sync.
    lse_c = {k: float(r.lse_c) for k, r in by_id.items()}  # type: ignore[arg-type]
    assert leaky.statistics["silent_lse_c"].mean == pytest.approx(lse_c["leaky-m"])
    assert lse_c["leaky-m"] > 1.5 and clean.statistics["silent_lse_c"].mean < 0.5  # type: ignore[operator]
    # LSD: the leaky pair loses its sync under other audio; the clean pair keeps it.
    leaky_lsd = leaky.statistics["lsd_cr"].mean
    assert leaky_lsd == pytest.approx(lse_c["leaky-m"] - lse_c["leaky-x"])
    assert leaky_lsd is not None and leaky_lsd > 1.0
    clean_lsd = clean.statistics["lsd_cr"].mean
    assert clean_lsd is not None and abs(clean_lsd) < 0.5
    assert clean.statistics["lsd_cr_d"].mean < leaky.statistics["lsd_cr_d"].mean  # type: ignore[operator]


def test_labels_reach_json_csv_and_the_check_command(
    leakage_run: tuple[Path, list[VideoResult]], tmp_path: Path
) -> None:
    _, results = leakage_run
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    write_results(out_json, results)
    write_results(out_csv, results)
    data: Any = json.loads(out_json.read_text())
    records = data["results"] if isinstance(data, dict) else data
    assert {r["id"]: r.get("condition") for r in records}["clean-s"] == "silent"
    with out_csv.open() as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert rows["leaky-x"]["condition"] == "mismatched" and rows["leaky-x"]["pair_id"] == "src"
    back = summarize(load_results(out_csv), include_flagged=True).groups["leaky"].leakage
    assert back is not None and back.pairs["current"] == 1
    run = invoke_cli(["check", str(out_json), "--include-flagged", "--leakage-limit", "lsd_cr<=1"])
    assert run.exit_code == 1, run.output
    assert "leakage:lsd_cr<=1 [leaky]" in run.output and "lsd_cr<=1 [clean]" in run.output
    bad = invoke_cli(["check", str(out_json), "--leakage-limit", "lsd<=1"])
    assert bad.exit_code == 2 and "--leakage-limit" in bad.output


@needs_chromium
def test_the_report_shows_the_leakage_table(
    leakage_run: tuple[Path, list[VideoResult]], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _, results = leakage_run
    out_json = tmp_path / "r.json"
    write_results(out_json, results)
    page = tmp_path / "report.html"
    run = invoke_cli(["report", str(out_json), "--include-flagged", "-o", str(page)])
    assert run.exit_code == 0, run.output
    open_page(browser, page)
    table = browser.find_element(By.XPATH, '//h4[@id="leakage"]/following-sibling::table[1]')
    heads = [th.text for th in table.find_elements(By.CSS_SELECTOR, "tr:first-child th")]
    assert heads[1].startswith("Silent LSE-C") and heads[3].startswith("LSD-CR (LSE-C)")
    rows = {
        tr.find_element(By.TAG_NAME, "th").text: [
            td.text for td in tr.find_elements(By.TAG_NAME, "td")
        ]
        for tr in table.find_elements(By.CSS_SELECTOR, "tr")[1:]
    }
    leaky = summarize(results, include_flagged=True).groups["leaky"].leakage
    assert leaky is not None
    assert rows["leaky"][2].startswith(f"{leaky.statistics['lsd_cr'].mean:.3f}")
    assert rows["leaky"][-1].startswith("1 / 0")  # one current pair, no alternative one
    assert console_errors(browser) == []
