"""Summary statistics over many results: means, bootstrap intervals, paired comparisons.

Everything is deterministic: the bootstrap uses ``numpy.random.default_rng(BOOTSTRAP_SEED)``, so
the same records always give the same summary (a resumed run matches an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
import os
from typing import Any

import numpy as np

from .bands import RealVideoVerdict, beyond_band, judge_against_band
from .leakage import (
    LEAKAGE_CHOICES,
    LEAKAGE_STATISTICS,
    LeakageSamples,
    has_conditions,
    leakage_samples,
)
from .measures import REGISTRY, video_values
from .reliability import FLAGS
from .rules import Rules, is_measured, is_usable
from .types import STATUSES, Status, VideoResult

__all__ = [
    "BatchSummary",
    "DatasetSummary",
    "GroupSummary",
    "LeakageSummary",
    "dataset_summaries",
    "in_means",
    "leakage_summary",
    "is_usable",
    "measure_summaries",
    "metric_value",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "METRICS",
    "MetricSummary",
    "PairedMetric",
    "PairedComparison",
    "bootstrap_mean_ci",
    "describe",
    "summarize",
    "match_results",
    "pair_results",
]

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
# Video-level metrics summarised and compared; "abs_offset" is |av_offset| in frames.
METRICS = ("lse_d", "lse_c", "abs_offset")
NO_GROUP = "(none)"
# Resamples drawn per chunk: bounds memory at _CHUNK * n indices for large batches.
_CHUNK = 1000


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Args:
        values: (n,) samples, n >= 1.
        confidence: coverage of the interval (0.95 gives the 2.5th and 97.5th percentiles).
        resamples: bootstrap resamples.
        seed: seed of ``numpy.random.default_rng``; fixed so summaries are reproducible.

    Returns:
        ``(low, high)``; both equal the value when n == 1.

    Raises:
        ValueError: when ``values`` is empty.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    if n == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _CHUNK):
        stop = min(start + _CHUNK, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


@dataclass(frozen=True)
class MetricSummary:
    """Mean, sample standard deviation and bootstrap CI of one metric over ``n`` videos."""

    n: int
    mean: float | None
    std: float | None  # ddof=1; None below two samples
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "ci95_low": self.ci_low,
            "ci95_high": self.ci_high,
        }


def describe(values: Sequence[float] | np.ndarray) -> MetricSummary:
    """``MetricSummary`` of a sample (all fields ``None`` but ``n`` when it is empty)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return MetricSummary(0, None, None, None, None)
    low, high = bootstrap_mean_ci(x)
    std = float(np.std(x, ddof=1)) if x.size > 1 else None
    return MetricSummary(int(x.size), float(np.mean(x)), std, low, high)


def metric_value(result: VideoResult, name: str) -> float:
    """``lse_d``, ``lse_c`` or ``abs_offset`` (|AV offset| in frames) of a scored result."""
    if name == "abs_offset":
        return abs(float(result.av_offset))  # type: ignore[arg-type]
    return float(getattr(result, name))


def in_means(result: VideoResult, include_flagged: bool = False) -> bool:
    """Whether ``result`` enters means: usable, and without reliability flags unless
    ``include_flagged`` (see :mod:`syncnet_eval.reliability`); the videos
    :meth:`syncnet_eval.rules.Rules.admits`."""
    return Rules(include_flagged=include_flagged).admits(result)


@dataclass(frozen=True)
class LeakageSummary:
    """The leakage protocol's statistics over one group (:mod:`syncnet_eval.leakage`).

    Attributes:
        statistics: name (``silent_lse_c``, ``silent_lse_d``, ``lsd_cr``, ``lsd_ar``,
            ``lsd_cr_d``, ``lsd_ar_d``) -> mean with its bootstrap interval.
        pairs: complete pairs per identity reference.
        unpaired: pairs lacking a matched or a mismatched clip in the means.
    """

    statistics: dict[str, MetricSummary]
    pairs: dict[str, int]
    unpaired: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: m.to_dict() for name, m in self.statistics.items()},
            "pairs": dict(self.pairs),
            "unpaired": list(self.unpaired),
            "definition": dict(LEAKAGE_CHOICES),
        }


