"""Reference bands: what published tables say real (ground-truth) video scores.

A band is the range (minimum to maximum) of the LSE-C and LSE-D values that papers and
measurements report for the real videos of one dataset, with the sources. It answers "what is
a good value": a generated video that scores *better* than real video (LSE-C above the band's
upper LSE-C, or LSE-D below its lower LSE-D) is a known sign of a metric being gamed (a
generator trained against SyncNet itself), not of better lip sync.

Every value cites where it is: a paper's table and page, or an issue thread with the protocol
it was measured with (a :class:`BandSource` without them is refused); ``docs/bands.md`` traces
each one. A value that could not be traced to its table was removed (issue 24: the HDTF values
quoted in issue 19). Which recipe a source scored with is recorded only where the source says so
(``recipe=None``: "as published", the paper's own procedure, not known to match one of ours,
which the above-real judgement will not judge against); ask the recipe registry for what the
names mean.

Light (no numpy or torch): ``score --help`` lists the datasets and sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import choose
from .errors import ConfigError
from .presentation import LSE_C, LSE_D, number

__all__ = [
    "BANDS",
    "DATASETS",
    "BandSource",
    "RealVideoVerdict",
    "ReferenceBand",
    "band_line",
    "band_record",
    "beyond_band",
    "dataset_help",
    "get_band",
    "judge_against_band",
    "range_text",
]


@dataclass(frozen=True)
class BandSource:
    """One published real-video value.

    Attributes:
        name: short name of the source (the paper or thread), as the outputs cite it.
        citation: where the numbers are: authors or thread, venue.
        url: a link to the source.
        lse_c: the real video's LSE-C it reports.
        lse_d: the real video's LSE-D it reports.
        recipe: the registry recipe it was measured with, when the source says so; ``None``:
            the paper's own procedure ("as published").
        table: a paper's table that holds the values ("Table 2"); required with ``page``
            unless ``url`` is an issue thread.
        page: the page of that table ("p. 7").
        protocol: for a measurement in an issue thread (``url`` with ``/issues/``): what was
            measured, and how; required there.

    Raises:
        ConfigError: a paper's value without its table and page, or a thread's without its
            protocol.
    """

    name: str
    citation: str
    url: str
    lse_c: float
    lse_d: float
    recipe: str | None = None
    table: str | None = None
    page: str | None = None
    protocol: str | None = None

    def __post_init__(self) -> None:
        if "/issues/" in self.url:
            if not self.protocol:
                raise ConfigError(f"{self.name}: a value from an issue thread needs its protocol")
        elif not (self.table and self.page):
            raise ConfigError(f"{self.name}: a published value needs its table and page")

    @property
    def where(self) -> str:
        """Where the values are: ``Table 2, p. 7``, or the thread's protocol."""
        return self.protocol or f"{self.table}, {self.page}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "citation": self.citation,
            "url": self.url,
            "lse_c": self.lse_c,
            "lse_d": self.lse_d,
            "recipe": self.recipe,
            "where": self.where,
        }


