"""CI gates over results files: thresholds, baseline regressions, Markdown and JUnit reports.

``run_checks`` evaluates the gates and returns a ``CheckReport``; the report renders itself as
Markdown (for a terminal or a pull-request comment), JUnit XML (for CI test panels) and GitHub
Actions ``::error`` annotations. Nothing here prints or exits; the CLI does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
import json
import math
import re
from typing import Any
from xml.etree import ElementTree as ET

from .bands import band_line
from .config import Option, PipelineConfig
from .errors import ConfigError
from .leakage import LEAKAGE_STATISTICS
from .measures import field_named, get_measure, video_value, video_values
from .media_provenance import media_warning
from .ownership import JUDGED, OWNER_MIN_MARGIN, owner_runs
from .presentation import (
    ABS_OFFSET,
    LSE_C,
    LSE_D,
    METRICS,
    MISSING,
    OFFSET_SENTENCE,
    count,
    number,
    offset_text,
    signed,
)
from .recipes import REGISTRY
from .rules import MeasureLimit, Rules, is_usable, measure
from .stats import (
    BatchSummary,
    GroupSummary,
    PairedComparison,
    dataset_summaries,
    describe,
    metric_value,
    pair_results,
    summarize,
)
from .types import VideoResult

__all__ = [
    "BASELINE_OPTIONS",
    "above_real_check",
    "MeasureTolerance",
    "Thresholds",
    "CheckOutcome",
    "CheckReport",
    "configuration_differences",
    "configurations",
    "counts_line",
    "mixed_configuration_warning",
    "owner_check",
    "run_checks",
    "comparison_markdown",
]

# The metrics' names are presentation's; a Markdown cell escapes their "|" (``_cell``).
_METRIC_LABEL = {key: label.name for key, label in METRICS.items()}


def _gate(default: Any, **spec: Any) -> Any:
    return field(default=default, metadata={"option": Option(**spec)})


@dataclass(frozen=True)
class Thresholds(Rules):
    """Gates of ``syncnet-eval check``: the per-video :class:`~syncnet_eval.rules.Rules` (the
    same table as ``filter``'s) and the run-level gates; ``None`` means not checked.

    The three metric limits of the rules gate the means over the admitted videos, or each
    admitted video with ``per_video``; ``min_windows`` always gates each video.

    Attributes:
        min_ok_fraction: ``ok`` videos (flagged or not) / all inputs must be at least this.
        max_lse_c_drop: paired LSE-C change vs the baseline must not drop by more than this.
        max_lse_d_rise: paired LSE-D change vs the baseline must not rise by more than this.
        fail_on_missing: every video of the baseline must be in the results.
        strict: judge baseline changes by the plain mean, not the bootstrap CI, and fail when
            the two runs were made with different configurations.
        per_video: apply the three metric limits to every admitted video instead of the mean.
        above_real: warn about datasets whose admitted videos score, on average, better than
            their published real-video band (:mod:`syncnet_eval.bands`).
        fail_above_real: fail on them instead.
    """

    min_ok_fraction: float | None = _gate(
        None,
        min=0,
        max=1,
        help="Fail if less than this fraction of the inputs are ok (scored; flagged or not).",
    )
    max_lse_c_drop: float | None = _gate(
        None,
        min=0,
        help="Fail if LSE-C dropped by more than this vs --baseline (paired mean difference; "
        "only when its whole 95% bootstrap CI lies beyond it).",
    )
    max_lse_d_rise: float | None = _gate(
        None, min=0, help="Fail if LSE-D rose by more than this vs --baseline (same rule)."
    )
    fail_on_missing: bool = _gate(
        False,
        help="Fail if videos of --baseline are missing from the results (matched by id, else "
        "path); by default they are only listed.",
    )
    strict: bool = _gate(
        False,
        help="Judge the baseline rules by the plain mean difference, not the CI; fail when "
        "the two runs were made with different recipes, weights or options.",
    )
    per_video: bool = _gate(
        False,
        help="Apply --min-lse-c/--max-lse-d/--max-abs-offset to every scored video instead "
        "of the mean.",
    )
    above_real: bool = _gate(
        False,
        help="Flag (a warning) each dataset whose mean LSE-C is above its published "
        "real-video band and whose mean LSE-D is below it (records scored with --dataset or a "
        "manifest 'dataset' column; docs/bands.md): scoring better than real video is a sign "
        "of a gamed metric. Judged only on numbers from the official SyncNet weights and the "
        "recipe the band was measured with; otherwise the warning says why nothing is judged.",
    )
    tolerance: tuple[str, ...] = _gate(
        (),
        metavar="FIELD=TOL",
        help="With --baseline, repeatable: the measure FIELD may not get worse than the "
        "baseline's by more than TOL, worse meaning its better direction reversed: e.g. "
        "'fid=2', 'lpips=0.01', 'csim=0.02', 'lmd_px=0.1'. A per-video measure is judged on "
        "the paired mean change (its 95%% CI, as --max-lse-c-drop; --strict: the mean); a set "
        "measure (fid, fvd) on the two runs' set values over the videos both scored.",
    )
    fail_above_real: bool = _gate(
        False,
        help="Like --above-real, but fail the check (also when nothing can be judged: no "
        "record names a dataset, other weights, another recipe).",
    )
    require_owner: str | None = _gate(
        None,
        choices=("manifest",),
        indexed=("",),
        help="Fail each scored video where a face track other than this one owns a segment of "
        "the audio, or where ownership cannot be judged or nothing is decided (the owner "
        "measure, docs/owner.md): a track index, or 'manifest' for the track each record's "
        "manifest 'owner' column names (two-person generation).",
    )
    leakage_limit: tuple[str, ...] = _gate(
        (),
        metavar="NAME<=X|NAME>=X",
        help="A limit on a leakage statistic's mean, repeatable, judged in every group (else "
        "over all records): silent_lse_c, silent_lse_d, lsd_cr, lsd_ar, lsd_cr_d, lsd_ar_d "
        "(manifest columns condition, pair_id, identity_reference; docs/leakage.md), e.g. "
        "'lsd_cr<=0.5' 'silent_lse_c<=1.5'.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "tolerance", tuple(self.tolerance))
        object.__setattr__(self, "leakage_limit", tuple(self.leakage_limit))
        self.tolerances  # noqa: B018 - parsed now, so a bad tolerance is bad usage
        self.leakage_limits  # noqa: B018 - parsed now, so a bad limit is bad usage

    @property
    def tolerances(self) -> tuple[MeasureTolerance, ...]:
        """The ``--tolerance`` rules, parsed."""
        return tuple(MeasureTolerance.parse(text) for text in self.tolerance)

    @property
    def leakage_limits(self) -> tuple[tuple[str, str, float], ...]:
        """The ``--leakage-limit`` rules, parsed: ``(name, op, value)``."""
        return tuple(_parse_leakage_limit(text) for text in self.leakage_limit)

    @property
    def needs_baseline(self) -> bool:
        return (
            self.max_lse_c_drop is not None
            or self.max_lse_d_rise is not None
            or self.fail_on_missing
            or bool(self.tolerance)
        )

    @property
    def any_rule(self) -> bool:
        """Whether any gate is set (a check without one gates nothing)."""
        return (
            self.needs_baseline
            or bool(self.limits)
            or bool(self.limit)
            or self.min_ok_fraction is not None
            or self.above_real
            or self.fail_above_real
            or self.require_owner is not None
            or bool(self.leakage_limit)
        )


BASELINE_OPTIONS = "--max-lse-c-drop/--max-lse-d-rise/--fail-on-missing/--tolerance"


@dataclass(frozen=True)
class MeasureTolerance:
    """How much worse than the baseline a measure may get (``--tolerance FIELD=TOL``).

    Attributes:
        name: a numeric measure field with a better direction (``fid``, ``lpips``, ``csim``).
        value: the tolerance, in the field's unit (>= 0).
    """

    name: str
    value: float

    @classmethod
    def parse(cls, text: str) -> MeasureTolerance:
        """``FIELD=TOL``.

        Raises:
            ConfigError: not of that form, no such field, or one with no better direction.
        """
        name, sep, number = text.partition("=")
        name = name.strip()
        found = field_named(name)
        if not sep or found is None:
            raise ConfigError(f"--tolerance {text!r}: give FIELD=TOL with a measure field")
        if not found[1].numeric or found[1].better is None:
            raise ConfigError(f"--tolerance {text!r}: {name!r} has no better direction")
        try:
            value = float(number)
        except ValueError:
            raise ConfigError(f"--tolerance {text!r}: {number!r} is not a number") from None
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"--tolerance {text!r}: the tolerance must be >= 0")
        return cls(name, value)

    @property
    def lower_is_better(self) -> bool:
        found = field_named(self.name)
        return found is not None and found[1].better == "lower"


def _parse_leakage_limit(text: str) -> tuple[str, str, float]:
    found = re.fullmatch(r"\s*([a-z_]+)\s*(<=|>=)\s*(\S+)\s*", text)
    if found is None or found.group(1) not in LEAKAGE_STATISTICS:
        raise ConfigError(
            f"--leakage-limit {text!r}: give NAME<=X or NAME>=X, NAME one of "
            f"{', '.join(LEAKAGE_STATISTICS)}"
        )
    try:
        value = float(found.group(3))
    except ValueError:
        raise ConfigError(f"--leakage-limit {text!r}: {found.group(3)!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--leakage-limit {text!r}: the limit must be a finite number")
    return found.group(1), found.group(2), value


def _leakage_checks(thresholds: Thresholds, summary: BatchSummary) -> list[CheckOutcome]:
    """``--leakage-limit``: each statistic's mean in every group (else over all records)."""
    scopes = dict(summary.groups) if summary.groups else {"all": summary}
    checks = []
    for name, op, value in thresholds.leakage_limits:
        label = LEAKAGE_STATISTICS[name][0]
        for scope, group in scopes.items():
            check_name = f"leakage:{name}{op}{value:g}" + (f" [{scope}]" if summary.groups else "")
            rule = f"mean {label} {op} {value:g}"
            stat = None if group.leakage is None else group.leakage.statistics[name]
            if stat is None or stat.mean is None:
                why = (
                    "no record has a manifest condition"
                    if group.leakage is None
                    else f"no {'silent clip' if name.startswith('silent') else 'complete pair'}"
                    " in the means"
                )
                checks.append(CheckOutcome(check_name, rule, "not measured", False, why))
                continue
            passed = stat.mean <= value if op == "<=" else stat.mean >= value
            measured = (
                f"{_fmt(stat.mean)} (95% CI {_fmt(stat.ci_low)} to {_fmt(stat.ci_high)}, "
                f"n={stat.n})"
            )
            word = "within" if passed else ("above" if op == "<=" else "below")
            message = f"mean {label} {_fmt(stat.mean)} is {word} the limit {value:g}"
            checks.append(CheckOutcome(check_name, rule, measured, passed, message))
    return checks


@dataclass(frozen=True)
class CheckOutcome:
    """One gate: what was required, what was measured, and the verdict.

    Attributes:
        name: option name without dashes (``min-lse-c``), the JUnit test name.
        rule: the requirement in words (``mean LSE-C >= 6.000``).
        measured: the measured value(s) in words.
        passed: verdict.
        message: one line saying by how much it passed or failed.
        details: extra lines (for example the videos that broke a per-video limit).
    """

    name: str
    rule: str
    measured: str
    passed: bool
    message: str
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckReport:
    """Everything ``syncnet-eval check`` found."""

    results_path: str
    baseline_path: str | None
    summary: BatchSummary
    checks: list[CheckOutcome]
    comparison: PairedComparison | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]

    def markdown(self) -> str:
        """The report as GitHub-flavoured Markdown."""
        n_fail = len(self.failures)
        checks = count(len(self.checks), "check")
        verdict = "PASS" if self.passed else f"FAIL ({n_fail} of {checks} failed)"
        lines = [f"## syncnet-eval check: {verdict}", ""]
        lines.append(f"Results: `{self.results_path}`: {counts_line(self.summary)}")
        if self.baseline_path is not None and self.comparison is not None:
            lines.append(f"Baseline: `{self.baseline_path}`: {_pairing_line(self.comparison)}")
        lines.append("")
        for warning in self.warnings:
            lines += [f"> **Warning**: {warning}", ""]
        if self.checks:
            lines += ["| Check | Rule | Measured | Result |", "|---|---|---|---|"]
            for c in self.checks:
                verdict_cell = "pass" if c.passed else "**FAIL**"
                lines.append(
                    f"| `{c.name}` | {_cell(c.rule)} | {_cell(c.measured)} | {verdict_cell}: "
                    f"{_cell(c.message)} |"
                )
        else:
            lines.append("No thresholds given; nothing was gated.")
        failed = self.failures
        if failed:
            lines += ["", "### Failed", ""]
            for c in failed:
                lines.append(f"- `{c.name}`: {c.message}")
                lines += [f"  - {d}" for d in c.details]
        if self.comparison is not None:
            lines += ["", "### Baseline comparison (new - base)", ""]
            lines.append(_paired_table(self.comparison))
        return "\n".join(lines) + "\n"

    def junit_xml(self) -> str:
        """The checks as a JUnit XML test suite (one test case per check)."""
        n_fail = len(self.failures)
        suites = ET.Element(
            "testsuites",
            name="syncnet-eval check",
            tests=str(len(self.checks)),
            failures=str(n_fail),
            errors="0",
        )
        suite = ET.SubElement(
            suites,
            "testsuite",
            name="syncnet-eval check",
            tests=str(len(self.checks)),
            failures=str(n_fail),
            errors="0",
            skipped="0",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="results", value=self.results_path)
        if self.baseline_path is not None:
            ET.SubElement(props, "property", name="baseline", value=self.baseline_path)
        for c in self.checks:
            case = ET.SubElement(
                suite, "testcase", classname="syncnet_eval.check", name=c.name, time="0"
            )
            text = "\n".join([f"{c.rule}: {c.measured}", c.message, *c.details])
            if c.passed:
                ET.SubElement(case, "system-out").text = text
            else:
                failure = ET.SubElement(case, "failure", message=c.message, type="threshold")
                failure.text = text
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

    def github_annotations(self) -> list[str]:
        """``::error`` workflow commands, one per failed check."""
        return [
            f"::error title={_gh_escape_property('syncnet-eval check ' + c.name)}::"
            f"{_gh_escape_data(c.message)}"
            for c in self.failures
        ]


