"""``syncnet-eval check`` (CI gates) and ``compare`` (paired A/B tables) over results files."""

from __future__ import annotations

import os
from pathlib import Path
import sys
from typing import Any

import click

from ..checks import (
    BASELINE_OPTIONS,
    Thresholds,
    comparison_markdown,
    configuration_differences,
    configurations,
    mixed_configuration_warning,
    run_checks,
)
from ..engines.records import ConfigChoice, choose_configuration
from ..errors import InputError
from ..io import atomic_write_text, load_records
from ..media_provenance import media_warning
from ..report import ReportRun, annotated_videos, build_report
from ..stats import pair_results, summarize
from ..types import VideoResult
from .app import AppState, InputFileError, log, setup_logging
from .options import rule_options, writable_file

__all__ = [
    "check",
    "compare",
    "config_choice",
    "config_options",
    "load_records_arg",
    "load_results_arg",
]


def config_options(f: Any) -> Any:
    """``--config-hash HASH`` and ``--latest-config``: count the records of one configuration
    only (the command gets ``config_choice``, a ``ConfigChoice``)."""

    f = click.option(
        "--latest-config",
        is_flag=True,
        help="Count only the records written with the configuration of the file's last "
        "record (its config_hash); the others are left out, and how many is said.",
    )(f)
    f = click.option(
        "--config-hash",
        metavar="HASH",
        help="Count only the records with this config_hash (or a prefix of it, as the warning "
        "about records of several configurations prints it).",
    )(f)
    return f


def config_choice(config_hash: str | None, latest_config: bool) -> ConfigChoice:
    """The choice of ``--config-hash``/``--latest-config`` (both: a usage error)."""
    if config_hash is not None and latest_config:
        raise click.UsageError("give --config-hash HASH or --latest-config, not both")
    return ConfigChoice(config_hash, latest_config)


def load_records_arg(path: Path, choice: ConfigChoice | None = None) -> list[dict[str, Any]]:
    """The records of a results file given on the command line (unreadable, or no record of
    the chosen configuration: exit 2), of the chosen configuration; records of several
    configurations and what was left out are said on stderr, as are the warnings of reading
    it (a log line that is not a record)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and not log.handlers:
        setup_logging((ctx.find_object(AppState) or AppState()).verbose, False, ctx)
    try:
        records, note = choose_configuration(
            load_records(path), choice or ConfigChoice(), str(path)
        )
    except InputError as exc:
        raise InputFileError(str(exc)) from exc
    except ValueError as exc:
        raise InputFileError(str(exc)) from exc
    if note is not None:
        log.warning("%s", note)
    return records


def load_results_arg(path: Path, choice: ConfigChoice | None = None) -> list[VideoResult]:
    """:func:`load_records_arg` as results."""
    return [VideoResult.from_dict(r) for r in load_records_arg(path, choice)]


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Results of the reference run (.json, .jsonl, .csv or .parquet); videos are matched by "
    "id, else path.",
)
@rule_options
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the checks as JUnit XML (one test case per check).",
)
@config_options
def check(
    results: Path,
    baseline: Path | None,
    thresholds: Thresholds,
    junit: Path | None,
    config_hash: str | None,
    latest_config: bool,
) -> None:
    """Gate a CI job on the scores in RESULTS (the .json, .jsonl log, .csv or .parquet of
    'score -o').

    Prints a Markdown report of each check (pass or fail, and by how much). The metric rules
    (the same options as 'filter') gate the mean over the scored videos without reliability
    flags, or each of them with --per-video (--min-windows always each); --min-ok-fraction
    counts the ok inputs, flagged or not. With GITHUB_ACTIONS=true, failures are also printed
    as ::error annotations.

    RESULTS whose records have several config_hash values (a log that gathered runs of
    other settings) are counted whole, with a warning saying how many differ; --config-hash
    or --latest-config counts one configuration only.

    Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or unreadable input.
    """
    choice = config_choice(config_hash, latest_config)
    if thresholds.needs_baseline and baseline is None:
        raise click.UsageError(f"{BASELINE_OPTIONS} need --baseline FILE")
    if junit is not None:
        junit = writable_file(junit, "'--junit'")
    if not thresholds.any_rule:
        raise click.UsageError(
            "no rule given, so nothing would be gated: add --min-lse-c, --max-lse-d, "
            "--max-abs-offset, --min-windows, --min-ok-fraction, --above-real, "
            "--fail-above-real, --require-owner, or --baseline with "
            "--max-lse-c-drop / --max-lse-d-rise / --fail-on-missing (to see the numbers "
            "without gating, use 'compare' or the summary of 'score')"
        )
    new = load_results_arg(results, choice)
    base = load_results_arg(baseline) if baseline is not None else None
    report = run_checks(
        new,
        thresholds,
        baseline=base,
        results_path=str(results),
        baseline_path=str(baseline) if baseline is not None else None,
    )
    click.echo(report.markdown(), nl=False)
    if os.environ.get("GITHUB_ACTIONS", "").lower() == "true":
        for line in report.github_annotations():
            click.echo(line)
    if junit is not None:
        atomic_write_text(junit, report.junit_xml())
    sys.exit(0 if report.passed else 1)


@click.command()
@click.argument("base", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--per-video", is_flag=True, help="Add one row per matched video.")
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Let videos with reliability flags into the paired means (by default they are listed "
    "and left out).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when the two runs were made with different recipes, weights or options.",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the A/B view as a self-contained HTML report: paired differences with "
    "their intervals, the videos that moved most, both distributions, every video's curves.",
)
def compare(
    base: Path, new: Path, per_video: bool, include_flagged: bool, strict: bool, html: Path | None
) -> None:
    """Paired comparison of two results files (.json, .jsonl, .csv or .parquet of 'score -o'),
    A = BASE and B = NEW (differences are B - A).

    Videos are matched by id, else path, and averaged only where both runs scored them. Runs
    made with different configurations get a warning naming the differences. Prints a Markdown
    table; never gates (exit 0, or 2 for unreadable input; --strict: 1 when the
    configurations differ).
    """
    if html is not None:
        html = writable_file(html, "'--html'")
    a = load_results_arg(base)
    b = load_results_arg(new)
    differences = configuration_differences(configurations(a), configurations(b))
    warnings = [
        w
        for w in (
            mixed_configuration_warning(a, str(base)),
            mixed_configuration_warning(b, str(new)),
        )
        if w
    ]
    if differences:
        warnings.append(
            "the runs were made with different configurations, so a difference in the numbers "
            f"may come from them: {'; '.join(differences)}"
        )
    if media := media_warning(a, b):
        warnings.append(media)
    click.echo(
        comparison_markdown(
            pair_results(b, a, include_flagged=include_flagged),
            str(base),
            str(new),
            base_summary=summarize(a, include_flagged=include_flagged),
            new_summary=summarize(b, include_flagged=include_flagged),
            per_video=per_video,
            warnings=warnings,
        ),
        nl=False,
    )
    if html is not None:
        page = build_report(
            [ReportRun(str(new), b)],
            baseline=ReportRun(str(base), a),
            include_flagged=include_flagged,
            videos=annotated_videos([*a, *b], html.parent),
            title=f"syncnet-eval compare: {base.name} vs {new.name}",  # A vs B, as given
        )
        atomic_write_text(html, page)
    if strict and differences:
        sys.exit(1)
