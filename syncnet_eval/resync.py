"""Moving a video's audio in time: the copy ``fix`` writes and the shifts ``selftest`` plants.

Sign convention (the records' ``av_offset``): a positive offset means the audio *leads* the
video (the sound comes early). Fixing it delays the audio by ``offset / fps`` seconds::

    measured av_offset = +3          audio  |--sound--------|
    (audio 3 frames early)           video     |--lips---------|
    fix: delay the audio 3 frames    audio     |--sound--------|   (silence in front)

and a negative offset (audio late) advances it (its start is trimmed). The video stream is
copied packet for packet; the audio is re-encoded with its own codec, sample rate and channels,
and keeps its length (trimmed at the end, or padded with silence), so the duration and the
other streams stay as they were.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any

import av

from . import ffmpeg
from .constants import FPS
from .errors import DecodeError, InputError, NoAudioError, error_for_status
from .pipeline import SyncPipeline
from .types import VideoResult

__all__ = [
    "FixReport",
    "audio_delay_for_offset",
    "fix_video",
    "move_audio",
    "offset_to_fix",
]

# Encoders to re-encode each audio codec with (its own, where ffmpeg has one).
_ENCODERS = {
    "aac": "aac",
    "mp3": "libmp3lame",
    "mp2": "mp2",
    "ac3": "ac3",
    "opus": "libopus",
    "vorbis": "libvorbis",
    "flac": "flac",
    "alac": "alac",
    "pcm_s16le": "pcm_s16le",
    "pcm_s24le": "pcm_s24le",
    "pcm_f32le": "pcm_f32le",
    "pcm_s16be": "pcm_s16be",
}


def audio_delay_for_offset(av_offset: float, fps: float = FPS) -> float:
    """Seconds to delay the audio by (negative: advance it) so that ``av_offset`` becomes 0."""
    return av_offset / fps


def _audio_stream(path: Path) -> tuple[int, int, str, int | None]:
    """(samples, sample rate, codec, bit rate) of the first audio stream, by decoding it."""
    try:
        with av.open(ffmpeg.file_url(path)) as container:
            if not container.streams.audio:
                raise NoAudioError(f"{path}: no audio stream to move")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate)
            codec, bit_rate = stream.codec_context.name, stream.bit_rate
            samples = sum(frame.samples for frame in container.decode(stream))
    except av.FFmpegError as exc:
        raise DecodeError(f"{path}: cannot read its audio ({exc})") from exc
    return samples, rate, codec, bit_rate or None


def move_audio(src: Path, dst: Path, delay_s: float) -> None:
    """Write ``dst``: ``src`` with its first audio stream delayed by ``delay_s`` seconds.

    Positive ``delay_s`` puts silence in front, negative trims the start; the audio keeps its
    length in samples. Video, subtitle and data streams are copied unchanged, as are the other
    audio streams and the metadata. ``dst`` is written atomically.

    Raises:
        NoAudioError: ``src`` has no audio.
        InputError: ``dst`` is ``src``, or ffmpeg cannot write it.
        DecodeError: ``src`` cannot be read.
    """
    if dst.exists() and os.path.samefile(src, dst):
        raise InputError(f"{dst}: the output would overwrite the input")
    samples, rate, codec, bit_rate = _audio_stream(src)
    shift = round(abs(delay_s) * rate)
    if delay_s >= 0:
        graph = f"adelay=delays={shift}S:all=1,atrim=end_sample={samples}"
    else:
        graph = f"atrim=start_sample={shift},asetpts=PTS-STARTPTS,apad=whole_len={samples}"
    encoder = ["-c:a:0", _ENCODERS.get(codec, "aac")]
    if bit_rate and not codec.startswith("pcm_") and codec not in ("flac", "alac"):
        encoder += ["-b:a:0", str(bit_rate)]
    tmp = dst.with_name(f".{dst.stem}.tmp{dst.suffix}")
    args = [
        *ffmpeg.input_args(src),
        "-filter_complex",
        f"[0:a:0]{graph}[moved]",
        "-map",
        "0:v?",
        "-map",
        "[moved]",
        "-map",
        "0:a:1?",
        "-map",
        "0:s?",
        "-map",
        "0:d?",
        "-map_metadata",
        "0",
        "-c",
        "copy",
        *encoder,
        ffmpeg.file_url(tmp),
    ]
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        ffmpeg.run(args).check(src, f"write {dst}", error=InputError)
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@dataclass(frozen=True)
class FixReport:
    """What ``fix`` did to one video, and what the output measures.

    Attributes:
        source: the video.
        output: the corrected copy.
        offset_frames: the AV offset that was corrected (measured, or given; ``None`` when
            the video could not be measured).
        delay_s: how far the audio was moved (positive: delayed).
        before: the measurement of ``source`` (``None`` when the offset was given).
        after: the measurement of ``output`` with the same recipe.
        tolerance: largest |offset| of ``output`` that passes, frames.
        warnings: e.g. tracks of a multi-track video that disagree on the offset.
    """

    source: str
    output: str
    offset_frames: float | None
    delay_s: float
    before: VideoResult | None
    after: VideoResult
    tolerance: float
    warnings: list[str] = field(default_factory=list)

    @property
    def residual(self) -> float | None:
        """The output's AV offset (frames), ``None`` when it could not be scored."""
        return None if self.after.av_offset is None else float(self.after.av_offset)

    @property
    def passed(self) -> bool:
        """The output scored, with |offset| within the tolerance."""
        return self.residual is not None and abs(self.residual) <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "offset_frames": self.offset_frames,
            "delay_s": self.delay_s,
            "residual_frames": self.residual,
            "tolerance_frames": self.tolerance,
            "passed": self.passed,
            "before": None if self.before is None else self.before.to_dict(),
            "after": self.after.to_dict(),
            "warnings": list(self.warnings),
        }