def leakage_summary(
    results: Sequence[VideoResult], admitted: Sequence[VideoResult]
) -> LeakageSummary | None:
    """:class:`LeakageSummary` over ``admitted`` (the records of ``results`` in the means);
    ``None`` when no record of ``results`` has a manifest ``condition``."""
    if not has_conditions(results):
        return None
    found = leakage_samples([r for r in admitted if is_usable(r)]) or LeakageSamples()
    stats = {name: describe(found.values.get(name, [])) for name in LEAKAGE_STATISTICS}
    return LeakageSummary(stats, found.pairs, found.unpaired)


@dataclass(frozen=True)
class GroupSummary:
    """Counts by status and flag, and statistics over the videos that enter the means.

    ``num_inputs = num_scored + num_flagged + num_not_scored``.

    Attributes:
        num_inputs: results summarised.
        num_ok: usable results (status ``ok``, finite numbers), flagged or not.
        num_scored: results in the means (``num_ok`` less those left out for their flags).
        status_counts: results per status (every status present, 0 when unseen).
        flag_counts: usable results per reliability flag (every flag present).
        include_flagged: whether flagged results entered the means.
        lse_d: LSE-D over the results in the means.
        lse_c: LSE-C over the results in the means.
        mean_abs_offset: mean |AV offset| in frames over the results in the means.
        measures: each registered measure field with a summary (:mod:`syncnet_eval.measures`,
            ``Field.summary``), over the results in the means that have a value: a
            :class:`MetricSummary` (``mean``: the share of silent frames with a moving mouth,
            say) or a total (``sum``: the counted silent frames). Written under the field's name.
    """

    num_inputs: int
    num_ok: int
    num_scored: int
    status_counts: dict[Status, int]
    flag_counts: dict[str, int]
    include_flagged: bool
    lse_d: MetricSummary
    lse_c: MetricSummary
    mean_abs_offset: float | None
    measures: dict[str, MetricSummary | float] = field(default_factory=dict)
    leakage: LeakageSummary | None = None

    @property
    def num_flagged(self) -> int:
        """Usable results left out of the means for their flags."""
        return self.num_ok - self.num_scored

    @property
    def num_not_scored(self) -> int:
        """Results that could not be scored (any status but ``ok``, or non-finite numbers)."""
        return self.num_inputs - self.num_ok

    def to_dict(self) -> dict[str, Any]:
        """The JSON block."""
        leakage = {} if self.leakage is None else {"leakage": self.leakage.to_dict()}
        return {
            "num_inputs": self.num_inputs,
            "num_ok": self.num_ok,
            "num_scored": self.num_scored,
            "num_flagged": self.num_flagged,
            "num_not_scored": self.num_not_scored,
            "status_counts": dict(self.status_counts),
            "flag_counts": dict(self.flag_counts),
            "include_flagged": self.include_flagged,
            "lse_d": self.lse_d.to_dict(),
            "lse_c": self.lse_c.to_dict(),
            "mean_abs_offset": self.mean_abs_offset,
            **{
                name: value.to_dict() if isinstance(value, MetricSummary) else value
                for name, value in self.measures.items()
            },
            **leakage,
        }

    @classmethod
    def of(cls, results: Sequence[VideoResult], include_flagged: bool = False) -> GroupSummary:
        """Summarise ``results``; flagged ones enter the means only with ``include_flagged``."""
        counts: dict[Status, int] = {s: 0 for s in STATUSES}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        # Records without SyncNet numbers (lmd's: rules.is_measured) count as ok and enter the
        # measure summaries; the LSE and offset statistics are over the records that have them.
        usable = [r for r in results if is_usable(r) or is_measured(r)]
        flag_counts: dict[str, int] = {f: sum(f in r.flags for r in usable) for f in FLAGS}
        scored = [r for r in usable if in_means(r, include_flagged)]
        synced = [r for r in scored if is_usable(r)]
        offsets = [metric_value(r, "abs_offset") for r in synced]
        return cls(
            num_inputs=len(results),
            num_ok=len(usable),
            num_scored=len(scored),
            status_counts=counts,
            flag_counts=flag_counts,
            include_flagged=include_flagged,
            lse_d=describe([metric_value(r, "lse_d") for r in synced]),
            lse_c=describe([metric_value(r, "lse_c") for r in synced]),
            mean_abs_offset=float(np.mean(offsets)) if offsets else None,
            measures=measure_summaries(scored),
            leakage=leakage_summary(results, scored),
        )