@dataclass(frozen=True)
class ReferenceBand:
    """The real-video values of one dataset and their range.

    Attributes:
        dataset: the ``--dataset`` name (``lrs2``).
        title: the dataset and split in words.
        sources: the published values (at least one).
    """

    dataset: str
    title: str
    sources: tuple[BandSource, ...]

    @property
    def lse_c_range(self) -> tuple[float, float]:
        """(lowest, highest) LSE-C over the sources."""
        values = [s.lse_c for s in self.sources]
        return min(values), max(values)

    @property
    def lse_d_range(self) -> tuple[float, float]:
        """(lowest, highest) LSE-D over the sources."""
        values = [s.lse_d for s in self.sources]
        return min(values), max(values)

    @property
    def recipes(self) -> list[str | None]:
        """The recipes of the sources, in source order without repeats (``None``: as
        published)."""
        found: list[str | None] = []
        for s in self.sources:
            if s.recipe not in found:
                found.append(s.recipe)
        return found

    def sources_text(self) -> str:
        """``LipVoicer issue #5 (2024)``: the sources as outputs cite them, ``; `` between."""
        return "; ".join(s.name for s in self.sources)

    def describe(self) -> str:
        """One line: the dataset, both ranges, the recipes and the sources."""
        recipes = ", ".join(r or "as published" for r in self.recipes)
        return (
            f"{self.title}: {LSE_C.name} {range_text(self.lse_c_range)}, {LSE_D.name} "
            f"{range_text(self.lse_d_range)} (recipe: {recipes}; sources: "
            f"{self.sources_text()})"
        )

    def to_dict(self) -> dict[str, Any]:
        """What a record's ``reference_band`` holds."""
        return {
            "dataset": self.dataset,
            "title": self.title,
            "lse_c_range": list(self.lse_c_range),
            "lse_d_range": list(self.lse_d_range),
            "recipes": self.recipes,
            "sources": [s.to_dict() for s in self.sources],
        }


_LIPVOICER_5 = BandSource(
    name="LipVoicer issue #5 (2024)",
    citation="yochaiye/LipVoicer GitHub issue #5",
    url="https://github.com/yochaiye/LipVoicer/issues/5",
    lse_c=8.248,
    lse_d=6.258,
    recipe="wav2lip-lrs",
    protocol="the LRS2 test set (1243 videos, ground truth) measured with Wav2Lip's "
    "calculate_scores_LRS.py",
)

BANDS: dict[str, ReferenceBand] = {
    band.dataset: band for band in (ReferenceBand("lrs2", "LRS2 test real video", (_LIPVOICER_5,)),)
}
DATASETS: tuple[str, ...] = tuple(BANDS)


def range_text(bounds: Sequence[float]) -> str:
    """``8.211-8.243``, or ``8.248`` for a band of one value."""
    low, high = float(bounds[0]), float(bounds[1])
    return f"{low:.3f}" if low == high else f"{low:.3f}-{high:.3f}"


def get_band(dataset: str) -> ReferenceBand:
    """The band of ``dataset``.

    Raises:
        ConfigError: no band for it (the message lists the datasets).
    """
    band: ReferenceBand = choose(BANDS, dataset, "dataset")
    return band


def band_record(dataset: str | None) -> dict[str, Any] | None:
    """A record's ``reference_band`` for ``dataset`` (``None`` without one).

    Raises:
        ConfigError: an unknown dataset.
    """
    return None if dataset is None else get_band(dataset).to_dict()


def beyond_band(band: Mapping[str, Any], lse_c: float | None, lse_d: float | None) -> list[str]:
    """How ``lse_c``/``lse_d`` (a mean, usually) score better than real video: LSE-C above the
    band's highest LSE-C, LSE-D below its lowest LSE-D (empty: within or below real video).

    Args:
        band: a record's ``reference_band`` (:meth:`ReferenceBand.to_dict`).
        lse_c: the LSE-C to judge (``None``: not judged).
        lse_d: the LSE-D to judge.
    """
    found = []
    c_high = float(band["lse_c_range"][1])
    d_low = float(band["lse_d_range"][0])
    if lse_c is not None and lse_c > c_high:
        found.append(f"{LSE_C.name} {lse_c:.3f} above real video's {c_high:.3f}")
    if lse_d is not None and lse_d < d_low:
        found.append(f"{LSE_D.name} {lse_d:.3f} below real video's {d_low:.3f}")
    return found


@dataclass(frozen=True)
class RealVideoVerdict:
    """Whether means score better than a band's real video, or why that is not judged.

    Attributes:
        judged: the comparison means something: the official SyncNet weights, and the recipe
            the band was measured with.
        better_than_real: judged, and better on both metrics (LSE-C above the band and LSE-D
            below it): a sign of a gamed metric.
        text: what was found, naming the metrics, or why no judgement is made.
    """

    judged: bool
    better_than_real: bool
    text: str