def offset_to_fix(result: VideoResult, tolerance: float) -> tuple[float, list[str]]:
    """The offset ``fix`` corrects for a scored video: the chosen track's (the record's own
    ``av_offset``), with a warning when the video's tracks disagree by more than
    ``tolerance`` frames.

    Raises:
        InputError: (the record's status) when the video was not scored.
    """
    if not result.ok or result.av_offset is None:
        reason = result.reason or f"{result.path}: {result.status}"
        raise error_for_status(result.status)(f"{reason} (nothing to fix)")
    offset = float(result.av_offset)
    offsets = [t.av_offset for t in result.tracks]
    warnings = []
    if offsets and max(offsets) - min(offsets) > tolerance:
        warnings.append(
            f"{result.path}: its tracks disagree on the offset "
            f"({', '.join(f'{o:+d}' for o in offsets)} frames); fixing the chosen track's "
            f"{offset:+g}"
        )
    return offset, warnings


def fix_video(
    pipe: SyncPipeline,
    video: Path,
    output: Path,
    recipe: str,
    *,
    offset: float | None = None,
    tolerance: float = 1.0,
    audio_path: Path | None = None,
) -> FixReport:
    """Measure ``video``'s AV offset (unless given), write ``output`` with the audio moved so
    that it becomes 0, and measure ``output`` with the same recipe.

    Args:
        pipe: the scorer (its configuration is the recipe's).
        video: the video to fix.
        output: the corrected copy (written atomically; never ``video`` itself).
        recipe: the recipe to measure with, before and after.
        offset: the offset to correct, frames (skips the first measurement).
        tolerance: largest |offset| of the output that passes, frames.
        audio_path: measure against this audio instead of the video's own (not moved).

    Raises:
        InputError: (a subclass) the video cannot be scored or has no audio; ``output`` is the
            input or cannot be written.
    """
    before = None
    warnings: list[str] = []
    if offset is None:
        before = pipe.evaluate(video, recipe, audio_path=audio_path)
        offset, warnings = offset_to_fix(before, tolerance)
    delay = audio_delay_for_offset(offset)
    move_audio(video, output, delay)
    after = pipe.evaluate(output, recipe, audio_path=audio_path)
    return FixReport(str(video), str(output), offset, delay, before, after, tolerance, warnings)
