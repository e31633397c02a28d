"""The annotated video: every track's box coloured by its confidence, frame by frame.

The video is the 25 fps stream the in-the-wild recipe scores (the reference's transcode and its
q2 JPEG dump, frame for frame: the face tracks' frame indices and boxes refer to it). On each
frame every track present gets its box, coloured by run_visualise.py's rule from the track's
per-frame confidence (:func:`confidence_colour`, :func:`frame_confidences`), its id and its
LSE-D / LSE-C / offset. A strip added below the picture holds the colour legend and each
track's confidence over the whole video (each curve labelled with its track) with a cursor at
the current frame. Label panels are opaque and placed so that none covers another. The original
audio is muxed back, and the result is H.264 (yuv420p) so that browsers play it. Tracks scored with
``--asd`` are coloured by their speaking state instead: green while the active-speaker model
calls the face speaking, red while not (and the label says which).

Whole-frame recipes (``direct``, ``wav2lip-lrs``) have one track, the whole picture: its box is
the frame's border.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
import os
from pathlib import Path
import tempfile

import cv2
import numpy as np

from . import ffmpeg
from .constants import FPS
from .decode import (
    REFERENCE_QSCALE,
    JpegCache,
    decode_jpegs,
    iter_jpegs,
    transcode_reference_avi,
)
from .errors import InputError, OutputError
from .io import new_file_mode
from .presentation import (
    LSE_C,
    LSE_D,
    number,
    offset_text,
    scored_fps,
    window_start_s,
)
from .recipes import REGISTRY
from .speaking import smooth_scores
from .timing import Timer
from .types import TrackResult, VideoResult

__all__ = [
    "AnnotatedVideo",
    "BOX_THICKNESS_PX",
    "CONF_COLOUR_SCALE",
    "CONF_FULL_SCALE",
    "ConfidenceStrip",
    "LABEL_BG",
    "draw_frame",
    "draw_label",
    "label_positions",
    "REFERENCE_LEAD_FRAMES",
    "TrackOverlay",
    "annotate_video",
    "confidence_colour",
    "frame_speaking",
    "frame_boxes",
    "frame_confidences",
    "track_overlays",
]

# run_visualise.py: clr = max(min(conf * 25, 255), 0); box colour (B, G, R) = (0, clr, 255 - clr):
# red at confidence 0 and below, green from 255 / 25 = 10.2 up.
CONF_COLOUR_SCALE = 25.0
CONF_FULL_SCALE = 255.0 / CONF_COLOUR_SCALE
# run_visualise.py pads the per-window distances with 3 values in front before it indexes them
# by the track's frames, so frame k of a track shows window k - 3.
REFERENCE_LEAD_FRAMES = 3
BOX_THICKNESS_PX = 3  # run_visualise.py's rectangles
_CHUNK_FRAMES = 16
_OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv")
_STRIP_BG = (24, 24, 24)


@dataclass(frozen=True)
class AnnotatedVideo:
    """What :func:`annotate_video` wrote: the file, its frame count and size at 25 fps."""

    path: Path
    num_frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.num_frames / FPS


def confidence_colour(conf: float) -> tuple[int, int, int]:
    """The BGR colour of a box at confidence ``conf`` (run_visualise.py's rule).

    ``level = clip(conf * 25, 0, 255)`` rounded to the nearest integer as OpenCV rounds a
    colour; the colour is ``(0, level, 255 - level)``: red at 0 and below, green from 10.2.
    """
    level = int(round(min(max(conf * CONF_COLOUR_SCALE, 0.0), 255.0)))
    return (0, level, 255 - level)


def frame_confidences(track: TrackResult, num_frames: int) -> list[float | None]:
    """The confidence run_visualise.py shows on each frame of the 25 fps stream.

    Frame f (at f / 25 s) is the track's frame k = floor((f / 25 - start_s) * rate) of the
    stream it was scored on (the 25 fps stream itself for the pipeline recipe); outside the
    track it is ``None``. As in run_visualise.py, frame k shows window k - 3. The first and last
    frames of a track show its first and last window: the reference pads there with a distance
    of 10, an artefact of its array lengths, and the record keeps the confidence that is
    already 9-tap median filtered (``framewise_conf``), which is the reference's inside the
    track.

    Args:
        track: the track (``framewise_conf``, ``start_s``, ``framewise_time_s``).
        num_frames: frames of the 25 fps stream.

    Returns:
        (num_frames,) confidence or ``None`` per frame.
    """
    conf = track.framewise_conf
    out: list[float | None] = [None] * num_frames
    if not conf:
        return out
    rate = scored_fps(track)
    start = window_start_s(track)
    for f in range(num_frames):
        k = math.floor((f / FPS - start) * rate + 1e-6)
        if 0 <= k < track.num_frames:
            out[f] = conf[min(max(k - REFERENCE_LEAD_FRAMES, 0), len(conf) - 1)]
    return out


@dataclass(frozen=True)
class TrackOverlay:
    """One track, ready to draw: its per-frame confidence and boxes on the 25 fps stream.

    Attributes:
        track: the track's numbers.
        selected: whether the video's numbers come from it.
        confidence: (frames,) confidence per frame, ``None`` where the track is absent.
        boxes: (frames,) ``(x1, y1, x2, y2)`` pixels per frame, ``None`` where absent.
        offset_ms: the track's AV offset in ms.
        speaking: (frames,) the active-speaker judgement per frame (smoothed ASD score, >= 0:
            speaking), ``None`` where the track is absent or has no ASD scores.
    """

    track: TrackResult
    selected: bool
    confidence: list[float | None]
    boxes: list[tuple[int, int, int, int] | None]
    offset_ms: float
    speaking: list[float | None] | None = None


# Boxes of tracks judged by the active-speaker model: green while speaking, red while not.
SPEAKING_BGR = (0, 200, 0)
SILENT_BGR = (0, 0, 255)


def frame_speaking(track: TrackResult, num_frames: int) -> list[float | None] | None:
    """Each frame's smoothed ASD score (``speaking.smooth_scores``; >= 0: speaking), or
    ``None`` for a track without ASD scores."""
    if track.asd_scores is None:
        return None
    smoothed = smooth_scores(np.asarray(track.asd_scores, dtype=np.float64))
    out: list[float | None] = [None] * num_frames
    for k, value in enumerate(smoothed):
        f = track.first_frame + k
        if 0 <= f < num_frames:
            out[f] = float(value)
    return out


def frame_boxes(
    track: TrackResult, num_frames: int, size: tuple[int, int]
) -> list[tuple[int, int, int, int] | None]:
    """Each frame's box of ``track``: the smoothed crop geometry of the pipeline recipe
    (centre +- half size, truncated as run_visualise.py does), or the whole frame.

    Args:
        track: the track.
        num_frames: frames of the 25 fps stream.
        size: ``(width, height)`` of its frames.

    Raises:
        InputError: a pipeline track without per-frame geometry (a CSV record).
    """
    width, height = size
    present = frame_confidences(track, num_frames) if track.framewise_conf else [None] * num_frames
    if track.smoothed_center_x is None:
        whole = (1, 1, width - 2, height - 2)  # the border, inside the picture
        return [whole if c is not None else None for c in present]
    xs, ys = track.smoothed_center_x, track.smoothed_center_y or []
    sizes = track.smoothed_half_size or []
    out: list[tuple[int, int, int, int] | None] = [None] * num_frames
    for f in range(max(track.first_frame, 0), min(track.last_frame + 1, num_frames)):
        k = f - track.first_frame
        if k < len(xs) and k < len(ys) and k < len(sizes):
            x, y, s = xs[k], ys[k], sizes[k]
            out[f] = (int(x - s), int(y - s), int(x + s), int(y + s))
    return out


def track_overlays(
    result: VideoResult, num_frames: int, size: tuple[int, int]
) -> list[TrackOverlay]:
    """Every track of ``result`` as a :class:`TrackOverlay` on the 25 fps stream.

    Raises:
        InputError: the record was not scored, or holds no per-frame data (a CSV record).
    """
    if not result.ok or not result.tracks:
        raise InputError(
            f"{result.path}: nothing to draw: the record is {result.status}"
            + (f" ({result.reason})" if result.reason else "")
        )
    spec = REGISTRY.get(result.recipe)
    if (
        spec is not None
        and spec.needs_tracks
        and any(t.smoothed_center_x is None for t in result.tracks)
    ):
        raise InputError(
            f"{result.path}: the record has no per-frame face boxes (CSV results keep only the "
            "numbers); use the .json or .jsonl results, or score the video here"
        )
    if any(not t.framewise_conf for t in result.tracks):
        raise InputError(f"{result.path}: the record has no per-window confidence to draw")
    overlays = []
    for t in result.tracks:
        overlays.append(
            TrackOverlay(
                track=t,
                selected=t.index == result.selected_track or len(result.tracks) == 1,
                confidence=frame_confidences(t, num_frames),
                boxes=frame_boxes(t, num_frames, size),
                offset_ms=1000.0 * t.av_offset / scored_fps(t),
                speaking=frame_speaking(t, num_frames),
            )
        )
    return overlays


# -- drawing ----------------------------------------------------------------------------------


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    return w, h + baseline


LABEL_BG = (24, 24, 24)  # the label panels' colour (BGR): opaque, the picture does not show


def _panel_size(lines: Sequence[str], scale: float) -> tuple[int, int, int]:
    """``(width, height, line height)`` in pixels of a panel holding ``lines``."""
    sizes = [_text_size(t, scale) for t in lines]
    line_px = max(h for _, h in sizes) + 4
    return max(w for w, _ in sizes) + 8, line_px * len(lines) + 2, line_px


def draw_label(image: np.ndarray, lines: Sequence[str], x: int, y: int, scale: float) -> None:
    """White ``lines`` on an opaque :data:`LABEL_BG` panel whose top-left corner is (x, y)."""
    width, height, line_px = _panel_size(lines, scale)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x0 + width), min(image.shape[0], y0 + height)
    if x1 <= x0 or y1 <= y0:
        return
    image[y0:y1, x0:x1] = LABEL_BG
    for n, text in enumerate(lines):
        org = (x0 + 4, y0 + line_px * (n + 1) - 4)
        cv2.putText(image, text, org, _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_positions(
    boxes: Sequence[tuple[int, int, int, int]],
    panels: Sequence[tuple[int, int]],
    frame_size: tuple[int, int],
) -> list[tuple[int, int]]:
    """Where each box's label panel goes: its top-left corner, so that no two panels overlap.

    Each panel sits at its box's left edge, above the box clear of its edge, else below it, else
    inside its top; a panel that would cover one placed before it (earlier boxes first: give the
    selected track first) moves to the nearest height where it covers none, inside the frame,
    preferring heights where it covers no box.

    Args:
        boxes: ``(x1, y1, x2, y2)`` pixels of each box.
        panels: ``(width, height)`` pixels of each box's panel.
        frame_size: ``(width, height)`` of the frame.
    """
    width, height = frame_size
    pad = BOX_THICKNESS_PX
    placed: list[tuple[int, int, int, int]] = []
    out: list[tuple[int, int]] = []
    for (x1, y1, _, y2), (w, h) in zip(boxes, panels, strict=True):
        x = min(max(x1, 0), max(width - w, 0))
        if y1 - pad - h >= 0:
            want = y1 - pad - h
        elif y2 + pad + h <= height:
            want = y2 + pad
        else:
            want = max(y1, 0) + pad + 1
        candidates = [want] + [y for p in placed for y in (p[3] + 1, p[1] - h - 1)]
        fits = [y for y in candidates if 0 <= y <= height - h] or [want]
        free = [y for y in fits if not any(_overlaps((x, y, x + w, y + h), p) for p in placed)]

        def cost(y: int, x: int = x, w: int = w, h: int = h, want: int = want) -> tuple[int, ...]:
            covered = sum(_overlaps((x, y, x + w, y + h), b) for b in boxes)  # hides an edge
            return (covered, abs(y - want), y)

        y = min(free or fits, key=cost)
        placed.append((x, y, x + w, y + h))
        out.append((x, y))
    return out


def _fit_scale(lines: Sequence[str], width: int, scale: float) -> float:
    """``scale``, reduced until the widest line fits in ``width`` pixels (not below 0.3)."""
    widest = max(_text_size(t, scale)[0] for t in lines) + 8
    return max(0.3, min(scale, scale * width / max(widest, 1)))


def _label_lines(overlay: TrackOverlay, conf: float, asd: float | None) -> list[str]:
    t = overlay.track
    lines = [
        f"track {t.index}{' (selected)' if overlay.selected else ''}  conf {number(conf, 2)}",
        f"{LSE_D.name} {number(t.lse_d)}  {LSE_C.name} {number(t.lse_c)}",
        f"offset {offset_text(t.av_offset, overlay.offset_ms)}",
    ]
    if asd is not None:
        lines.append(f"{'speaking' if asd >= 0 else 'not speaking'} (ASD {asd:+.1f})")
    return lines


def draw_frame(image: np.ndarray, overlays: Sequence[TrackOverlay], frame: int) -> None:
    """Every track's box on ``image``, then their labels where they do not overlap (the
    selected track's label placed first)."""
    height, width = image.shape[:2]
    base_scale = max(0.4, min(1.0, height / 900))
    shown: list[tuple[bool, tuple[int, int, int, int], list[str], float]] = []
    for overlay in overlays:
        box, conf = overlay.boxes[frame], overlay.confidence[frame]
        if box is None or conf is None:
            continue
        asd = overlay.speaking[frame] if overlay.speaking is not None else None
        speaking_colour = SPEAKING_BGR if asd is not None and asd >= 0 else SILENT_BGR
        colour = confidence_colour(conf) if asd is None else speaking_colour
        cv2.rectangle(image, box[:2], box[2:], colour, BOX_THICKNESS_PX)
        lines = _label_lines(overlay, conf, asd)
        scale = _fit_scale(lines, width - max(box[0], 0), base_scale)
        shown.append((overlay.selected, box, lines, scale))
    shown.sort(key=lambda item: not item[0])  # stable: the selected track's label first
    sizes = [_panel_size(lines, scale)[:2] for _, _, lines, scale in shown]
    spots = label_positions([item[1] for item in shown], sizes, (width, height))
    for (_, _, lines, scale), (x, y) in zip(shown, spots, strict=True):
        draw_label(image, lines, x, y, scale)


class ConfidenceStrip:
    """The band under the picture: the colour legend on top, then each track's confidence
    over the whole video, each curve labelled with its track, and a cursor at the current
    frame.

    Attributes:
        height: pixels (even).
        labels: ``(text, (x, y))`` of each curve's label (the text's bottom-left corner).
    """

    _LEGEND_PX = 18
    _LABEL_SCALE = 0.35

    def __init__(self, overlays: Sequence[TrackOverlay], num_frames: int, width: int) -> None:
        self.num_frames = num_frames
        self.height = max(64, min(150, width // 5))
        self.height += self.height % 2
        self.base = np.full((self.height, width, 3), _STRIP_BG, np.uint8)
        self._legend(width)
        values = [c for o in overlays for c in o.confidence if c is not None]
        self.lo = min([0.0, *values])
        self.hi = max([CONF_FULL_SCALE, *values])
        self.x0, self.x1 = 4, width - 5
        y0 = self.y(0.0)
        cv2.line(self.base, (self.x0, y0), (self.x1, y0), (90, 90, 90), 1)
        self.labels: list[tuple[str, tuple[int, int]]] = []
        for o in overlays:
            self._curve(o)
        self._label_curves(overlays, width)

    def y(self, conf: float) -> int:
        top, bottom = self._LEGEND_PX + 4, self.height - 4
        return int(round(bottom - (conf - self.lo) / (self.hi - self.lo) * (bottom - top)))

    def x(self, frame: int) -> int:
        return self.x0 + int(round(frame / max(self.num_frames - 1, 1) * (self.x1 - self.x0)))

    def _legend(self, width: int) -> None:
        """``box colour: conf 0 [red ... green] 10.2+``: the colours of the boxes."""
        scale = self._LABEL_SCALE
        y_text = self._LEGEND_PX - 5
        text = "box colour by confidence: 0"
        cv2.putText(self.base, text, (4, y_text), _FONT, scale, (230, 230, 230), 1, cv2.LINE_AA)
        x0 = 4 + _text_size(text, scale)[0] + 4
        x1 = x0 + max(30, min(120, width // 4))
        for x in range(x0, x1):
            conf = (x - x0) / max(x1 - x0 - 1, 1) * CONF_FULL_SCALE
            cv2.line(self.base, (x, 5), (x, self._LEGEND_PX - 4), confidence_colour(conf), 1)
        cv2.putText(
            self.base,
            f"{CONF_FULL_SCALE:.1f}+",
            (x1 + 6, y_text),
            _FONT,
            scale,
            (230, 230, 230),
            1,
            cv2.LINE_AA,
        )

    def _curve(self, overlay: TrackOverlay) -> None:
        prev: tuple[int, int] | None = None
        for f, conf in enumerate(overlay.confidence):
            if conf is None:
                prev = None
                continue
            point = (self.x(f), self.y(conf))
            cv2.line(self.base, prev or point, point, confidence_colour(conf), 2)
            prev = point

    def _label_curves(self, overlays: Sequence[TrackOverlay], width: int) -> None:
        """``track N`` (and ``conf 0`` on the zero line) at the left end of each curve, the
        labels of curves that start together stacked so that none covers another."""
        scale = self._LABEL_SCALE
        wanted: list[tuple[str, int, int]] = [("conf 0", self.x0 + 2, self.y(0.0) - 2)]
        for o in overlays:
            first = next((f for f, c in enumerate(o.confidence) if c is not None), None)
            if first is None:
                continue
            conf = o.confidence[first]
            assert conf is not None
            wanted.append((f"track {o.track.index}", self.x(first) + 2, self.y(conf) - 4))
        boxes: list[tuple[int, int, int, int]] = []
        for text, x, y in wanted:
            w, h = _text_size(text, scale)
            x = min(x, max(width - w - 2, 0))
            y = min(max(y, self._LEGEND_PX + h), self.height - 2)
            while any(_overlaps((x, y - h, x + w, y), b) for b in boxes) and y > h:
                y -= 2  # up past the label already there
            while any(_overlaps((x, y - h, x + w, y), b) for b in boxes):
                y += 2
            boxes.append((x, y - h, x + w, y))
            self.labels.append((text, (x, y)))
            cv2.putText(self.base, text, (x, y), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)

    def at(self, frame: int) -> np.ndarray:
        strip: np.ndarray = self.base.copy()
        x = self.x(frame)
        cv2.line(strip, (x, self._LEGEND_PX), (x, self.height - 2), (255, 255, 255), 1)
        return strip


def _output_size(width: int, height: int, strip: int) -> tuple[int, int]:
    """Even sides for yuv420p: one black column or row added where needed."""
    return width + width % 2, height + strip + (height + strip) % 2


class _Encoder:
    """libx264/yuv420p + AAC of the original audio, written to a temporary file beside the
    output and renamed over it when complete."""

    def __init__(self, video: Path, output: Path, size: tuple[int, int], num_frames: int) -> None:
        self.output = output
        self.size = size
        fd, tmp = tempfile.mkstemp(
            dir=output.parent, prefix=f".{output.name}.", suffix=output.suffix
        )
        try:  # mkstemp makes it 0600: the output gets the mode a plain open would give it
            os.fchmod(fd, new_file_mode())
        finally:
            os.close(fd)
        self.tmp = Path(tmp)
        width, height = size
        self._writer = ffmpeg.Writer(
            [
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-s",
                f"{width}x{height}",
                "-r",
                str(FPS),
                "-i",
                "pipe:0",
                *ffmpeg.input_args(video),
                "-map",
                "0:v:0",
                "-map",
                "1:a:0?",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "18",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-t",
                f"{num_frames / FPS:.6f}",
                "-movflags",
                "+faststart",
                ffmpeg.file_url(self.tmp),
            ],
            source=video,
            action="encode the annotated video",
        )

    def write(self, image: np.ndarray) -> None:
        self._writer.write(np.ascontiguousarray(image).tobytes())

    def close(self) -> None:
        self._writer.close()
        try:
            os.replace(self.tmp, self.output)
        except OSError as exc:
            raise OutputError(f"{self.output}: cannot write it ({exc.strerror or exc})") from exc

    def kill(self) -> None:
        self._writer.kill()
        self.tmp.unlink(missing_ok=True)


def _compose(frame: np.ndarray, strip: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    out = np.zeros((height, width, 3), np.uint8)
    out[: frame.shape[0], : frame.shape[1]] = frame
    out[frame.shape[0] : frame.shape[0] + strip.shape[0], : strip.shape[1]] = strip
    return out


def annotate_video(
    video: Path, result: VideoResult, output: Path, timer: Timer | None = None
) -> AnnotatedVideo:
    """Write ``video`` with ``result``'s tracks drawn on it (see the module docstring).

    Args:
        video: the video the record was scored from.
        result: its record (``ok``, with per-window confidence; face boxes for the pipeline
            recipe).
        output: the ``.mp4`` (or ``.mov``/``.mkv``) to write; replaced atomically.
        timer: its hook sees the ``decode`` and ``drawing`` stages (drawing advances frame by
            frame: progress).

    Returns:
        The :class:`AnnotatedVideo`: as many frames as the 25 fps stream, at 25 fps.

    Raises:
        InputError: the record has nothing to draw, or the video cannot be decoded.
        OutputError: the output cannot be written.
    """
    video, output = Path(video), Path(output)
    if output.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise OutputError(f"{output}: the annotated video is written as .mp4, .mov or .mkv")
    output.parent.mkdir(parents=True, exist_ok=True)
    timer = timer or Timer()
    with tempfile.TemporaryDirectory(prefix="syncnet-eval-") as tmp:
        with timer.stage("decode"):
            avi = Path(tmp) / "video.avi"
            transcode_reference_avi(video, avi)
            cache = JpegCache(Path(tmp) / "frames.mjpeg")
            num_frames = sum(1 for _ in cache.record(iter_jpegs(avi, REFERENCE_QSCALE)))
        if num_frames == 0:
            raise InputError(f"{video}: no video frames could be decoded")
        encoder: _Encoder | None = None
        try:
            with timer.stage("drawing", total=num_frames):
                index = 0
                for chunk in decode_jpegs(cache.replay(), avi, _CHUNK_FRAMES):
                    for image in chunk:
                        if encoder is None:
                            height, width = image.shape[:2]
                            overlays = track_overlays(result, num_frames, (width, height))
                            strip = ConfidenceStrip(overlays, num_frames, width)
                            size = _output_size(width, height, strip.height)
                            encoder = _Encoder(video, output, size, num_frames)
                        canvas = image.copy()
                        draw_frame(canvas, overlays, index)
                        encoder.write(_compose(canvas, strip.at(index), size))
                        index += 1
                    timer.advance(len(chunk))
                assert encoder is not None
                encoder.close()
        except BaseException:
            if encoder is not None:
                encoder.kill()
            raise
    return AnnotatedVideo(output, num_frames, size[0], size[1])
