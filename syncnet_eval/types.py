"""Result dataclasses. ``to_dict()`` gives the JSON contract; ``from_dict()`` reads it back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .measures import track_fields, video_record_fields
from .presentation import OFFSET_SIGN
from .status import STATUSES, Status

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "OFFSET_CONVENTION",
    "Status",
    "STATUSES",
    "SCHEMA_VERSION",
    "TrackResult",
    "VideoResult",
]

SCHEMA_VERSION = 1
# What every record says about its av_offset (the sign is the reference's: 15 - argmin).
OFFSET_CONVENTION = (
    f"frames of the scored stream (25 fps); {OFFSET_SIGN} (comes early); "
    "av_offset_ms in milliseconds"
)


@dataclass(frozen=True)
class TrackResult:
    """Scores of one face track (the whole video is track 0 in the direct recipes).

    Frame indices count frames of the stream the recipe scored (25 fps for the pipeline).
    ``dist_by_shift[k]`` pairs video window i with audio window i + k - vshift. Times are
    seconds of the original video: the track spans ``[start_s, end_s)``, and
    ``framewise_conf[i]`` belongs to the window starting at ``framewise_time_s[i]``.
    """

    index: int
    first_frame: int
    last_frame: int
    av_offset: int
    lse_d: float
    lse_c: float
    num_windows: int
    dist_by_shift: list[float]
    framewise_conf: list[float]
    scene_index: int | None = None
    # Geometry summary (pipeline recipe only): mean box size and centre in source pixels.
    bbox: dict[str, float] | None = None
    # Per-frame smoothed crop geometry (pipeline recipe only), for inspection and parity tests.
    smoothed_center_x: list[float] | None = None
    smoothed_center_y: list[float] | None = None
    smoothed_half_size: list[float] | None = None
    start_s: float | None = None
    end_s: float | None = None
    framewise_time_s: list[float] | None = None
    # Who speaks when (see syncnet_eval.speaking): the judge (light-asd with --asd, else
    # syncnet), the share of frames (windows) it calls speaking and its speaking segments
    # ({"start_s", "end_s", "mean_score"}, seconds of the original video).
    speaking_judge: str | None = None
    speaking_fraction: float | None = None
    speaking_segments: list[dict[str, float]] | None = None
    # With --asd: the active-speaker model's per-frame logit (frame k is first_frame + k, at
    # asd_time_s[k]; >= 0 after 5-frame smoothing: speaking).
    asd_scores: list[float] | None = None
    asd_time_s: list[float] | None = None
    # Mean detected face box [x1, y1, x2, y2] in source pixels (pipeline recipe only).
    mean_box: list[float] | None = None
    # Every number beyond the reference's (syncnet_eval.measures: the offset over time, mouth
    # motion in silence, ...): {field name: value}, written flat in JSON under the field names.
    measures: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The value of the measure field ``name`` (``None``: not measured)."""
        return self.measures.get(name)

    @property
    def num_frames(self) -> int:
        return self.last_frame - self.first_frame + 1

    def plot(self, axes: Sequence[Axes] | None = None) -> tuple[Figure, tuple[Axes, Axes]]:
        """The distance-by-offset curve (minimum, median and LSE-C marked) and the per-window
        confidence against time, with matplotlib (``pip install 'syncnet-eval[viz]'``).

        Args:
            axes: two Axes to draw on (default: a new figure).

        Returns:
            ``(figure, (curve_axes, timeline_axes))``.

        Raises:
            DependencyError: matplotlib is not installed.
        """
        from .plots import plot_track  # matplotlib is optional: imported on first use

        return plot_track(self, axes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("measures"))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackResult:
        names = {f.name for f in fields(cls)} - {"measures"}
        kwargs = {k: v for k, v in data.items() if k in names}
        wanted = {f.name for f in track_fields()}
        return cls(**kwargs, measures={k: v for k, v in data.items() if k in wanted})


@dataclass(frozen=True)
class VideoResult:
    """Outcome of scoring one video: status, video-level metrics and per-track results.

    ``av_offset``/``lse_d``/``lse_c`` come from one track chosen (or averaged) by ``aggregate``;
    they are ``None`` whenever ``status != "ok"``. ``av_offset`` is in frames of the 25 fps
    stream, with the sign of :data:`~syncnet_eval.presentation.OFFSET_SIGN` (``av_offset_ms``
    gives it in ms).
    ``flags`` names the reliability problems of ``syncnet_eval.reliability``; ``reason_code``
    tells failures of one status apart (``timeout``, ``faces_too_small``...);
    ``selected_track`` is the index of the track the numbers come from (``None`` for ``mean``)
    and ``track_select`` the rule that chose it (``best``, ``mean``, ``longest``, ``largest``,
    ``index:N``, ``asd``; ``only`` for the whole-frame recipes' single track). ``aggregate`` is
    the older name of the rule, kept for readers of earlier records.
    """

    path: str
    status: Status
    reason: str | None
    recipe: str
    av_offset: int | float | None = None
    lse_d: float | None = None
    lse_c: float | None = None
    aggregate: str | None = None
    tracks: list[TrackResult] = field(default_factory=list)
    scenes: list[list[int]] | None = None
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    group: str | None = None
    flags: list[str] = field(default_factory=list)
    reason_code: str | None = None
    av_offset_ms: float | None = None
    selected_track: int | None = None
    av_offset_convention: str = OFFSET_CONVENTION
    track_select: str | None = None
    # With --dataset (or a manifest 'dataset' column): the dataset's published real-video
    # band, syncnet_eval.bands.ReferenceBand.to_dict() (stamped by the run driver).
    reference_band: dict[str, Any] | None = None
    # Video-level measures (syncnet_eval.measures) kept in the record itself: {field: value},
    # written flat in JSON under the field names (codec provenance lives in ``provenance``).
    measures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def plot(self, axes: Sequence[Axes] | None = None) -> tuple[Figure, tuple[Axes, Axes]]:
        """Every track's distance-by-offset curve (the selected one marked) and confidence
        timeline with track spans and scene cuts, with matplotlib (``[viz]`` extra).

        Args:
            axes: two Axes to draw on (default: a new figure).

        Returns:
            ``(figure, (curve_axes, timeline_axes))``.

        Raises:
            DependencyError: matplotlib is not installed.
            ValueError: the record has no curves (not scored, or read from a CSV).
        """
        from .plots import plot_video  # matplotlib is optional: imported on first use

        return plot_video(self, axes)

    def tracks_behind(self) -> list[TrackResult]:
        """The tracks the video's numbers come from: the selected track, or every track when
        they are a mean over tracks (``--track-select mean``); none when the video was not
        scored. The one rule every output uses to give a video a track's value."""
        if self.selected_track is not None:
            return [t for t in self.tracks if t.index == self.selected_track]
        return list(self.tracks) if self.ok else []

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tracks"] = [t.to_dict() for t in self.tracks]
        data.update(data.pop("measures"))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoResult:
        names = {f.name for f in fields(cls)} - {"measures"}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["tracks"] = [TrackResult.from_dict(t) for t in data.get("tracks") or []]
        wanted = {f.name for f in video_record_fields()}
        return cls(**kwargs, measures={k: v for k, v in data.items() if k in wanted})

    @classmethod
    def failure(
        cls, path: str, recipe: str, status: Status, reason: str, **extra: Any
    ) -> VideoResult:
        """A result with no metrics, for inputs that could not be scored.

        ``extra`` sets other fields (``id``, ``group``, ``warnings``...).
        """
        return cls(path=path, status=status, reason=reason, recipe=recipe, **extra)