# -- checks -----------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 3) -> str:
    return number(x, digits)


def _signed(x: float | None, digits: int = 3) -> str:
    return signed(x, digits)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def counts_line(summary: GroupSummary) -> str:
    """``12 inputs, 10 ok, 2 not scored (no_face 1, decode_error 1); 3 flagged ...``."""
    counts = {k: v for k, v in summary.status_counts.items() if v and k != "ok"}
    parts = ", ".join(f"{k} {v}" for k, v in counts.items())
    line = f"{count(summary.num_inputs, 'input')}, {summary.num_ok} ok"
    if summary.num_not_scored:
        line += f", {summary.num_not_scored} not scored ({parts or 'non-finite scores'})"
    flags = ", ".join(f"{k} {v}" for k, v in summary.flag_counts.items() if v)
    if summary.include_flagged and flags:
        line += f"; flagged videos kept in the means ({flags})"
    elif summary.num_flagged:
        line += (
            f"; {summary.num_flagged} flagged and left out of the means ({flags}; "
            "--include-flagged keeps them)"
        )
    return line


def _pairing_line(
    cmp: PairedComparison, new: str = "the results", base: str = "the baseline"
) -> str:
    return (
        f"{count(len(cmp.pairs), 'video')} scored in both runs; "
        f"{len(cmp.only_in_new)} only in {new}, "
        f"{len(cmp.only_in_base)} only in {base}, {len(cmp.not_ok)} not scored in one of them, "
        f"{len(cmp.flagged)} flagged in one of them (not averaged)"
    )