def judge_against_band(
    band: Mapping[str, Any],
    lse_c: float | None,
    lse_d: float | None,
    *,
    recipes: Sequence[str],
    weights_official: bool | None,
) -> RealVideoVerdict:
    """Judge means against ``band`` (a record's ``reference_band``), only where it means
    something: numbers from the official SyncNet weights (``weights_official``: all the
    videos' records say so; ``None``: not recorded), scored with the recipe the band was
    measured with (every one of ``recipes`` among the band's; a band of unknown recipe judges
    nothing), and better than real video only on both metrics."""
    if weights_official is None:
        return RealVideoVerdict(
            False,
            False,
            "not judged against real video: whether the "
            "SyncNet weights are the official syncnet_v2.model is not "
            "recorded",
        )
    if not weights_official:
        return RealVideoVerdict(
            False,
            False,
            "not judged against real video: the SyncNet "
            "weights are not the official syncnet_v2.model",
        )
    measured_with = list(band.get("recipes") or [None])
    if None in measured_with:
        return RealVideoVerdict(
            False,
            False,
            "not judged against real video: the band's recipe "
            "is not known (as published), and the numbers move with the "
            "recipe",
        )
    if not recipes or not set(recipes) <= set(measured_with):
        return RealVideoVerdict(
            False,
            False,
            f"not judged against real video: the band was measured with "
            f"{', '.join(map(str, measured_with))}, these videos with {', '.join(recipes) or '?'}",
        )
    beyond = beyond_band(band, lse_c, lse_d)
    if len(beyond) == 2:
        return RealVideoVerdict(
            True,
            True,
            f"better than real video on both metrics "
            f"({', '.join(beyond)}): a sign of a gamed metric",
        )
    if beyond:
        c_high, d_low = float(band["lse_c_range"][1]), float(band["lse_d_range"][0])
        other = (
            f"{LSE_C.name} {number(lse_c)} is not above its {c_high:.3f}"
            if beyond[0].startswith(LSE_D.name)
            else f"{LSE_D.name} {number(lse_d)} is not below its {d_low:.3f}"
        )
        return RealVideoVerdict(
            True, False, f"not better than real video on both metrics: {beyond[0]}, but {other}"
        )
    return RealVideoVerdict(True, False, "not better than real video on either metric")


def band_line(
    band: Mapping[str, Any],
    lse_c: float | None,
    lse_d: float | None,
    n: int,
    verdict: RealVideoVerdict | None = None,
) -> str:
    """One line comparing means over ``n`` videos with ``band`` (a record's
    ``reference_band``), naming its sources, and the ``verdict`` where a metric lies beyond
    the band (better than real video, not on both metrics, or why it is not judged); the
    terminal summary, ``check`` and the report all say it this way."""
    sources = "; ".join(str(s.get("name")) for s in band.get("sources") or [])
    recipes = ", ".join(r or "as published" for r in band.get("recipes") or [])
    line = (
        f"{band.get('title') or band.get('dataset')}: mean {LSE_C.name} {number(lse_c)} vs real "
        f"{range_text(band['lse_c_range'])}, mean {LSE_D.name} {number(lse_d)} vs real "
        f"{range_text(band['lse_d_range'])} (n={n}; band measured with: {recipes}; "
        f"sources: {sources})"
    )
    if verdict is not None and (verdict.better_than_real or beyond_band(band, lse_c, lse_d)):
        line += f"; {verdict.text}"
    return line


def dataset_help() -> str:
    """``--dataset``'s help: every dataset's band and its sources."""
    return (
        "Put the dataset's published real-video band in each record, the summary and the "
        "report (see docs/bands.md): "
        + "; ".join(f"{name}: {band.describe()}" for name, band in BANDS.items())
        + ". A manifest 'dataset' column sets it per row."
    )
