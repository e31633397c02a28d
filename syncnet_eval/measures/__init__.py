"""Measures: every number beyond the reference's three, as one registry of specs.

The reference's numbers (AV offset, LSE-D, LSE-C, windows, curves) stay typed fields of
:class:`~syncnet_eval.types.TrackResult`. Every other number (the offset over time, mouth motion
in silence, the input's codec, LMD against ground truth, ...) is a *measure*: a
:class:`MeasureSpec` in :data:`REGISTRY` that says

- its name, a one-line help, and the definition it follows (paper and equation, or the
  published code), recorded in every result's ``provenance.measures``;
- its fields as data (:class:`Field`: name, kind, unit, label, which direction is better,
  whether it enters a summary and how, how a CSV cell writes it, how several tracks combine);
- where it is computed (``level``: per track, from the frames and window distances as they
  pass, or per video) and what it needs (:data:`NEEDS`);
- the module that computes it (imported on first use: this module is light, so ``--help``
  and the readers never load numpy or torch for it), and the flags it may raise.

Values live in one place per result: ``TrackResult.measures`` and ``VideoResult.measures`` (a
``{field name: value}`` dict; a ``home="provenance"`` measure's fields live in
``VideoResult.provenance`` instead, where records have always kept how the input was encoded).
In JSON they are written flat, under their field names, as records always had them, so field
names are unique across the registry and never shadow a core field.

The JSON, CSV and Parquet writers and readers, the summaries, the report, ``plot``, and the
``check``/``filter`` rules (``--limit FIELD<=X``) iterate the registry's fields: registering a
measure (:func:`register`) is all it takes for its numbers to appear in every output. Adding a
built-in measure is its module (a ``SPEC`` and the code that computes it) and one line in
:data:`BUILTIN`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
import importlib
import json
import math
from typing import Any, Literal, Protocol

from ..config import choose

__all__ = [
    "BUILTIN",
    "CORE_NAMES",
    "NEEDS",
    "REGISTRY",
    "Field",
    "MeasureSpec",
    "TrackInputs",
    "TrackMeasure",
    "VideoInputs",
    "csv_value",
    "field_named",
    "get_measure",
    "left_out",
    "measures_at",
    "parse_csv_value",
    "reading_lines",
    "register",
    "track_fields",
    "unregister",
    "video_fields",
    "video_record_fields",
    "video_value",
    "video_values",
]

# ``set``: one value over a whole set of videos (FID, FVD), from what each video's record keeps.
Level = Literal["track", "video", "set"]
Kind = Literal["float", "int", "text", "json"]
Better = Literal["lower", "higher"]
# How a track field's values become the video's when its numbers come from several tracks
# (--track-select mean): the mean or the sum of the tracks that have one, or no value.
Combine = Literal["mean", "sum", "none"]
# How a video value enters a summary: a mean with its bootstrap interval, a total, or not;
# ``set``: the value of a set measure, computed over the summarised records (``aggregate``).
SummaryKind = Literal["mean", "sum", "none", "set"]

# What a measure may need; the pipeline gives a track measure the first three as they pass.
NEEDS = {
    "window_distances": "the SyncNet window distances of every offset searched (N, 2*vshift+1)",
    "track_frames": "the frames of the track as they are scored (chunks of (n, H, W, 3) BGR)",
    "audio": "the track's 16 kHz int16 audio",
    "input_media": "the input's probed streams (decode.MediaInfo)",
    "reference_video": "a ground-truth video to compare with (manifest 'reference' column)",
    "model": "a network of its own, with weights in models/weights.py",
    "face_tracks": "every scored track of the video, with its window confidences (video level)",
    "reference_frames": "the frames of the generated video and its ground truth, paired as "
    "one decode passes (syncnet_eval.row)",
}
# Field names of the records' own keys: a measure's field may not take one.
CORE_NAMES = frozenset(
    {
        "path",
        "id",
        "group",
        "status",
        "reason",
        "recipe",
        "aggregate",
        "av_offset",
        "lse_d",
        "lse_c",
        "num_tracks",
        "warnings",
        "flags",
        "reason_code",
        "av_offset_ms",
        "selected_track",
        "track_select",
        "tracks",
        "scenes",
        "provenance",
        "timings_s",
        "reference_band",
        "measures",
        "index",
        "first_frame",
        "last_frame",
        "num_windows",
        "dist_by_shift",
        "framewise_conf",
        "scene_index",
        "bbox",
        "start_s",
        "end_s",
        "input_identity",
        "config_hash",
        "from_log",
        "av_offset_convention",
    }
)


@dataclass(frozen=True)
class Field:
    """One number (or value) a measure writes.

    Attributes:
        name: the key in records (JSON), the CSV column (``track_<name>`` per track), the
            Parquet column, the summary key and the ``--limit`` name. Unique in the registry.
        kind: ``float``, ``int``, ``text`` or ``json`` (lists and dicts: JSON only, no CSV cell).
        label: how people read it (tables, the report).
        unit: of the value (``ms/min``, ``px``, ``dB``, ``share``), or ``None``.
        better: ``lower`` or ``higher`` (``None``: neither; a description).
        summary: how a set of videos summarises it: ``mean`` (mean, sd, bootstrap interval),
            ``sum``, or ``none``.
        may_enter_mean: a rule may gate it (``--limit``) and its mean is meaningful.
        digits: decimals in a CSV cell and the report (floats).
        combine: how a video's value comes from several tracks (track fields).
        video_column: a track field also gets a per-video CSV (and Parquet) column holding the
            video's value.
    """

    name: str
    kind: Kind
    label: str
    unit: str | None = None
    better: Better | None = None
    summary: SummaryKind = "none"
    may_enter_mean: bool = True
    digits: int = 4
    combine: Combine = "mean"
    video_column: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int")

    @property
    def in_csv(self) -> bool:
        return self.kind != "json"

    def shown(self, value: Any) -> str:
        """The value as a table shows it (``None`` as the empty string)."""
        if value is None:
            return ""
        if self.kind == "float":
            return f"{float(value):.{self.digits}f}"
        if self.kind == "json":
            return json.dumps(value, sort_keys=True)
        return str(value)


class TrackMeasure(Protocol):
    """One track's computation: sees the frames as they pass (when it needs them), then gives
    its fields' values from what the scoring step has."""

    def observe(self, frames: Any) -> None:
        """A chunk of the track's frames, (n, H, W, 3) uint8 BGR, in order."""

    def finish(self, inputs: TrackInputs) -> dict[str, Any]:
        """``{field name: value}`` (``None`` for a value that cannot be measured)."""