def measure_summaries(results: Sequence[VideoResult]) -> dict[str, MetricSummary | float]:
    """Every registered measure field with a summary, over ``results`` (those in the means):
    the mean with its interval, or the total, of the videos' values
    (:func:`~syncnet_eval.measures.video_values`: a track measure from the tracks behind the
    video's numbers), and a set measure's value over them (``MeasureSpec.set_values``). A
    measure that is not computed by default is left out where no result has it."""
    found: dict[str, MetricSummary | float] = {}
    for spec in REGISTRY.values():
        if spec.level == "set":  # one value over the set (FID, FVD), from the records' files
            found.update({k: v for k, v in spec.set_values(results).items() if v is not None})
            continue
        summarised = [f for f in spec.fields if f.summary != "none"]
        if not summarised:
            continue
        values = [video_values(r, spec) for r in results]
        for f in summarised:
            present = [v[f.name] for v in values if v.get(f.name) is not None]
            if not present and not spec.default:
                continue
            found[f.name] = describe(present) if f.summary == "mean" else sum(present)
    return found


@dataclass(frozen=True)
class BatchSummary(GroupSummary):
    """:class:`GroupSummary` of a whole batch, repeated per manifest ``group`` when any is set.

    Attributes:
        groups: group name (``"(none)"`` for results without one) -> its summary; empty when no
            result has a group.
    """

    groups: dict[str, GroupSummary] = field(default_factory=dict)
    # Per dataset of the records' reference bands (score --dataset): its summary vs the band.
    datasets: dict[str, DatasetSummary] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["bootstrap"] = {
            "method": "percentile",
            "resamples": BOOTSTRAP_RESAMPLES,
            "seed": BOOTSTRAP_SEED,
            "confidence": CONFIDENCE,
        }
        if self.groups:
            data["groups"] = {name: g.to_dict() for name, g in self.groups.items()}
        if self.datasets:
            data["datasets"] = {name: d.to_dict() for name, d in self.datasets.items()}
        return data


@dataclass(frozen=True)
class DatasetSummary:
    """The videos of one dataset (their records' ``reference_band``) against its real-video
    band (:mod:`syncnet_eval.bands`).

    Attributes:
        band: the band the records carry (``ReferenceBand.to_dict()``).
        summary: counts and statistics over those videos.
        recipes: the recipes of the videos in the means.
        weights_official: whether their SyncNet weights are the official file (``None``: a
            record does not say).
    """

    band: dict[str, Any]
    summary: GroupSummary
    recipes: tuple[str, ...] = ()
    weights_official: bool | None = None

    @property
    def verdict(self) -> RealVideoVerdict:
        """The means against the band (:func:`syncnet_eval.bands.judge_against_band`)."""
        return judge_against_band(
            self.band,
            self.summary.lse_c.mean,
            self.summary.lse_d.mean,
            recipes=self.recipes,
            weights_official=self.weights_official,
        )

    @property
    def beyond_real(self) -> list[str]:
        """How the means score better than real video, when the verdict says they do (empty:
        not judged, or not better on both metrics)."""
        if not self.verdict.better_than_real:
            return []
        return beyond_band(self.band, self.summary.lse_c.mean, self.summary.lse_d.mean)

    def to_dict(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "band": self.band,
            **self.summary.to_dict(),
            "beyond_real": self.beyond_real,
            "above_real": {
                "judged": verdict.judged,
                "better_than_real": verdict.better_than_real,
                "text": verdict.text,
            },
        }