def _mean_check(
    name: str, metric: str, limit: float, ok_results: Sequence[VideoResult], *, higher_is_ok: bool
) -> CheckOutcome:
    label = _METRIC_LABEL[metric]
    op = ">=" if higher_is_ok else "<="
    rule = f"mean {label} {op} {limit:.3f}"
    ok_results = [r for r in ok_results if is_usable(r)]  # not lmd's: no SyncNet numbers
    if not ok_results:
        return CheckOutcome(
            name, rule, "no ok videos", False, f"no scored videos to average {label} over"
        )
    values = [metric_value(r, metric) for r in ok_results]
    desc = describe(values)
    mean = desc.mean if desc.mean is not None else float("nan")
    measured = f"{_fmt(mean)} (95% CI {_fmt(desc.ci_low)} to {_fmt(desc.ci_high)}, n={desc.n})"
    margin = mean - limit if higher_is_ok else limit - mean
    passed = margin >= 0
    if passed:
        message = f"mean {label} {_fmt(mean)} is within the limit {limit:.3f} by {margin:.3f}"
    else:
        side = "below" if higher_is_ok else "above"
        message = f"mean {label} {_fmt(mean)} is {side} the limit {limit:.3f} by {-margin:.3f}"
    return CheckOutcome(name, rule, measured, passed, message)


_RULE_LABEL = {
    "min_lse_c": LSE_C.name,
    "max_lse_d": LSE_D.name,
    "max_abs_offset": ABS_OFFSET.name,
    "min_windows": "windows",
}


