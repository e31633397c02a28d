"""Matplotlib figures of a record: the distance-by-offset curve and the confidence timeline.

matplotlib is an optional extra (``pip install 'syncnet-eval[viz]'``): it is imported when a
figure is made, and :func:`require_matplotlib` turns its absence into a
:class:`~syncnet_eval.errors.DependencyError` with that line. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state, safe in threads and batch jobs); notebooks show
them as they show any figure.

The record types are only named for type checking here (``TrackResult.plot`` imports this
module, so importing ``types`` back would make a cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
import io
import statistics
from typing import TYPE_CHECKING

from .constants import FPS
from .errors import DependencyError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .types import TrackResult, VideoResult

__all__ = [
    "INSTALL_HINT",
    "PLOT_FORMATS",
    "plot_curve",
    "plot_timeline",
    "plot_track",
    "plot_video",
    "render_video_plot",
    "require_matplotlib",
]

INSTALL_HINT = "matplotlib is not installed; install it with: pip install 'syncnet-eval[viz]'"
PLOT_FORMATS = ("png", "svg")
_TRACK_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_FIGSIZE_IN = (11.0, 3.8)


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


def _offsets(track: TrackResult) -> list[int]:
    """The AV offset of each point of ``dist_by_shift`` (point k: vshift - k frames)."""
    vshift = (len(track.dist_by_shift) - 1) // 2
    return [vshift - k for k in range(len(track.dist_by_shift))]


def plot_curve(
    track: TrackResult, ax: Axes, *, colour: str = "#1f77b4", main: bool = True, label: str = ""
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
    x = _offsets(track)
    d = track.dist_by_shift
    ax.plot(x, d, color=colour, lw=2 if main else 1, alpha=1 if main else 0.5, marker="o",
            ms=3 if main else 0, label=label or f"track {track.index}")  # fmt: skip
    if not main:
        return
    k = min(range(len(d)), key=d.__getitem__)
    median = statistics.median_low(d)
    ax.axhline(median, color="#555", ls="--", lw=1, label=f"median {median:.3f}")
    ax.vlines(x[k], d[k], median, color="#1a7f37", lw=2, label=f"LSE-C {track.lse_c:.3f}")
    ax.plot([x[k]], [d[k]], "ko", ms=6, label=f"min (LSE-D) {track.lse_d:.3f} at {x[k]:+d}")
    ax.set_xlabel("AV offset (frames; + = audio leads)")
    ax.set_ylabel("mean distance")
    ax.set_xlim(min(x), max(x))


def _window_times(track: TrackResult) -> list[float]:
    if track.framewise_time_s and len(track.framewise_time_s) == len(track.framewise_conf):
        return list(track.framewise_time_s)
    return [(track.first_frame + i) / FPS for i in range(len(track.framewise_conf))]


def plot_timeline(
    tracks: Sequence[TrackResult],
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
        selected: index of the track the video's numbers come from (drawn thicker).
    """
    for n, track in enumerate(tracks):
        colour = _TRACK_COLOURS[n % len(_TRACK_COLOURS)]
        main = track.index == selected or len(tracks) == 1
        label = f"track {track.index}" + (" (selected)" if main and len(tracks) > 1 else "")
        ax.plot(_window_times(track), track.framewise_conf, color=colour, lw=1.8 if main else 1,
                label=label)  # fmt: skip
        if track.start_s is not None and track.end_s is not None:
            ax.axvspan(track.start_s, track.end_s, color=colour, alpha=0.08)
    for start, _ in list(scenes or [])[1:]:
        ax.axvline(start / fps, color="#8e24aa", ls=":", lw=1.2)
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("confidence (9-tap median)")


def plot_track(
    track: TrackResult, axes: Sequence[Axes] | None = None
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
    ax_curve.set_title(f"track {track.index}: offset {track.av_offset:+d}, LSE-D "
                       f"{track.lse_d:.3f}, LSE-C {track.lse_c:.3f}", fontsize=10)  # fmt: skip
    plot_timeline([track], ax_time, selected=track.index)
    ax_time.set_title("per-window confidence", fontsize=10)
    return fig, (ax_curve, ax_time)


def plot_video(
    result: VideoResult, axes: Sequence[Axes] | None = None
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
    main = next((t for t in result.tracks if t.index == result.selected_track), result.tracks[0])
    for n, t in enumerate(result.tracks):
        if t is not main:
            plot_curve(t, ax_curve, colour=_TRACK_COLOURS[n % len(_TRACK_COLOURS)], main=False)
    plot_curve(main, ax_curve, colour=_TRACK_COLOURS[result.tracks.index(main) % 7])
    ax_curve.legend(fontsize=8, loc="upper center")
    offset = "-" if result.av_offset is None else f"{result.av_offset:+g}"
    flags = f" [{', '.join(result.flags)}]" if result.flags else ""
    ax_curve.set_title(f"offset {offset}, LSE-D {_num(result.lse_d)}, LSE-C "
                       f"{_num(result.lse_c)}{flags}", fontsize=10)  # fmt: skip
    fps = float((result.provenance or {}).get("scored_fps") or FPS)
    plot_timeline(result.tracks, ax_time, scenes=result.scenes, fps=fps,
                  selected=main.index)  # fmt: skip
    if len(result.tracks) > 1:
        ax_time.legend(fontsize=8)
    ax_time.set_title(_short_name(result), fontsize=10)
    return fig, (ax_curve, ax_time)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _short_name(result: VideoResult) -> str:
    name = result.id or result.path
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name if len(name) <= 70 else "…" + name[-69:]


def render_video_plot(result: VideoResult, fmt: str = "png", *, dpi: float = 110) -> bytes:
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
    fig, _ = plot_video(result)
    buf = io.BytesIO()
    # No date in the metadata: the same record gives the same file.
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