def dataset_summaries(
    results: Sequence[VideoResult], include_flagged: bool = False
) -> dict[str, DatasetSummary]:
    """One :class:`DatasetSummary` per dataset named by the results' ``reference_band`` (the
    band of its first record), in name order; empty when none has a band."""
    by_dataset: dict[str, list[VideoResult]] = {}
    bands: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.reference_band:
            name = str(r.reference_band.get("dataset"))
            by_dataset.setdefault(name, []).append(r)
            bands.setdefault(name, r.reference_band)
    return {
        name: DatasetSummary(
            bands[name],
            GroupSummary.of(rs, include_flagged),
            *_recipes_and_weights([r for r in rs if in_means(r, include_flagged)]),
        )
        for name, rs in sorted(by_dataset.items())
    }


def _recipes_and_weights(results: Sequence[VideoResult]) -> tuple[tuple[str, ...], bool | None]:
    """The recipes of ``results`` and whether all their SyncNet weights are the official file
    (``None``: some record does not say)."""
    recipes = tuple(sorted({r.recipe for r in results}))
    official = [(r.provenance or {}).get("syncnet_weights_official") for r in results]
    if any(o is False for o in official):
        return recipes, False
    return recipes, (True if official and all(o is True for o in official) else None)


def summarize(results: Sequence[VideoResult], include_flagged: bool = False) -> BatchSummary:
    """Summary of a batch: counts by status and flag, statistics over the scored videos only.

    Videos that were not scored (any status but ``ok``, or non-finite numbers) are counted in
    ``num_not_scored`` and ``status_counts`` and never enter a mean; scored videos with
    reliability flags are counted in ``num_flagged`` and ``flag_counts`` and enter the means
    only with ``include_flagged``. When any result has a ``group`` the same block is repeated
    per group under ``groups`` (results without one go to ``"(none)"``), and per dataset of
    the records' reference bands under ``datasets``, with how the means compare to the band.
    """
    whole = GroupSummary.of(results, include_flagged)
    groups: dict[str, GroupSummary] = {}
    if any(r.group for r in results):
        by_group: dict[str, list[VideoResult]] = {}
        for r in results:
            by_group.setdefault(r.group or NO_GROUP, []).append(r)
        groups = {g: GroupSummary.of(rs, include_flagged) for g, rs in sorted(by_group.items())}
    return BatchSummary(
        **{f.name: getattr(whole, f.name) for f in fields(GroupSummary)},
        groups=groups,
        datasets=dataset_summaries(results, include_flagged),
    )


# -- paired comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedMetric:
    """One metric over matched videos: means of both runs and of ``new - base``, with its CI."""

    name: str
    n: int
    base_mean: float | None
    new_mean: float | None
    diff_mean: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "base_mean": self.base_mean,
            "new_mean": self.new_mean,
            "diff_mean": self.diff_mean,
            "diff_ci95_low": self.diff_ci_low,
            "diff_ci95_high": self.diff_ci_high,
        }


@dataclass(frozen=True)
class PairedComparison:
    """Videos of two runs matched by ``id`` (else path) and compared where both are ``ok``.

    Attributes:
        pairs: ``(key, base, new)`` for every match where both runs scored the video.
        metrics: ``lse_d``, ``lse_c`` and ``abs_offset`` paired statistics.
        only_in_new / only_in_base: keys found in one run only (not averaged).
        not_ok: keys matched but not scored in at least one run, with both statuses.
        flagged: keys scored in both runs but with reliability flags in at least one (not
            averaged unless ``include_flagged``), with both runs' flags.
    """

    pairs: list[tuple[str, VideoResult, VideoResult]]
    metrics: dict[str, PairedMetric]
    only_in_new: list[str] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    not_ok: list[tuple[str, str, str]] = field(default_factory=list)
    flagged: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_pairs": len(self.pairs),
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "only_in_new": list(self.only_in_new),
            "only_in_base": list(self.only_in_base),
            "not_ok": [{"key": k, "base": b, "new": n} for k, b, n in self.not_ok],
            "flagged": [{"key": k, "base": b, "new": n} for k, b, n in self.flagged],
        }