def _per_video_check(rule: str, rules: Rules, admitted: Sequence[VideoResult]) -> CheckOutcome:
    """``rule`` (a limit of ``rules``) on every admitted video, judged by ``Rules.breaches``
    (the function ``filter`` keeps videos by)."""
    name, label, limit = rule.replace("_", "-"), _RULE_LABEL[rule], rules.limits[rule]
    lower = rule in ("min_lse_c", "min_windows")
    digits = 0 if rule == "min_windows" else 3
    rule_text = f"every video's {label} {'>=' if lower else '<='} {limit:.{digits}f}"
    if not admitted:
        return CheckOutcome(
            name, rule_text, "no ok videos", False, f"no scored videos to check {label}"
        )
    bad = [(b, r) for r in admitted for b in rules.breaches(r) if b.rule == rule]
    bad.sort(key=lambda t: -t[0].by)
    values = [v for r in admitted if (v := measure(r, rule)) is not None]
    worst = (min(values) if lower else max(values)) if values else None
    measured = f"worst {_fmt(worst, digits)} over {count(len(admitted), 'video')}"
    if not bad:
        return CheckOutcome(
            name,
            rule_text,
            measured,
            True,
            f"all {count(len(admitted), 'video')} within {limit:.{digits}f}",
        )
    side = "below" if lower else "above"
    details = [
        f"{r.id or r.path}: {label} {_fmt(b.value, digits)} ({side} by {b.by:.{digits}f})"
        for b, r in bad[:20]
    ]
    if len(bad) > 20:
        details.append(f"... and {len(bad) - 20} more")
    message = (
        f"{len(bad)} of {count(len(admitted), 'video')} {'has' if len(bad) == 1 else 'have'} "
        f"{label} {side} {limit:.{digits}f} (worst "
        f"{_fmt(worst, digits)}, by {bad[0][0].by:.{digits}f})"
    )
    return CheckOutcome(name, rule_text, measured, False, message, details)


def owner_check(required: str, scored: Sequence[VideoResult]) -> CheckOutcome:
    """``--require-owner N|manifest`` on every scored video: each decided segment of the owner
    measure (:mod:`syncnet_eval.ownership`) must belong to track N (or the track the record's
    manifest ``owner`` column named). A video fails when another track owns a segment, when
    no track is named, when it has no ownership (fewer than two face tracks), when its
    weights cannot judge it, or when no segment is decided."""
    rule_text = (
        "the track each manifest row names owns every decided segment"
        if required == "manifest"
        else f"track {required} owns every decided segment"
    )
    if not scored:
        return CheckOutcome("require-owner", rule_text, "no ok videos", False, "no scored videos")
    problems = [(r, p) for r in scored if (p := _owner_problem(required, r)) is not None]
    measured = f"{len(scored) - len(problems)} of {count(len(scored), 'video')} as required"
    details = [f"{r.id or r.path}: {p}" for r, p in problems[:20]]
    if len(problems) > 20:
        details.append(f"... and {len(problems) - 20} more")
    if not problems:
        message = f"the required track owns the audio in all {count(len(scored), 'video')}"
        return CheckOutcome("require-owner", rule_text, measured, True, message)
    unjudged = sum(1 for _, p in problems if p.startswith("ownership cannot be judged"))
    message = f"{len(problems)} of {count(len(scored), 'video')} fail" + (
        f" ({unjudged} cannot be judged)" if unjudged else ""
    )
    return CheckOutcome("require-owner", rule_text, measured, False, message, details)


def _owner_problem(required: str, result: VideoResult) -> str | None:
    """Why ``result`` breaks ``--require-owner`` (``None``: it does not)."""
    values = video_values(result, get_measure("owner"))
    expected = values.get("owner_expected") if required == "manifest" else int(required)
    if expected is None:
        return "no owner named (the manifest has no 'owner' for it)"
    verdict = values.get("owner_judgement")
    if verdict is None:
        return "no ownership measured (fewer than two face tracks were scored)"
    if verdict != JUDGED:
        return f"ownership cannot be judged: {verdict.removeprefix('not judged: ')}"
    runs = owner_runs(values)
    if not runs:
        return f"no segment is decided (every margin is below {OWNER_MIN_MARGIN:g})"
    wrong = [r for r in runs if r["track"] != expected]
    if not wrong:
        return None
    spans = ", ".join(
        f"track {r['track']} {r['start_s']:.1f}-{r['end_s']:.1f} s" for r in wrong[:4]
    )
    return f"owned by another track than {expected}: {spans}"


def _ok_fraction_check(limit: float, summary: BatchSummary) -> CheckOutcome:
    """``ok`` inputs (flagged or not, as the counts line says) over all inputs."""
    n, ok = summary.num_inputs, summary.num_ok
    name, rule = "min-ok-fraction", f"ok fraction >= {limit:.3f}"
    if n == 0:
        return CheckOutcome(name, rule, "no inputs", False, "the results are empty")
    frac = ok / n
    measured = f"{frac:.3f} ({ok} of {n} ok)"
    flagged = f"; {summary.num_flagged} of them flagged" if summary.num_flagged else ""
    if frac >= limit:
        msg = (
            f"{ok} of {count(n, 'input')} ok ({frac:.3f}), within {limit:.3f} by {frac - limit:.3f}"
        )
        return CheckOutcome(name, rule, measured, True, msg + flagged)
    counts = {k: v for k, v in summary.status_counts.items() if v and k != "ok"}
    causes = ", ".join(f"{k} {v}" for k, v in counts.items()) or "non-finite scores"
    msg = (
        f"only {ok} of {count(n, 'input')} ok ({frac:.3f}), "
        f"below {limit:.3f} by {limit - frac:.3f}; "
        f"not scored: {causes}"
    )
    return CheckOutcome(name, rule, measured, False, msg)


