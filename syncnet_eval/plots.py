"""Matplotlib figures of a record: the distance-by-offset curve, the confidence timeline and
the offset over time (each 5 s segment's best offset and the drift line through them).

matplotlib is an optional extra (``pip install 'syncnet-eval[viz]'``): it is imported when a
figure is made, and :func:`require_matplotlib` turns its absence into a
:class:`~syncnet_eval.errors.DependencyError` with that line. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state, safe in threads and batch jobs); notebooks show
them as they show any figure.

``TrackResult.plot`` imports this module, so it names no record type: it reads records through
the :class:`PlottedTrack` and :class:`PlottedVideo` protocols (the fields it draws), which
``TrackResult`` and ``VideoResult`` satisfy. Times, offsets, labels and colours come from
:mod:`syncnet_eval.presentation`, as in every other output.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
import io
import statistics
from typing import TYPE_CHECKING, Any, Protocol

from .constants import FPS
from .errors import DependencyError
from .measures import reading_lines
from .presentation import (
    COLOURS,
    DRIFT_AXIS_LABEL,
    LSE_C,
    LSE_D,
    OFFSET_AXIS_LABEL,
    drift_text,
    frame_time_s,
    number,
    offset_axis,
    offset_text,
    track_colour,
    window_times_s,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "INSTALL_HINT",
    "PLOT_FORMATS",
    "PlottedTrack",
    "PlottedVideo",
    "DriftTrack",
    "plot_curve",
    "plot_drift",
    "plot_timeline",
    "plot_track",
    "plot_video",
    "render_video_plot",
    "require_matplotlib",
]

INSTALL_HINT = "matplotlib is not installed; install it with: pip install 'syncnet-eval[viz]'"
PLOT_FORMATS = ("png", "svg")
_FIGSIZE_IN = (11.0, 3.8)


class PlottedTrack(Protocol):
    """The fields of a :class:`~syncnet_eval.types.TrackResult` a figure draws."""

    @property
    def index(self) -> int: ...
    @property
    def first_frame(self) -> int: ...
    @property
    def av_offset(self) -> int: ...
    @property
    def lse_d(self) -> float: ...
    @property
    def lse_c(self) -> float: ...
    @property
    def dist_by_shift(self) -> list[float]: ...
    @property
    def framewise_conf(self) -> list[float]: ...
    @property
    def framewise_time_s(self) -> list[float] | None: ...
    @property
    def start_s(self) -> float | None: ...
    @property
    def end_s(self) -> float | None: ...
    def value(self, name: str) -> Any: ...


class PlottedVideo(Protocol):
    """The fields of a :class:`~syncnet_eval.types.VideoResult` a figure draws."""

    @property
    def path(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def av_offset(self) -> int | float | None: ...
    @property
    def av_offset_ms(self) -> float | None: ...
    @property
    def lse_d(self) -> float | None: ...
    @property
    def lse_c(self) -> float | None: ...
    @property
    def flags(self) -> list[str]: ...
    @property
    def selected_track(self) -> int | None: ...
    @property
    def scenes(self) -> list[list[int]] | None: ...
    @property
    def provenance(self) -> Mapping[str, Any]: ...
    @property
    def tracks(self) -> Sequence[PlottedTrack]: ...
    @property
    def measures(self) -> Mapping[str, Any]: ...
    def tracks_behind(self) -> Sequence[PlottedTrack]: ...


class DriftTrack(Protocol):
    """A :class:`~syncnet_eval.types.TrackResult` with its measures (the ``drift`` measure's
    fields: ``segment_offsets``, ``drift_ms_per_min``, ...)."""

    @property
    def index(self) -> int: ...
    def value(self, name: str) -> Any: ...


def require_matplotlib() -> None:
    """Import matplotlib, or say in one line how to install it.

    Raises:
        DependencyError: matplotlib is not installed.
    """
    try:
        import matplotlib  # noqa: F401 - the optional extra
    except ImportError as exc:
        raise DependencyError(INSTALL_HINT) from exc


def _figure_and_axes(axes: Sequence[Axes] | None) -> tuple[Figure, tuple[Axes, Axes]]:
    require_matplotlib()
    from matplotlib.figure import Figure

    if axes is not None:
        if len(axes) != 2:
            raise ValueError("axes: give two Axes (the curve's and the timeline's)")
        parent = axes[0].figure
        root = parent if isinstance(parent, Figure) else parent.figure
        return root, (axes[0], axes[1])
    fig = Figure(figsize=_FIGSIZE_IN, layout="constrained")
    ax = fig.subplots(1, 2, width_ratios=(2, 3))
    return fig, (ax[0], ax[1])


def plot_curve(
    track: PlottedTrack,
    ax: Axes,
    *,
    colour: str = track_colour(0),
    main: bool = True,
    label: str = "",
) -> None:
    """Draw ``track``'s distance-by-offset curve on ``ax``.

    With ``main`` the minimum (LSE-D, at the AV offset), the median and LSE-C (median minus
    minimum) are marked; otherwise the curve is drawn thin, for comparison.

    Args:
        track: a track with its 31-point (2 * vshift + 1) ``dist_by_shift``.
        ax: where to draw.
        colour: the curve's colour.
        main: mark minimum, median and LSE-C.
        label: legend label (default ``track N``).
    """
    if not track.dist_by_shift:
        raise ValueError(f"track {track.index} has no distance curve (a CSV record?)")
    x = offset_axis(len(track.dist_by_shift))
    d = track.dist_by_shift
    ax.plot(
        x,
        d,
        color=colour,
        lw=2 if main else 1,
        alpha=1 if main else 0.5,
        marker="o",
        ms=3 if main else 0,
        label=label or f"track {track.index}",
    )
    if not main:
        return
    k = min(range(len(d)), key=d.__getitem__)
    median = statistics.median_low(d)
    ax.axhline(median, color=COLOURS["median"], ls="--", lw=1, label=f"median {number(median)}")
    ax.vlines(
        x[k],
        d[k],
        median,
        color=COLOURS["lse_c"],
        lw=2,
        label=f"{LSE_C.name} {number(track.lse_c)}",
    )
    ax.plot(
        [x[k]],
        [d[k]],
        "o",
        color=COLOURS["minimum"],
        ms=6,
        label=f"min ({LSE_D.name}) {number(track.lse_d)} at {offset_text(x[k])}",
    )
    ax.set_xlabel(OFFSET_AXIS_LABEL)
    ax.set_ylabel("mean distance")
    ax.set_xlim(min(x), max(x))


def plot_timeline(
    tracks: Sequence[PlottedTrack],
    ax: Axes,
    *,
    scenes: Sequence[Sequence[int]] | None = None,
    fps: float = FPS,
    selected: int | None = None,
) -> None:
    """Draw each track's per-window confidence against time (s), its span and scene cuts.

    Args:
        tracks: the tracks (their ``framewise_conf`` and ``framewise_time_s``).
        ax: where to draw.
        scenes: ``[start, end)`` frames of the scored stream; cuts are drawn at the starts.
        fps: rate of the scenes' frames.
        selected: indices of the tracks the video's numbers come from (drawn thicker).
    """
    for n, track in enumerate(tracks):
        colour = track_colour(n)
        main = track.index == selected or len(tracks) == 1
        label = f"track {track.index}" + (" (selected)" if main and len(tracks) > 1 else "")
        ax.plot(
            window_times_s(track),
            track.framewise_conf,
            color=colour,
            lw=1.8 if main else 1,
            label=label,
        )
        if track.start_s is not None and track.end_s is not None:
            ax.axvspan(track.start_s, track.end_s, color=colour, alpha=0.08)
    for start, _ in list(scenes or [])[1:]:
        ax.axvline(frame_time_s(start, fps), color=COLOURS["cut"], ls=":", lw=1.2)
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("confidence (9-tap median)")


def plot_drift(tracks: Sequence[DriftTrack], ax: Axes, *, selected: Collection[int] = ()) -> None:
    """Draw each track's segment offsets against time (s) and its drift line.

    Segments in the line (``used``: a clear minimum) are filled dots, those left out hollow; the
    line is the recorded slope through the mean of the filled dots (where a least-squares line
    passes).

    Args:
        tracks: the tracks (their ``segment_offsets`` and ``drift_ms_per_min``).
        ax: where to draw.
        selected: indices of the tracks the video's numbers come from (drawn thicker).
    """
    for n, track in enumerate(tracks):
        segments = track.value("segment_offsets") or []
        if not segments:
            continue
        colour = track_colour(n)
        main = track.index in selected or len(tracks) == 1
        used = [s for s in segments if s.get("used")]
        left = [s for s in segments if not s.get("used")]
        slope = track.value("drift_ms_per_min")
        label = f"track {track.index}: " + drift_text(
            slope, track.value("drift_segments"), track.value("drift_segments_left_out")
        )
        ax.plot(
            [s["time_s"] for s in used],
            [s["offset"] for s in used],
            "o",
            color=colour,
            ms=4 if main else 3,
            label=label,
        )
        if left:
            ax.plot(
                [s["time_s"] for s in left],
                [s["offset"] for s in left],
                "o",
                ms=4,
                mfc="none",
                color=colour,
                alpha=0.6,
            )
        if used and slope is not None:
            t = [s["time_s"] for s in used]
            t_mid = sum(t) / len(t)
            o_mid = sum(s["offset"] for s in used) / len(used)
            frames_per_s = slope / 60.0 / (1000.0 / FPS)
            ends = (min(t), max(t))
            ax.plot(
                ends,
                [o_mid + frames_per_s * (x - t_mid) for x in ends],
                color=colour,
                lw=2 if main else 1,
            )
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(DRIFT_AXIS_LABEL)


def plot_track(
    track: PlottedTrack, axes: Sequence[Axes] | None = None
) -> tuple[Figure, tuple[Axes, Axes]]:
    """One track's curve (left) and confidence timeline (right).

    Args:
        track: the track.
        axes: two Axes to draw on (default: a new figure).

    Returns:
        ``(figure, (curve_axes, timeline_axes))``.

    Raises:
        DependencyError: matplotlib is not installed.
    """
    fig, (ax_curve, ax_time) = _figure_and_axes(axes)
    plot_curve(track, ax_curve)
    ax_curve.legend(fontsize=8, loc="upper center")
    ax_curve.set_title(
        f"track {track.index}: offset {offset_text(track.av_offset)}, "
        f"{LSE_D.name} {number(track.lse_d)}, {LSE_C.name} {number(track.lse_c)}",
        fontsize=10,
    )
    plot_timeline([track], ax_time, selected=track.index)
    ax_time.set_title("per-window confidence", fontsize=10)
    return fig, (ax_curve, ax_time)


def plot_video(
    result: PlottedVideo, axes: Sequence[Axes] | None = None
) -> tuple[Figure, tuple[Axes, Axes]]:
    """A record's curves (the selected track marked, the others thin) and its timeline with
    every track's span and the scene cuts.

    Args:
        result: a scored record with its curves (JSON or JSONL results; CSV has none).
        axes: two Axes to draw on (default: a new figure).

    Returns:
        ``(figure, (curve_axes, timeline_axes))``.

    Raises:
        DependencyError: matplotlib is not installed.
        ValueError: the record has no curve to draw.
    """
    if not result.tracks or not all(t.dist_by_shift for t in result.tracks):
        raise ValueError(f"{result.path}: no distance curves to plot ({result.status})")
    fig, (ax_curve, ax_time) = _figure_and_axes(axes)
    tracks = list(result.tracks)
    behind = {t.index for t in result.tracks_behind()}  # the one rule: VideoResult's
    main_at = next((n for n, t in enumerate(tracks) if t.index in behind), 0)
    for n, t in enumerate(tracks):
        if n != main_at:
            plot_curve(t, ax_curve, colour=track_colour(n), main=False)
    plot_curve(tracks[main_at], ax_curve, colour=track_colour(main_at))
    ax_curve.legend(fontsize=8, loc="upper center")
    flags = f" [{', '.join(result.flags)}]" if result.flags else ""
    ax_curve.set_title(
        f"offset {offset_text(result.av_offset, result.av_offset_ms)}, "
        f"{LSE_D.name} {number(result.lse_d)}, {LSE_C.name} "
        f"{number(result.lse_c)}{flags}",
        fontsize=10,
    )
    fps = float((result.provenance or {}).get("scored_fps") or FPS)
    plot_timeline(
        result.tracks, ax_time, scenes=result.scenes, fps=fps, selected=tracks[main_at].index
    )
    if len(result.tracks) > 1:
        ax_time.legend(fontsize=8)
    # One line per measure the video has (measures registry), under the name.
    lines = reading_lines(result)
    ax_time.set_title("\n".join([_short_name(result), *lines]), fontsize=10 if not lines else 8)
    return fig, (ax_curve, ax_time)


def _video_figure_with_drift(result: PlottedVideo) -> Figure:
    """:func:`plot_video`'s two panels above the tracks' offset over time (:func:`plot_drift`)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_FIGSIZE_IN[0], _FIGSIZE_IN[1] * 1.6), layout="constrained")
    ax = fig.subplot_mosaic(
        [["curve", "time"], ["drift", "drift"]], width_ratios=(2, 3), height_ratios=(3, 2)
    )
    plot_video(result, axes=(ax["curve"], ax["time"]))
    tracks: list[Any] = list(result.tracks)  # TrackResults: they carry the drift fields too
    plot_drift(tracks, ax["drift"], selected={t.index for t in result.tracks_behind()})
    ax["drift"].set_title(
        "offset over time (5 s segments; hollow: no clear minimum, left out)", fontsize=10
    )
    ax["drift"].legend(fontsize=8)
    return fig


def _short_name(result: PlottedVideo) -> str:
    name = result.id or result.path
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name if len(name) <= 70 else "…" + name[-69:]


def render_video_plot(result: PlottedVideo, fmt: str = "png", *, dpi: float = 110) -> bytes:
    """:func:`plot_video` of ``result`` as the bytes of a PNG or SVG file.

    Args:
        result: a scored record with its curves.
        fmt: ``png`` or ``svg``.
        dpi: resolution of a PNG.

    Raises:
        DependencyError: matplotlib is not installed.
        ValueError: an unknown format, or a record without curves.
    """
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"plots are written as {' or '.join(PLOT_FORMATS)}, not {fmt!r}")
    if any(t.value("segment_offsets") for t in result.tracks):
        fig = _video_figure_with_drift(result)
    else:
        fig, _ = plot_video(result)
    buf = io.BytesIO()
    # No date in the metadata: the same record gives the same file.
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