def _norm_path(path: str) -> str:
    return os.path.normpath(path)


def _unique_index(results: Sequence[VideoResult], key: str) -> dict[str, int]:
    seen: dict[str, int] = {}
    dup: set[str] = set()
    for i, r in enumerate(results):
        k = r.id if key == "id" else _norm_path(r.path)
        if not k:
            continue
        if k in seen:
            dup.add(k)
        seen[k] = i
    return {k: i for k, i in seen.items() if k not in dup}


@dataclass(frozen=True)
class MatchedResults:
    """Records of two runs matched as :func:`pair_results` matches them (whatever their status).

    Attributes:
        matches: ``(key, base, new)``: key is the shared ``id``, else ``new``'s path.
        only_in_new / only_in_base: keys found in one run only.
    """

    matches: list[tuple[str, VideoResult, VideoResult]]
    only_in_new: list[str]
    only_in_base: list[str]


def match_results(new: Sequence[VideoResult], base: Sequence[VideoResult]) -> MatchedResults:
    """Match ``new`` to ``base`` by ``id`` (when unique in both), else by path."""
    base_by_id = _unique_index(base, "id")
    base_by_path = _unique_index(base, "path")
    new_ids = _unique_index(new, "id")
    used: set[int] = set()
    matches: list[tuple[str, VideoResult, VideoResult]] = []
    only_new: list[str] = []
    for r in new:
        j = None
        key = r.path
        if r.id and r.id in new_ids and r.id in base_by_id:
            j, key = base_by_id[r.id], r.id
        elif _norm_path(r.path) in base_by_path:
            j = base_by_path[_norm_path(r.path)]
        if j is None or j in used:
            only_new.append(r.id or r.path)
            continue
        used.add(j)
        matches.append((key, base[j], r))
    only_base = [b.id or b.path for j, b in enumerate(base) if j not in used]
    return MatchedResults(matches, only_new, only_base)


def pair_results(
    new: Sequence[VideoResult], base: Sequence[VideoResult], include_flagged: bool = False
) -> PairedComparison:
    """Match ``new`` to ``base`` by ``id`` (when unique in both), else by path, and compare.

    Differences are ``new - base`` per matched video; a video enters the means only when both
    runs scored it (status ``ok``) and, unless ``include_flagged``, neither run flagged it.
    """
    matched = match_results(new, base)
    only_new, only_base = matched.only_in_new, matched.only_in_base
    pairs: list[tuple[str, VideoResult, VideoResult]] = []
    not_ok: list[tuple[str, str, str]] = []
    flagged: list[tuple[str, list[str], list[str]]] = []
    for key, b, r in matched.matches:
        if not (is_usable(r) and is_usable(b)):
            not_ok.append((key, b.status, r.status))
        elif not include_flagged and (r.flags or b.flags):
            flagged.append((key, list(b.flags), list(r.flags)))
        else:
            pairs.append((key, b, r))
    metrics = {}
    for name in METRICS:
        b_vals = np.array([metric_value(b, name) for _, b, _ in pairs], dtype=np.float64)
        n_vals = np.array([metric_value(n, name) for _, _, n in pairs], dtype=np.float64)
        if len(pairs) == 0:
            metrics[name] = PairedMetric(name, 0, None, None, None, None, None)
            continue
        diff = n_vals - b_vals
        low, high = bootstrap_mean_ci(diff)
        metrics[name] = PairedMetric(
            name,
            len(pairs),
            float(b_vals.mean()),
            float(n_vals.mean()),
            float(diff.mean()),
            low,
            high,
        )
    return PairedComparison(pairs, metrics, only_new, only_base, not_ok, flagged)