def _missing_check(cmp: PairedComparison) -> CheckOutcome:
    """``--fail-on-missing``: every video of the baseline is in the results."""
    missing = cmp.only_in_base
    n_base = len(cmp.pairs) + len(cmp.only_in_base) + len(cmp.not_ok) + len(cmp.flagged)
    rule = "every baseline video is in the results"
    measured = f"{len(missing)} of {n_base} missing"
    if not missing:
        return CheckOutcome(
            "fail-on-missing", rule, measured, True, f"all {n_base} baseline videos are present"
        )
    details = [f"missing: {key}" for key in missing[:20]]
    if len(missing) > 20:
        details.append(f"... and {len(missing) - 20} more")
    message = f"{len(missing)} of {n_base} baseline videos are missing from the results"
    return CheckOutcome("fail-on-missing", rule, measured, False, message, details)


def _baseline_check(
    name: str, metric: str, limit: float, cmp: PairedComparison, *, strict: bool
) -> CheckOutcome:
    """LSE-C may not drop (new - base < -limit) / LSE-D may not rise (> limit) beyond ``limit``."""
    label = _METRIC_LABEL[metric]
    pm = cmp.metrics[metric]
    drop = metric == "lse_c"
    basis = "mean" if strict else "95% CI"
    if drop:
        rule = f"{label} change vs baseline not below -{limit:.3f} ({basis})"
    else:
        rule = f"{label} change vs baseline not above +{limit:.3f} ({basis})"
    notes = [_pairing_line(cmp)]
    if pm.n == 0 or pm.diff_mean is None or pm.diff_ci_low is None or pm.diff_ci_high is None:
        return CheckOutcome(
            name,
            rule,
            "no pairs",
            False,
            "no video was scored in both runs; nothing to compare",
            notes,
        )
    measured = (
        f"mean {_signed(pm.diff_mean)}, 95% CI {_signed(pm.diff_ci_low)} to "
        f"{_signed(pm.diff_ci_high)} (n={pm.n}; base {_fmt(pm.base_mean)}, new "
        f"{_fmt(pm.new_mean)})"
    )
    if drop:
        judged = pm.diff_mean if strict else pm.diff_ci_high
        margin = judged + limit  # >= 0: not entirely beyond a drop of `limit`
        what = "mean change" if strict else "CI upper bound"
        if margin >= 0:
            msg = (
                f"{label} {what} {_signed(judged)} is not below -{limit:.3f} (margin {margin:.3f})"
            )
        else:
            msg = (
                f"{label} dropped: {what} {_signed(judged)} is below -{limit:.3f} by {-margin:.3f}"
            )
    else:
        judged = pm.diff_mean if strict else pm.diff_ci_low
        margin = limit - judged
        what = "mean change" if strict else "CI lower bound"
        if margin >= 0:
            msg = (
                f"{label} {what} {_signed(judged)} is not above +{limit:.3f} (margin {margin:.3f})"
            )
        else:
            msg = f"{label} rose: {what} {_signed(judged)} is above +{limit:.3f} by {-margin:.3f}"
    return CheckOutcome(name, rule, measured, margin >= 0, msg, notes)


def run_checks(
    results: Sequence[VideoResult],
    thresholds: Thresholds,
    *,
    baseline: Sequence[VideoResult] | None = None,
    results_path: str = "results",
    baseline_path: str | None = None,
) -> CheckReport:
    """Evaluate every gate set in ``thresholds``.

    The rules judge the videos ``thresholds.admits`` (scored, without reliability flags unless
    ``include_flagged``): their means, or each one by ``Rules.breaches`` with ``per_video``
    (``min_windows`` always per video); ``min_ok_fraction`` counts the ``ok`` inputs, flagged
    or not. ``fail_on_missing`` fails when videos of the baseline are not in the results. The
    baseline rules compare
    videos matched by ``id`` (else path) and scored in both runs: the paired mean difference
    ``new - base`` fails ``max_lse_c_drop`` D only when its whole 95% bootstrap CI lies below -D
    (``strict``: when the mean does), and ``max_lse_d_rise`` D only when the whole CI lies
    above D. Runs made with different configurations get a warning naming the differences
    (``strict``: a failing ``same-configuration`` check); so does a file that mixes several.
    ``above_real`` warns about (``fail_above_real`` fails on) datasets whose admitted videos
    score, on average, better than their published real-video band.

    Args:
        results: the run under test.
        thresholds: the gates.
        baseline: the reference run (needed for the baseline rules).
        results_path: name of the results file, for the report.
        baseline_path: name of the baseline file, for the report.

    Returns:
        The ``CheckReport``.

    Raises:
        ValueError: a baseline rule is set without a baseline.
    """
    if thresholds.needs_baseline and baseline is None:
        raise ValueError(f"{BASELINE_OPTIONS} need a baseline")
    include = thresholds.include_flagged
    summary = summarize(results, include_flagged=include)
    admitted = [r for r in results if thresholds.admits(r)]
    checks = _metric_checks(thresholds, admitted)
    if thresholds.min_ok_fraction is not None:
        checks.append(_ok_fraction_check(thresholds.min_ok_fraction, summary))
    checks += _leakage_checks(thresholds, summary)
    warnings = [w for w in [mixed_configuration_warning(results, results_path)] if w]
    _judge_above_real(thresholds, admitted, checks, warnings)
    if thresholds.require_owner is not None:
        checks.append(owner_check(thresholds.require_owner, [r for r in results if r.ok]))
    comparison = None
    if baseline is not None:
        comparison = _baseline_checks(
            thresholds, results, baseline, baseline_path, checks, warnings
        )
    return CheckReport(results_path, baseline_path, summary, checks, comparison, warnings)


