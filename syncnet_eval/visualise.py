"""The annotated video: every track's box coloured by its confidence, frame by frame.

The video is the 25 fps stream the in-the-wild recipe scores (the reference's transcode and its
q2 JPEG dump, frame for frame: the face tracks' frame indices and boxes refer to it). On each
frame every track present gets its box, coloured by run_visualise.py's rule from the track's
per-frame confidence (:func:`confidence_colour`, :func:`frame_confidences`), its id and its
LSE-D / LSE-C / offset. A strip added below the picture holds the colour legend and each
track's confidence over the whole video with a cursor at the current frame. The original audio
is muxed back, and the result is H.264 (yuv420p) so that browsers play it. Tracks scored with
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
from .speaking import smooth_scores
from .types import TrackResult, VideoResult

__all__ = [
    "AnnotatedVideo",
    "BOX_THICKNESS_PX",
    "CONF_COLOUR_SCALE",
    "CONF_FULL_SCALE",
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


def _scored_fps(track: TrackResult) -> float:
    """Frame rate of the stream the track was scored on (its windows are one frame apart)."""
    times = track.framewise_time_s
    if times and len(times) > 1 and times[-1] > times[0]:
        return (len(times) - 1) / (times[-1] - times[0])
    return float(FPS)


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
    rate = _scored_fps(track)
    start = track.start_s if track.start_s is not None else track.first_frame / rate
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
    if result.recipe == "syncnet-pipeline" and any(
        t.smoothed_center_x is None for t in result.tracks
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
                offset_ms=1000.0 * t.av_offset / _scored_fps(t),
                speaking=frame_speaking(t, num_frames),
            )
        )
    return overlays


# -- drawing ----------------------------------------------------------------------------------


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    return w, h + baseline


def _put_label(image: np.ndarray, lines: Sequence[str], x: int, y: int, scale: float) -> None:
    """White ``lines`` on a dark translucent panel whose top-left corner is (x, y)."""
    sizes = [_text_size(t, scale) for t in lines]
    line_px = max(h for _, h in sizes) + 4
    width = max(w for w, _ in sizes) + 8
    height = line_px * len(lines) + 2
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x0 + width), min(image.shape[0], y0 + height)
    if x1 <= x0 or y1 <= y0:
        return
    roi = image[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # 60 % black
    for n, text in enumerate(lines):
        org = (x0 + 4, y0 + line_px * (n + 1) - 4)
        cv2.putText(image, text, org, _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _fit_scale(lines: Sequence[str], width: int, scale: float) -> float:
    """``scale``, reduced until the widest line fits in ``width`` pixels (not below 0.3)."""
    widest = max(_text_size(t, scale)[0] for t in lines) + 8
    return max(0.3, min(scale, scale * width / widest))


def _draw_track(image: np.ndarray, overlay: TrackOverlay, frame: int) -> None:
    box, conf = overlay.boxes[frame], overlay.confidence[frame]
    if box is None or conf is None:
        return
    x1, y1, x2, y2 = box
    asd = overlay.speaking[frame] if overlay.speaking is not None else None
    speaking_colour = SPEAKING_BGR if asd is not None and asd >= 0 else SILENT_BGR
    colour = confidence_colour(conf) if asd is None else speaking_colour
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, BOX_THICKNESS_PX)
    t = overlay.track
    lines = [
        f"track {t.index}{' (selected)' if overlay.selected else ''}  conf {conf:.2f}",
        f"LSE-D {t.lse_d:.3f}  LSE-C {t.lse_c:.3f}",
        f"offset {t.av_offset:+d} ({overlay.offset_ms:+.0f} ms)",
    ]
    if asd is not None:
        lines.append(f"{'speaking' if asd >= 0 else 'not speaking'} (ASD {asd:+.1f})")
    height, width = image.shape[:2]
    scale = _fit_scale(lines, width - max(x1, 0), max(0.4, min(1.0, height / 900)))
    label_px = (max(_text_size(t, scale)[1] for t in lines) + 4) * len(lines) + 2
    # Above the box, clear of its edges; else below it; else inside its top-left corner.
    pad = BOX_THICKNESS_PX
    if y1 - pad - label_px >= 0:
        y = y1 - pad - label_px
    elif y2 + pad + label_px <= height:
        y = y2 + pad
    else:
        y = y1 + pad + 1
    _put_label(image, lines, max(x1 + (pad + 1 if y > y1 else 0), 0), y, scale)


class _Strip:
    """The band under the picture: the colour legend on top, then each track's confidence
    over the whole video with a cursor at the current frame."""

    _LEGEND_PX = 18

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
        for o in overlays:
            self._curve(o)

    def y(self, conf: float) -> int:
        top, bottom = self._LEGEND_PX + 4, self.height - 4
        return int(round(bottom - (conf - self.lo) / (self.hi - self.lo) * (bottom - top)))

    def x(self, frame: int) -> int:
        return self.x0 + int(round(frame / max(self.num_frames - 1, 1) * (self.x1 - self.x0)))

    def _legend(self, width: int) -> None:
        """``0 [red ... green] 10.2+``: the colours of the boxes by confidence."""
        scale = 0.35
        y_text = self._LEGEND_PX - 5
        cv2.putText(self.base, "conf 0", (4, y_text), _FONT, scale, (230, 230, 230), 1, cv2.LINE_AA)
        x0 = 4 + _text_size("conf 0", scale)[0] + 4
        x1 = x0 + max(30, min(120, width // 4))
        for x in range(x0, x1):
            conf = (x - x0) / max(x1 - x0 - 1, 1) * CONF_FULL_SCALE
            cv2.line(self.base, (x, 5), (x, self._LEGEND_PX - 4), confidence_colour(conf), 1)
        cv2.putText(self.base, f"{CONF_FULL_SCALE:.1f}+", (x1 + 6, y_text), _FONT, scale,
                    (230, 230, 230), 1, cv2.LINE_AA)  # fmt: skip

    def _curve(self, overlay: TrackOverlay) -> None:
        prev: tuple[int, int] | None = None
        for f, conf in enumerate(overlay.confidence):
            if conf is None:
                prev = None
                continue
            point = (self.x(f), self.y(conf))
            cv2.line(self.base, prev or point, point, confidence_colour(conf), 2)
            prev = point

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
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.",
                                   suffix=output.suffix)  # fmt: skip
        os.close(fd)
        self.tmp = Path(tmp)
        width, height = size
        self._writer = ffmpeg.Writer(
            ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(FPS),
             "-i", "pipe:0", *ffmpeg.input_args(video), "-map", "0:v:0", "-map", "1:a:0?",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "128k", "-t", f"{num_frames / FPS:.6f}",
             "-movflags", "+faststart", ffmpeg.file_url(self.tmp)],
            source=video,
            action="encode the annotated video",
        )  # fmt: skip

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


def annotate_video(video: Path, result: VideoResult, output: Path) -> AnnotatedVideo:
    """Write ``video`` with ``result``'s tracks drawn on it (see the module docstring).

    Args:
        video: the video the record was scored from.
        result: its record (``ok``, with per-window confidence; face boxes for the pipeline
            recipe).
        output: the ``.mp4`` (or ``.mov``/``.mkv``) to write; replaced atomically.

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
    with tempfile.TemporaryDirectory(prefix="syncnet-eval-") as tmp:
        avi = Path(tmp) / "video.avi"
        transcode_reference_avi(video, avi)
        cache = JpegCache(Path(tmp) / "frames.mjpeg")
        num_frames = sum(1 for _ in cache.record(iter_jpegs(avi, REFERENCE_QSCALE)))
        if num_frames == 0:
            raise InputError(f"{video}: no video frames could be decoded")
        encoder: _Encoder | None = None
        try:
            index = 0
            for chunk in decode_jpegs(cache.replay(), avi, _CHUNK_FRAMES):
                for image in chunk:
                    if encoder is None:
                        height, width = image.shape[:2]
                        overlays = track_overlays(result, num_frames, (width, height))
                        strip = _Strip(overlays, num_frames, width)
                        size = _output_size(width, height, strip.height)
                        encoder = _Encoder(video, output, size, num_frames)
                    canvas = image.copy()
                    for overlay in overlays:
                        _draw_track(canvas, overlay, index)
                    encoder.write(_compose(canvas, strip.at(index), size))
                    index += 1
            assert encoder is not None
            encoder.close()
        except BaseException:
            if encoder is not None:
                encoder.kill()
            raise
    return AnnotatedVideo(output, num_frames, size[0], size[1])
