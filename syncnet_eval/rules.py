"""Per-video rules: the one table ``filter`` keeps videos by and ``check`` gates on.

:class:`Rules` holds the limits (each field's :class:`~syncnet_eval.config.Option` is the
command-line option of both commands) and :meth:`Rules.breaches` is the one function that
judges a video against them: ``filter`` keeps the videos it admits without a breach, and
``check --per-video`` fails on the same videos (``check`` without ``--per-video`` applies the
three metric limits to the means instead). Light: no numpy or torch, so ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import math
import re
from typing import Any, Literal

from .config import Option, option_of
from .errors import ConfigError
from .measures import field_named, video_value
from .reliability import DOUBTING_FLAGS
from .types import VideoResult

__all__ = [
    "RULE_LABELS",
    "Breach",
    "MeasureLimit",
    "Rules",
    "is_measured",
    "is_usable",
    "measure",
    "num_windows_of",
]

# The name a rule's measurement goes by in ``filter``'s ``rejected_by`` and counts.
RULE_LABELS = {
    "min_lse_c": "lse_c",
    "max_lse_d": "lse_d",
    "max_abs_offset": "|av_offset|",
    "min_windows": "num_windows",
}
_LOWER_LIMITS = {"min_lse_c", "min_windows"}  # the others are upper limits


def _rule(default: Any, **spec: Any) -> Any:
    return field(default=default, metadata={"option": Option(**spec)})


def is_measured(result: VideoResult) -> bool:
    """An ``ok`` record without SyncNet numbers, whose numbers are its measures' fields: a
    recipe that runs no SyncNet (``lmd``: ``RecipeSpec.needs_syncnet`` false) writes no AV
    offset and no LSE numbers (a SyncNet recipe's ``ok`` record always has them). It enters
    the measure summaries and the ``--limit`` rules on its measures (:meth:`Rules.admits`),
    never the LSE means (:func:`is_usable`). Judged on the record alone (no recipe lookup), so
    a record read back from a CSV is judged alike."""
    no_sync = result.av_offset is None and result.lse_d is None and result.lse_c is None
    return result.ok and no_sync and any(v is not None for v in result.measures.values())


def is_usable(result: VideoResult) -> bool:
    """Scored (``ok``) with finite SyncNet numbers (a NaN would poison every mean): the records
    the AV offset and LSE means and comparisons are over (an :func:`is_measured` record has
    none)."""
    values = (result.lse_d, result.lse_c, result.av_offset)
    if not result.ok or any(v is None for v in values):
        return False
    return all(math.isfinite(float(v)) for v in values)  # type: ignore[arg-type]


def num_windows_of(result: VideoResult) -> int | None:
    """The windows behind a video's numbers: the fewest over the tracks they come from
    (``VideoResult.tracks_behind``); ``None`` without tracks (a CSV record)."""
    return min((t.num_windows for t in result.tracks_behind()), default=None)


@dataclass(frozen=True)
class MeasureLimit:
    """A limit on a registered measure's field (``--limit FIELD<=X`` / ``FIELD>=X``), judged on
    the video's value (:func:`~syncnet_eval.measures.video_value`).

    Attributes:
        name: the field (``silent_motion_fraction``, ``drift_ms_per_min``, ``lmd_px``...).
        op: ``<=`` (an upper limit) or ``>=`` (a lower one).
        value: the limit.
    """

    name: str
    op: Literal["<=", ">="]
    value: float

    @classmethod
    def parse(cls, text: str) -> MeasureLimit:
        """``FIELD<=X`` or ``FIELD>=X``.

        Raises:
            ConfigError: not of that form, or no registered numeric field of that name.
        """
        found = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*(\S+)\s*", text)
        if found is None:
            raise ConfigError(f"--limit {text!r}: give FIELD<=X or FIELD>=X")
        name, op, number = found.groups()
        spec = field_named(name)
        if spec is None or not spec[1].numeric or not spec[1].may_enter_mean:
            raise ConfigError(f"--limit {text!r}: {name!r} is not a measure that can be limited")
        try:
            value = float(number)
        except ValueError:
            raise ConfigError(f"--limit {text!r}: {number!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"--limit {text!r}: the limit must be a finite number")
        return cls(name, "<=" if op == "<=" else ">=", value)

    @property
    def rule(self) -> str:
        """``limit:NAME<=X``: the limit's name in breaches and check names."""
        return f"limit:{self.name}{self.op}{self.value:g}"

    @property
    def label(self) -> str:
        return self.name

    @property
    def of_set(self) -> bool:
        """A limit on a set measure's value (``fid<=X``): the set's, never a video's."""
        found = field_named(self.name)
        return found is not None and found[0].level == "set"


def measure(result: VideoResult, rule: str) -> float | None:
    """What ``result`` measures for ``rule`` (a :class:`Rules` limit field, or a
    :attr:`MeasureLimit.rule`); ``None``: not measured."""
    if rule.startswith("limit:"):
        name = re.split(r"<=|>=", rule.removeprefix("limit:"))[0]
        value = video_value(result, name)
        return None if value is None else float(value)
    if rule == "min_lse_c":
        return result.lse_c
    if rule == "max_lse_d":
        return result.lse_d
    if rule == "max_abs_offset":
        return None if result.av_offset is None else abs(float(result.av_offset))
    windows = num_windows_of(result)
    return None if windows is None else float(windows)


@dataclass(frozen=True)
class Breach:
    """A video beyond one limit.

    Attributes:
        rule: the :class:`Rules` field (``min_lse_c``...).
        value: what the video measured (``None``: not measured, e.g. no tracks in a CSV record).
        limit: the limit it broke.
    """

    rule: str
    value: float | None
    limit: float

    @property
    def label(self) -> str:
        """``lse_c``, ``lse_d``, ``|av_offset|``, ``num_windows`` or a measure's field."""
        if self.rule.startswith("limit:"):
            return re.split(r"<=|>=", self.rule.removeprefix("limit:"))[0]
        return RULE_LABELS[self.rule]

    @property
    def below(self) -> bool:
        """A lower limit (the value fell below it); else an upper one."""
        return self.rule in _LOWER_LIMITS or ">=" in self.rule

    @property
    def by(self) -> float:
        """How far beyond the limit (infinite when the value is missing or not finite)."""
        if self.value is None or not math.isfinite(self.value):
            return math.inf
        return self.limit - self.value if self.below else self.value - self.limit

    def reason(self) -> str:
        """``lse_c 2.000 < 3``: the breach as ``filter``'s ``rejected_by`` writes it."""
        op = "<" if self.below else ">"
        if self.value is None:
            shown = "None"
        elif self.rule in ("min_lse_c", "max_lse_d") or self.rule.startswith("limit:"):
            shown = f"{self.value:.3f}"
        else:
            shown = f"{self.value:g}"
        limit = f"{int(self.limit)}" if self.rule == "min_windows" else f"{self.limit:g}"
        return f"{self.label} {shown} {op} {limit}"


_SCOPE = "(check: of the mean over the scored videos, or of each with --per-video; filter: of each)"


@dataclass(frozen=True)
class Rules:
    """What a video must satisfy; ``None`` leaves a rule out.

    ``filter`` keeps a video when :meth:`admits` it and it has no :meth:`breaches`. ``check``
    gates the admitted videos: with ``per_video``, each must have no breach; without it, the
    means must be within the three metric limits (``min_windows`` is always per video).

    Attributes:
        min_lse_c: LSE-C (SyncNet confidence) at least this.
        max_lse_d: LSE-D at most this.
        max_abs_offset: |AV offset| at most this many frames.
        min_windows: the windows behind the numbers at least this many (the fewest over the
            tracks the video's numbers come from).
        include_flagged: admit videos with reliability flags (by default ``filter`` rejects
            them and ``check`` counts them and leaves them out).
    """

    min_lse_c: float | None = _rule(
        None, min=0, help=f"LSE-C (SyncNet confidence) at least this {_SCOPE}."
    )
    max_lse_d: float | None = _rule(None, min=0, help=f"LSE-D at most this {_SCOPE}.")
    max_abs_offset: float | None = _rule(
        None, min=0, help=f"|AV offset| at most this many frames {_SCOPE}."
    )
    min_windows: int | None = _rule(
        None,
        min=1,
        help="Each video's numbers come from at least this many SyncNet windows (the fewest "
        "over the tracks behind them; per video in check too).",
    )
    limit: tuple[str, ...] = _rule(
        (),
        metavar="FIELD<=X|FIELD>=X",
        help="A limit on a measure beyond LSE, repeatable: e.g. 'silent_motion_fraction<=0.2', "
        "'lmd_px<=3' (any numeric field of the measures registry; its video value: the track "
        "the numbers come from) "
        f"{_SCOPE}.",
    )
    include_flagged: bool = _rule(
        False,
        aliases=("--keep-flagged",),
        help="Let in videos with reliability flags that doubt their numbers (few_windows, "
        "silent_audio, non_25fps, decode_incomplete): check averages and gates them, filter "
        "keeps them. By default check counts them and leaves them out, and filter rejects them "
        "(offset_drift is counted, never left out). --keep-flagged is filter's name for it.",
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "limit":
                option_of(type(self), f.name).check(f.name, getattr(self, f.name))
        object.__setattr__(self, "limit", tuple(self.limit))
        self.measure_limits  # noqa: B018 - parsed now, so a bad limit is bad usage

    @property
    def measure_limits(self) -> tuple[MeasureLimit, ...]:
        """The ``--limit`` rules, parsed."""
        return tuple(MeasureLimit.parse(text) for text in self.limit)

    @property
    def limits(self) -> dict[str, float]:
        """The limits that are set, by field name."""
        return {
            name: float(getattr(self, name))
            for name in RULE_LABELS
            if getattr(self, name) is not None
        }

    def admits(self, result: VideoResult) -> bool:
        """Whether the rules judge ``result`` at all: usable, and without a flag that doubts
        its numbers (``reliability.DOUBTING_FLAGS``) unless ``include_flagged``. A record
        without SyncNet numbers (:func:`is_measured`) is judged on its measures: a limit on
        LSE or the offset finds no value there and so breaks."""
        doubted = DOUBTING_FLAGS.intersection(result.flags)
        scored = is_usable(result) or is_measured(result)
        return scored and (self.include_flagged or not doubted)

    def breaches(self, result: VideoResult) -> list[Breach]:
        """Every limit ``result`` is beyond, in table order (empty: it passes). A missing or
        non-finite value breaks the limits on it."""
        found = []
        for rule, limit in self.limits.items():
            value = measure(result, rule)
            ok = value is not None and (value >= limit if rule in _LOWER_LIMITS else value <= limit)
            if not ok:
                found.append(Breach(rule, value, limit))
        for ml in self.measure_limits:
            if ml.of_set:  # FID, FVD: one value over the set, judged by check alone
                continue
            value = measure(result, ml.rule)
            ok = value is not None and (value >= ml.value if ml.op == ">=" else value <= ml.value)
            if not ok:
                found.append(Breach(ml.rule, value, ml.value))
        return found

    def merged(self, other: Rules) -> Rules:
        """``other``'s rules where set, this one's elsewhere (a preset plus explicit options)."""
        values = {f.name: getattr(self, f.name) for f in fields(Rules)}
        values.update(
            {
                f.name: getattr(other, f.name)
                for f in fields(Rules)
                if getattr(other, f.name) not in (None, False, ())
            }
        )
        return Rules(**values)