def _baseline_checks(
    thresholds: Thresholds,
    results: Sequence[VideoResult],
    baseline: Sequence[VideoResult],
    baseline_path: str | None,
    checks: list[CheckOutcome],
    warnings: list[str],
) -> PairedComparison:
    """The rules that compare with the baseline (appended to ``checks``; warnings too)."""
    comparison = pair_results(results, baseline, include_flagged=thresholds.include_flagged)
    if w := mixed_configuration_warning(baseline, baseline_path or "the baseline"):
        warnings.append(w)
    differences = configuration_differences(configurations(baseline), configurations(results))
    if thresholds.fail_on_missing:
        checks.append(_missing_check(comparison))
    if differences:
        warnings.append(
            "the runs were made with different configurations, so a difference in the "
            f"numbers may come from them: {'; '.join(differences)}"
        )
        if thresholds.strict:
            checks.append(_configuration_check(differences))
    if w := media_warning(baseline, results):
        warnings.append(w)
    for name, metric, limit in (
        ("max-lse-c-drop", "lse_c", thresholds.max_lse_c_drop),
        ("max-lse-d-rise", "lse_d", thresholds.max_lse_d_rise),
    ):
        if limit is not None:
            checks.append(
                _baseline_check(name, metric, limit, comparison, strict=thresholds.strict)
            )
    for tol in thresholds.tolerances:
        checks.append(_tolerance_check(tol, comparison, strict=thresholds.strict))
    return comparison


def _judge_above_real(
    thresholds: Thresholds,
    admitted: Sequence[VideoResult],
    checks: list[CheckOutcome],
    warnings: list[str],
) -> None:
    """``--fail-above-real``: a check; ``--above-real``: a warning when a dataset is beyond."""
    if not (thresholds.above_real or thresholds.fail_above_real):
        return
    found = above_real_check(admitted, include_flagged=thresholds.include_flagged)
    if thresholds.fail_above_real:
        checks.append(found)
    elif not found.passed:  # --above-real flags, never fails
        warnings.append(f"{found.message}: {'; '.join(found.details)}")


def _tolerance_check(tol: MeasureTolerance, cmp: PairedComparison, *, strict: bool) -> CheckOutcome:
    """``--tolerance FIELD=TOL``: FIELD may not get worse than the baseline by more than TOL
    (a per-video measure: the paired change's CI, or its mean with ``strict``; a set measure:
    the set values over the videos both runs scored)."""
    name = f"tolerance:{tol.name}"
    worse = "rise" if tol.lower_is_better else "drop"
    sign = 1.0 if tol.lower_is_better else -1.0  # > 0: worse
    found = field_named(tol.name)
    assert found is not None
    spec = found[0]
    notes = [_pairing_line(cmp)]
    if spec.level == "set":
        rule = f"{tol.name} (set value) {worse} vs baseline not beyond {tol.value:g}"
        new = spec.set_values([r for _, _, r in cmp.pairs]).get(tol.name)
        base = spec.set_values([b for _, b, _ in cmp.pairs]).get(tol.name)
        if new is None or base is None:
            return CheckOutcome(
                name, rule, "not measured", False, f"{tol.name} is not in both runs", notes
            )
        change = float(new) - float(base)
        measured = f"{_signed(change)} (base {_fmt(base)}, new {_fmt(new)}, n={len(cmp.pairs)})"
        passed = sign * change <= tol.value
    else:
        basis = "mean" if strict else "95% CI"
        rule = f"{tol.name} {worse} vs baseline not beyond {tol.value:g} ({basis})"
        both = [
            (float(b), float(n))
            for _, base_r, new_r in cmp.pairs
            if (b := video_value(base_r, tol.name)) is not None
            and (n := video_value(new_r, tol.name)) is not None
        ]
        if not both:
            return CheckOutcome(name, rule, "no pairs", False, f"no video has {tol.name} in both")
        desc = describe([n - b for b, n in both])
        assert desc.mean is not None
        low = desc.ci_low if desc.ci_low is not None else desc.mean
        high = desc.ci_high if desc.ci_high is not None else desc.mean
        # The end of the interval nearest no change must itself be beyond the tolerance.
        judged = desc.mean if strict else (low if tol.lower_is_better else high)
        change = desc.mean
        measured = (
            f"mean {_signed(desc.mean)}, 95% CI {_signed(low)} to {_signed(high)} (n={len(both)})"
        )
        passed = sign * judged <= tol.value
    verdict = "within" if passed else "beyond"
    message = f"{tol.name} change {_signed(change)} is {verdict} the tolerance {tol.value:g}"
    return CheckOutcome(name, rule, measured, passed, message, notes)


def _metric_checks(thresholds: Thresholds, admitted: Sequence[VideoResult]) -> list[CheckOutcome]:
    checks = []
    for rule, metric, higher_is_ok in (
        ("min_lse_c", "lse_c", True),
        ("max_lse_d", "lse_d", False),
        ("max_abs_offset", "abs_offset", False),
    ):
        limit = getattr(thresholds, rule)
        if limit is None:
            continue
        if thresholds.per_video:
            checks.append(_per_video_check(rule, thresholds, admitted))
        else:
            name = rule.replace("_", "-")
            checks.append(_mean_check(name, metric, limit, admitted, higher_is_ok=higher_is_ok))
    if thresholds.min_windows is not None:  # a mean of windows means nothing: always per video
        checks.append(_per_video_check("min_windows", thresholds, admitted))
    for ml in thresholds.measure_limits:
        checks.append(_measure_limit_check(ml, thresholds, admitted))
    return checks