@dataclass(frozen=True)
class TrackInputs:
    """What the scoring step gives a track measure when the track's frames have passed.

    Attributes:
        distances: (N, 2*vshift+1) float window distances (``scoring.distance_by_shift``).
        audio: (L,) int16 samples at 16 kHz, aligned with the first frame.
        fps: rate of the scored frames.
        start_s: where the track starts, in seconds of the original video.
        speech_level_dbfs: the clip's speech level (``silence``; ``None``: the track's own).
        scores: the track's ``scoring.OffsetScores``.
        silence_detector: what defines silence (``energy`` or ``silero``: ``syncnet_eval.vad``).
    """

    distances: Any
    audio: Any
    fps: float
    start_s: float
    speech_level_dbfs: float | None
    scores: Any
    silence_detector: str = "energy"


@dataclass(frozen=True)
class VideoInputs:
    """What a video-level measure gets: the input, its probed streams (``decode.MediaInfo``),
    a reference video, the measure's own options (a landmark backend, say; the record's
    ``provenance`` for a measure of the tracks), and, for a measure that needs
    ``face_tracks``, every scored ``TrackResult`` of the video."""

    path: str
    media: Any = None
    reference: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    tracks: Sequence[Any] = ()


@dataclass(frozen=True)
class MeasureSpec:
    """One measure.

    Attributes:
        name: its name (``--measures``, ``provenance.measures``).
        help: one sentence: what it tells that LSE does not.
        definition: the definition it follows (paper, section/equation, or published code).
        level: ``track`` (computed per face track while it is scored), ``video``, or ``set``
            (one value over a set of videos: FID, FVD; each video's record keeps what the set
            value needs, and ``aggregate`` computes it wherever the records are summarised).
        fields: its :class:`Field` s.
        needs: keys of :data:`NEEDS`.
        compute: ``module:callable`` (a module of this package, or an absolute one): for a
            track measure a factory of :class:`TrackMeasure`, for a video measure a function
            of :class:`VideoInputs` returning ``{field: value}``.
        flags: ``{flag: help}`` it may raise.
        raises: ``module:callable`` of the values (a track's, or the video's) returning the
            flags raised; ``None``: none.
        combine: ``module:callable`` from the list of the tracks' value dicts to the video's
            values, for fields whose tracks combine in a way of their own (a pooled share);
            the other fields use :attr:`Field.combine`.
        line: ``module:callable`` giving the report's one-line reading of a video's values
            (``None``: the report lists the fields).
        home: ``record`` (``measures``, written flat) or ``provenance``.
        default: computed unless turned off (a measure with a model of its own is opt-in).
        aggregate: ``module:callable`` of a set measure: from the records of a set to
            ``{field: value}`` (``None`` where it cannot be computed).
    """

    name: str
    help: str
    definition: str
    level: Level
    fields: tuple[Field, ...]
    needs: frozenset[str]
    compute: str | Callable[..., Any]
    flags: Mapping[str, str] = field(default_factory=dict)
    raises: str | Callable[..., Iterable[str]] | None = None
    combine: str | Callable[..., dict[str, Any]] | None = None
    line: str | Callable[..., str | None] | None = None
    home: Literal["record", "provenance"] = "record"
    default: bool = True
    aggregate: str | Callable[..., dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"measure {self.name}: unknown needs {sorted(unknown)}")

    def column_fields(self) -> tuple[Field, ...]:
        """The fields with a per-video CSV column: a video measure's (``register`` holds every
        one to ``video_column``), or the video's value of a track measure's, JSON left out."""
        return tuple(f for f in self.fields if f.video_column and f.in_csv)

    def create(self, options: Mapping[str, Any] | None = None) -> TrackMeasure:
        """A fresh :class:`TrackMeasure` for one track (track measures); an opt-in measure with
        a model of its own gets the run's ``options`` for it (its weights, device...)."""
        factory = _resolve(self.compute)
        made: TrackMeasure = factory() if options is None else factory(options)
        return made

    def compute_video(self, inputs: VideoInputs) -> dict[str, Any]:
        """The video measure's values for ``inputs``."""
        values: dict[str, Any] = _resolve(self.compute)(inputs)
        return values

    def raised(self, values: Mapping[str, Any]) -> set[str]:
        """The flags ``values`` raise."""
        return set() if self.raises is None else set(_resolve(self.raises)(values))

    def combined(self, tracks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The video's values from the values of the tracks its numbers come from."""
        if len(tracks) == 1:
            return {f.name: tracks[0].get(f.name) for f in self.fields}
        values = {f.name: _combine(f, [t.get(f.name) for t in tracks]) for f in self.fields}
        if self.combine is not None and tracks:
            values.update(_resolve(self.combine)(list(tracks)))
        return values

    def set_values(self, results: Sequence[Any]) -> dict[str, Any]:
        """A set measure's values over ``results`` (empty for the other levels)."""
        if self.level != "set" or self.aggregate is None:
            return {}
        values: dict[str, Any] = _resolve(self.aggregate)(results)
        return values

    def reading(self, values: Mapping[str, Any]) -> str | None:
        """One line for a reader (the report's detail), or ``None`` for the field list."""
        return None if self.line is None else _resolve(self.line)(values)


def _resolve(target: str | Callable[..., Any]) -> Any:
    if not isinstance(target, str):
        return target
    module, name = target.split(":")
    if module.startswith("."):
        module = f"{__package__.rsplit('.', 1)[0]}{module}"
    return getattr(importlib.import_module(module), name)


def _combine(spec: Field, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if spec.combine == "none" or not present or not spec.numeric:
        return None
    if spec.combine == "sum":
        return sum(present)
    mean = sum(float(v) for v in present) / len(present)
    return round(mean) if spec.kind == "int" else mean


# Built-in measures, in output order (CSV columns: a measure added later goes last, so the
# earlier columns keep their positions): each module defines SPEC (light to import).
BUILTIN = (
    "codec",
    "drift",
    "silence",
    "lmd",
    "decoder",
    "owner",
    "lpips",
    "csim",
    "fid",
    "fvd",
    "wav2lip",
    "desync",
    "leakage",
)

REGISTRY: dict[str, MeasureSpec] = {}
_FIELDS: dict[str, tuple[MeasureSpec, Field]] = {}


def register(spec: MeasureSpec) -> MeasureSpec:
    """Add ``spec`` to :data:`REGISTRY` (its fields to every output from then on).

    Raises:
        ValueError: its name is taken, or a field name is a core key or another measure's.
    """
    if spec.name in REGISTRY:
        raise ValueError(f"a measure named {spec.name!r} is registered already")
    for f in spec.fields:
        if f.name in CORE_NAMES or f.name in _FIELDS:
            raise ValueError(f"measure {spec.name}: field name {f.name!r} is taken")
        if spec.level == "set" and f.video_column:
            raise ValueError(f"measure {spec.name}: a set field has no per-video column")
        if spec.level == "video" and not f.video_column:
            raise ValueError(f"measure {spec.name}: a video field is its own column")
    REGISTRY[spec.name] = spec
    for f in spec.fields:
        _FIELDS[f.name] = (spec, f)
    return spec


def unregister(name: str) -> None:
    """Remove a measure (tests that register one of their own)."""
    spec = REGISTRY.pop(name)
    for f in spec.fields:
        _FIELDS.pop(f.name, None)


@contextlib.contextmanager
def left_out(*names: str) -> Iterator[None]:
    """The named measures out of the registry for the ``with`` block, put back in their
    places after it (benchmarks time a score with and without a measure)."""
    saved = dict(REGISTRY)
    for name in names:
        unregister(name)
    try:
        yield
    finally:
        for name in list(REGISTRY):
            unregister(name)
        for spec in saved.values():
            register(spec)


def get_measure(name: str) -> MeasureSpec:
    """The measure called ``name`` (a ``ConfigError`` listing the measures otherwise)."""
    spec: MeasureSpec = choose(REGISTRY, name, "measure")
    return spec


def field_named(name: str) -> tuple[MeasureSpec, Field] | None:
    """The measure and field called ``name`` (``None``: no such field)."""
    return _FIELDS.get(name)


def measures_at(level: Level, home: str | None = "record") -> list[MeasureSpec]:
    """The registered measures of ``level`` (and ``home``; ``None``: any), in order."""
    return [s for s in REGISTRY.values() if s.level == level and (home is None or s.home == home)]


def track_fields() -> list[Field]:
    """Every track measure's fields, in registry order."""
    return [f for s in measures_at("track") for f in s.fields]


def video_fields(home: str | None = None) -> list[Field]:
    """Every video measure's fields (of ``home``; ``None``: both homes), in registry order."""
    return [f for s in measures_at("video", home) for f in s.fields]


def video_record_fields() -> list[Field]:
    """The fields a record may hold at the video level: the video measures' kept in the record,
    and the track measures' per-video values (a record read from a per-video CSV, which has
    no tracks, keeps them there)."""
    track = [f for s in measures_at("track") for f in s.column_fields()]
    return video_fields("record") + track


class _TrackLike(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def measures(self) -> Mapping[str, Any]: ...


class _VideoLike(Protocol):
    @property
    def tracks(self) -> Sequence[Any]: ...

    @property
    def measures(self) -> Mapping[str, Any]: ...

    @property
    def provenance(self) -> Mapping[str, Any]: ...

    def tracks_behind(self) -> Sequence[Any]: ...


def video_values(result: _VideoLike, spec: MeasureSpec) -> dict[str, Any]:
    """A video's values of ``spec``: a video measure's own, or a track measure's from the
    tracks the video's numbers come from (``VideoResult.tracks_behind``: the selected track,
    or every track under ``--track-select mean``). Empty when none of them has the measure."""
    if spec.level == "set":  # a set's value belongs to no single video
        return {}
    if spec.level == "video":
        where = result.provenance if spec.home == "provenance" else result.measures
        return {f.name: where.get(f.name) for f in spec.fields if f.name in (where or {})}
    tracks = [t.measures for t in result.tracks_behind() if _has(t.measures, spec)]
    if tracks:
        return spec.combined(tracks)
    # A record read from a per-video CSV has no tracks: the video's values were its cells.
    return {f.name: result.measures[f.name] for f in spec.fields if f.name in result.measures}


def _has(values: Mapping[str, Any], spec: MeasureSpec) -> bool:
    return any(values.get(f.name) is not None for f in spec.fields)


def video_value(result: _VideoLike, name: str) -> Any:
    """The video's value of the field ``name`` (``None``: not measured, or no such field)."""
    found = field_named(name)
    if found is None:
        return None
    return video_values(result, found[0]).get(name)


def reading_lines(result: _VideoLike) -> list[str]:
    """One line per measure the video has, for a reader (the report's detail, ``plot``): the
    measure's own reading, else its fields with their labels and units. The provenance
    measures (codec) are left out: readers show them with the provenance."""
    lines = []
    for spec in measures_at("track") + measures_at("video"):
        values = video_values(result, spec)
        if not any(v is not None for v in values.values()):
            continue
        line = spec.reading(values)
        if line is None:
            shown = [
                f"{f.label} {f.shown(values[f.name])}" + (f" {f.unit}" if f.unit else "")
                for f in spec.fields
                if f.kind != "json" and values.get(f.name) is not None
            ]
            line = f"{spec.name}: " + ", ".join(shown)
        lines.append(line)
    return lines


def csv_value(spec: Field, value: Any) -> str | int:
    """A CSV cell (ints stay ints, floats to ``digits`` decimals, ``None`` empty)."""
    if value is None:
        return ""
    if spec.kind == "int":
        return int(value)
    return spec.shown(value)


def parse_csv_value(spec: Field, text: str | None) -> Any:
    """A CSV cell back to its value (``None`` for an empty cell)."""
    if text in (None, ""):
        return None
    assert text is not None
    if spec.kind == "int":
        return int(float(text))
    if spec.kind == "float":
        value = float(text)
        return value if math.isfinite(value) else None
    return text


def _load_builtins() -> None:
    for name in BUILTIN:
        register(importlib.import_module(f"{__name__}.{name}").SPEC)


_load_builtins()