def _measure_limit_check(
    ml: MeasureLimit, thresholds: Thresholds, admitted: Sequence[VideoResult]
) -> CheckOutcome:
    """A ``--limit`` on a measure: on the mean of the admitted videos that have a value, or
    on each admitted video with ``per_video`` (judged by ``Rules.breaches``; a video without
    a value breaks it)."""
    name, lower = ml.rule, ml.op == ">="
    side = "below" if lower else "above"
    if ml.of_set:
        return _set_limit_check(ml, admitted)
    if thresholds.per_video:
        rule_text = f"every video's {ml.name} {ml.op} {ml.value:g}"
        bad = [(b, r) for r in admitted for b in thresholds.breaches(r) if b.rule == ml.rule]
        if not admitted:
            return CheckOutcome(name, rule_text, "no ok videos", False, "no scored videos")
        measured = f"{len(admitted) - len(bad)} of {len(admitted)} videos within"
        details = [
            f"{r.id or r.path}: {ml.name} {_fmt(b.value)} ({side} {ml.value:g})"
            for b, r in bad[:20]
        ]
        message = (
            f"{len(bad)} of {len(admitted)} videos have {ml.name} {side} {ml.value:g} or none"
            if bad
            else f"all {len(admitted)} videos within {ml.value:g}"
        )
        return CheckOutcome(name, rule_text, measured, not bad, message, details)
    rule_text = f"mean {ml.name} {ml.op} {ml.value:g}"
    values = [v for r in admitted if (v := measure(r, ml.rule)) is not None]
    if not values:
        return CheckOutcome(
            name, rule_text, "not measured", False, f"no scored video has a value of {ml.name}"
        )
    desc = describe(values)
    mean = desc.mean if desc.mean is not None else float("nan")
    measured = f"{_fmt(mean)} (95% CI {_fmt(desc.ci_low)} to {_fmt(desc.ci_high)}, n={desc.n})"
    passed = mean >= ml.value if lower else mean <= ml.value
    word = "within" if passed else side
    message = f"mean {ml.name} {_fmt(mean)} is {word} the limit {ml.value:g}"
    return CheckOutcome(name, rule_text, measured, passed, message)


def _set_limit_check(ml: MeasureLimit, admitted: Sequence[VideoResult]) -> CheckOutcome:
    """A ``--limit`` on a set measure (``fid<=X``): the set's value over the admitted videos
    (per video or not: a set value belongs to no single video)."""
    found = field_named(ml.name)
    assert found is not None
    rule_text = f"{ml.name} of the set {ml.op} {ml.value:g}"
    value = found[0].set_values(admitted).get(ml.name)
    if value is None:
        return CheckOutcome(
            ml.rule,
            rule_text,
            "not measured",
            False,
            f"no {ml.name}: no admitted video's record has its features (or they cannot be read)",
        )
    passed = value >= ml.value if ml.op == ">=" else value <= ml.value
    word = "within" if passed else ("below" if ml.op == ">=" else "above")
    measured = f"{_fmt(value)} over {len(admitted)} videos"
    return CheckOutcome(
        ml.rule, rule_text, measured, passed, f"{ml.name} {_fmt(value)} is {word} {ml.value:g}"
    )


def above_real_check(
    admitted: Sequence[VideoResult], *, include_flagged: bool = False
) -> CheckOutcome:
    """Each dataset's mean over ``admitted`` against its reference band: fails when the means
    score better than real video on both metrics (LSE-C above the band and LSE-D below it),
    or when nothing can be judged: no record names a dataset, or a dataset's numbers come from
    other than the official SyncNet weights or another recipe than the band's
    (:func:`syncnet_eval.bands.judge_against_band`; the message says which)."""
    name, rule = "above-real", "mean LSE-C and LSE-D not both better than published real video"
    per_dataset = dataset_summaries(admitted, include_flagged=include_flagged)
    if not per_dataset:
        return CheckOutcome(
            name,
            rule,
            "no dataset",
            False,
            "no scored record names a dataset (score --dataset, or a manifest 'dataset' "
            "column), so there is no real-video band to compare with",
        )
    verdicts = {n: d.verdict for n, d in per_dataset.items()}
    beyond = [n for n, v in verdicts.items() if v.better_than_real]
    unjudged = [n for n, v in verdicts.items() if not v.judged]
    shown = beyond or unjudged or list(per_dataset)  # the offenders, else every dataset
    lines = [
        f"{band_line(d.band, d.summary.lse_c.mean, d.summary.lse_d.mean, d.summary.num_scored)}"
        f"; {verdicts[n].text}"
        for n, d in ((n, per_dataset[n]) for n in shown)
    ]
    measured = (
        f"{len(beyond)} of {count(len(per_dataset), 'dataset')} better than real video, "
        f"{len(unjudged)} not judged"
    )
    if beyond:
        message = (
            f"{', '.join(beyond)} scored better than published real video on both metrics "
            "(a sign of a gamed metric)"
        )
        return CheckOutcome(name, rule, measured, False, message, lines)
    if unjudged:
        reasons = "; ".join(f"{n}: {verdicts[n].text}" for n in unjudged)
        return CheckOutcome(name, rule, measured, False, reasons, lines)
    message = f"no dataset scores better than real video ({', '.join(per_dataset)})"
    return CheckOutcome(name, rule, measured, True, message, lines)


def _configuration_check(differences: list[str]) -> CheckOutcome:
    return CheckOutcome(
        "same-configuration",
        "both runs made with the same recipe, weights and options (--strict)",
        f"{len(differences)} differences",
        False,
        f"the runs differ in {'; '.join(differences)}",
    )


# -- configurations ---------------------------------------------------------------------------

# Settings that change no number (speed, memory, where it ran) are left out of a configuration.
_NEUTRAL_SETTINGS = {"batch_size", "device"}


def _configuration(result: VideoResult) -> dict[str, Any] | None:
    """What decided a result's numbers, from its provenance (``None`` without provenance)."""
    prov = result.provenance or {}
    if "syncnet_weights_sha256" not in prov:
        return None
    config: dict[str, Any] = {
        "recipe": result.recipe,
        "weights": prov.get("syncnet_weights_sha256"),
        "ffmpeg": prov.get("ffmpeg"),
    }
    for block in ("score_config", "pipeline_config"):
        for key, value in (prov.get(block) or {}).items():
            if key not in _NEUTRAL_SETTINGS:
                config[key] = value
    return config


def configurations(results: Sequence[VideoResult]) -> list[dict[str, Any]]:
    """The distinct configurations the results were scored with (records without provenance,
    such as inputs that could not be opened, say nothing and are skipped)."""
    found: list[dict[str, Any]] = []
    for r in results:
        config = _configuration(r)
        if config is not None and config not in found:
            found.append(config)
    return found


# The face-track recipe transcodes to 25 fps itself, so the whole-frame recipes' ``fps`` option
# moves none of its numbers; the pipeline options move only its numbers (its provenance alone
# records them).
_PIPELINE_SETTINGS = frozenset(f.name for f in fields(PipelineConfig))
_WHOLE_FRAME_SETTINGS = frozenset({"fps"})


def _applies(key: str, recipes: set[str]) -> bool:
    """Whether setting ``key`` can move the numbers of one of ``recipes``."""
    tracked = {r for r in recipes if REGISTRY[r].needs_tracks}
    if key in _PIPELINE_SETTINGS:
        return bool(tracked)
    if key in _WHOLE_FRAME_SETTINGS:
        return bool(recipes - tracked)
    return True


def _recipe_first(keys: set[str], configs: Sequence[dict[str, Any]]) -> list[str]:
    """``keys`` in the order a reader needs them: ``recipe``, then the settings that apply to
    the recipes of ``configs``, then the others (alphabetical within each)."""
    recipes = {str(c.get("recipe")) for c in configs if c.get("recipe") in REGISTRY}
    return sorted(keys, key=lambda k: (k != "recipe", not _applies(k, recipes), k))


def configuration_differences(
    base: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
) -> list[str]:
    """``setting: base value vs new value`` for every setting the two runs disagree on: the
    recipe first, then the settings that apply to the new run's recipe, then the others."""
    differences: list[str] = []
    if not (base and new):
        return differences
    keys = {k for c in [*base, *new] for k in c}
    for key in _recipe_first(keys, new):
        base_values = sorted({json.dumps(c.get(key)) for c in base})
        new_values = sorted({json.dumps(c.get(key)) for c in new})
        if base_values != new_values:
            differences.append(f"{key}: {' / '.join(base_values)} vs {' / '.join(new_values)}")
    return differences


def mixed_configuration_warning(results: Sequence[VideoResult], name: str) -> str | None:
    """A warning when one results file holds records of several configurations (the recipe
    first, then the settings that apply to its recipes, then the others)."""
    found = configurations(results)
    if len(found) < 2:
        return None
    differing = {k for c in found for k in c if len({json.dumps(d.get(k)) for d in found}) > 1}
    return (
        f"{name} mixes {len(found)} configurations (they differ in "
        f"{', '.join(_recipe_first(differing, found))}); its means pool numbers that are not "
        "comparable"
    )


# -- comparison tables ------------------------------------------------------------------------


def _paired_table(cmp: PairedComparison) -> str:
    lines = [
        "| Metric | n | Base mean | New mean | Mean diff | 95% CI of diff |",
        "|---|---|---|---|---|---|",
    ]
    for name, pm in cmp.metrics.items():
        ci = (
            MISSING
            if pm.diff_ci_low is None
            else f"{_signed(pm.diff_ci_low)} to {_signed(pm.diff_ci_high)}"
        )
        lines.append(
            f"| {_cell(_METRIC_LABEL[name])} | {pm.n} | {_fmt(pm.base_mean)} | "
            f"{_fmt(pm.new_mean)} | {_signed(pm.diff_mean)} | {ci} |"
        )
    return "\n".join(lines)


def comparison_markdown(
    cmp: PairedComparison,
    base_name: str,
    new_name: str,
    *,
    base_summary: GroupSummary | None = None,
    new_summary: GroupSummary | None = None,
    per_video: bool = False,
    warnings: Sequence[str] = (),
) -> str:
    """Markdown of a paired comparison (``new - base``), without any verdict.

    Args:
        cmp: the comparison.
        base_name: label of run A (the base).
        new_name: label of run B (the new run).
        base_summary: ``summarize`` of A, for its counts line.
        new_summary: ``summarize`` of B.
        per_video: add one row per matched video.
        warnings: shown above the table (different configurations, mixed files).
    """
    lines = ["## syncnet-eval compare", ""]
    lines.append(
        f"A (base): `{base_name}`" + (f": {counts_line(base_summary)}" if base_summary else "")
    )
    lines.append(
        f"B (new): `{new_name}`" + (f": {counts_line(new_summary)}" if new_summary else "")
    )
    lines.append("")
    for warning in warnings:
        lines += [f"> **Warning**: {warning}", ""]
    lines.append(f"Paired over {_pairing_line(cmp, 'B', 'A')}. Differences are B - A.")
    lines.append("")
    lines.append(_paired_table(cmp))
    if cmp.only_in_new or cmp.only_in_base or cmp.not_ok or cmp.flagged:
        lines += ["", "### Not compared", ""]
        lines += [f"- only in B: `{k}`" for k in cmp.only_in_new]
        lines += [f"- only in A: `{k}`" for k in cmp.only_in_base]
        lines += [f"- `{k}`: A {b}, B {n}" for k, b, n in cmp.not_ok]
        lines += [
            f"- `{k}`: flagged (A {', '.join(b) or MISSING}; B {', '.join(n) or MISSING})"
            for k, b, n in cmp.flagged
        ]
    if per_video and cmp.pairs:
        lines += [
            "",
            "### Per video",
            "",
            "| Video | LSE-D A | LSE-D B | diff | LSE-C A | LSE-C B | diff | offset A | offset B |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, b, n in cmp.pairs:
            lines.append(
                f"| `{_cell(key)}` | {_fmt(b.lse_d)} | {_fmt(n.lse_d)} | "
                f"{_signed(metric_value(n, 'lse_d') - metric_value(b, 'lse_d'))} | "
                f"{_fmt(b.lse_c)} | {_fmt(n.lse_c)} | "
                f"{_signed(metric_value(n, 'lse_c') - metric_value(b, 'lse_c'))} | "
                f"{offset_text(b.av_offset)} | {offset_text(n.av_offset)} |"
            )
        lines += ["", OFFSET_SENTENCE]
    return "\n".join(lines) + "\n"


# -- GitHub workflow commands -----------------------------------------------------------------


def _gh_escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_escape_property(text: str) -> str:
    return _gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")
