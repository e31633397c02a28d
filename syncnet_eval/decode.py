"""Decoding: video -> BGR uint8 frames, audio -> 16 kHz mono int16, in memory.

Parity notes (REFERENCE_PIPELINE.md 1.1): the reference dumps every frame to JPEG with the
ffmpeg CLI's mjpeg encoder at its default rate control and reads it back with ``cv2.imread``, and
reads audio with ``-async 1``. We reproduce both by piping the same ffmpeg commands (no files on
disk) and decoding each JPEG with ``cv2.imdecode`` (libjpeg-turbo). Frames without the round trip
and stream probing use PyAV.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
import logging
from pathlib import Path
import queue
import threading
from typing import Any, TypeVar

import av
import cv2
import numpy as np

from . import ffmpeg
from .constants import FPS, SAMPLE_RATE_HZ
from .errors import DecodeError, InputError, NoAudioError

__all__ = [
    "CHUNK_BYTES",
    "JpegCache",
    "JpegSplitter",
    "MediaInfo",
    "chunked",
    "decode_jpeg",
    "decode_jpegs",
    "iter_frames",
    "iter_jpegs",
    "iter_raw_frames",
    "prefetch",
    "probe_audio_file",
    "probe_media",
    "read_audio",
    "transcode_reference_avi",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Decoded frames are handed on in chunks of at most this many bytes (or chunk_frames frames):
# ~10 frames of 1080p, 64 of 224x224. With the prefetch queue this bounds memory per stream.
CHUNK_BYTES = 64 << 20
# run_pipeline.py: -qscale:v 2 for the 25 fps AVI and for its JPEG dump.
REFERENCE_QSCALE = "2"
# Encoder threads of the 25 fps transcode. The reference leaves ffmpeg's default (cores + 1),
# and the mpeg4 encoder cuts each frame into one slice per thread, so its AVI - and every
# number computed from it - depends on the machine. The goldens of ../shared/reference match
# 3 threads (a 2-core machine's default); pinning it makes the numbers the same everywhere.
TRANSCODE_THREADS = "3"


@dataclass(frozen=True)
class MediaInfo:
    """What PyAV reports about a file before decoding it."""

    path: str
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None  # average frame rate of the first video stream
    num_frames: int | None  # container's count, may be None or approximate
    duration_s: float | None
    audio_rate_hz: int | None
    audio_channels: int | None
    video_codec: str | None
    audio_codec: str | None
    video_duration_s: float | None = None  # from stream metadata, when the container has it
    audio_duration_s: float | None = None
    # How the file was encoded (codec provenance; None where the file does not say). Bit
    # rates in bits per second: the stream's declared rate (containers such as Matroska often
    # declare none). container_format is the demuxer's name ("mov,mp4,m4a,3gp,3g2,mj2").
    video_profile: str | None = None
    pix_fmt: str | None = None
    video_bit_rate: int | None = None
    audio_profile: str | None = None
    audio_bit_rate: int | None = None
    container_format: str | None = None
    # video_codec/audio_codec are the codecs' names as ffprobe's codec_name gives them ("mp3",
    # "av1"); these are the decoders that read them here ("mp3float", "libdav1d").
    video_decoder: str | None = None
    audio_decoder: str | None = None


def media_fields(inputs: Any) -> dict[str, Any]:
    """The ``codec`` measure (``measures/codec.py``): how ``inputs.media`` (a
    :class:`MediaInfo`) was encoded, by its provenance keys."""
    info: MediaInfo = inputs.media
    return {
        "input_video_codec": info.video_codec,
        "input_video_profile": info.video_profile,
        "input_pix_fmt": info.pix_fmt,
        "input_video_bit_rate": info.video_bit_rate,
        "input_fps": info.fps,
        "input_audio_codec": info.audio_codec,
        "input_audio_profile": info.audio_profile,
        "input_audio_bit_rate": info.audio_bit_rate,
        "input_audio_rate_hz": info.audio_rate_hz,
        "input_container": info.container_format,
    }


def decoder_fields(inputs: Any) -> dict[str, Any]:
    """The ``decoder`` measure (``measures/decoder.py``): the decoders that read
    ``inputs.media``'s streams."""
    info: MediaInfo = inputs.media
    return {"input_video_decoder": info.video_decoder, "input_audio_decoder": info.audio_decoder}


def probe_media(path: str | Path) -> MediaInfo:
    """Open ``path`` with PyAV and describe its first video and audio streams.

    Raises:
        InputError: missing, unreadable or not a media file (status ``error``/``decode_error``),
            or a file without a video stream (``decode_error``).
    """
    p = Path(path)
    if not p.exists():
        if p.is_symlink():
            raise InputError(f"{p}: a symbolic link that leads nowhere (broken, or a loop)")
        raise InputError(f"{p}: file not found")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a media file")
    if _is_empty(p):
        raise DecodeError(f"{p}: not a readable media file: empty file (0 bytes)")
    try:
        with av.open(ffmpeg.file_url(p), metadata_errors="ignore") as container:
            vstreams = container.streams.video
            astreams = container.streams.audio
            v = vstreams[0] if vstreams else None
            a = astreams[0] if astreams else None
            fps = None
            if v is not None:
                rate = v.average_rate or v.guessed_rate or v.base_rate
                fps = float(rate) if rate else None
            duration = None
            if container.duration is not None:
                duration = container.duration / 1_000_000
            info = MediaInfo(
                path=str(p),
                has_video=v is not None,
                has_audio=a is not None,
                width=v.codec_context.width if v is not None else None,
                height=v.codec_context.height if v is not None else None,
                fps=fps,
                num_frames=(v.frames or None) if v is not None else None,
                duration_s=duration,
                audio_rate_hz=a.codec_context.sample_rate if a is not None else None,
                audio_channels=a.codec_context.channels if a is not None else None,
                video_codec=_codec_name(v),
                audio_codec=_codec_name(a),
                video_decoder=v.codec_context.name if v is not None else None,
                audio_decoder=a.codec_context.name if a is not None else None,
                video_duration_s=_stream_duration(v),
                audio_duration_s=_stream_duration(a),
                video_profile=_profile(v),
                pix_fmt=(v.codec_context.pix_fmt or None) if v is not None else None,
                video_bit_rate=_bit_rate(v),
                audio_profile=_profile(a),
                audio_bit_rate=_bit_rate(a),
                container_format=container.format.name or None,
            )
    except PermissionError as exc:
        raise InputError(f"{p}: permission denied") from exc
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError, AttributeError) as exc:
        # AttributeError: PyAV exposes a stream whose codec context a corrupt header left empty.
        raise DecodeError(f"{p}: not a readable media file ({_decode_cause(exc)})") from exc
    if not info.has_video:
        raise DecodeError(f"{p}: no video stream")
    if not info.width or not info.height:
        raise DecodeError(f"{p}: video stream has no frame size (corrupt header?)")
    return info


def probe_audio_file(path: str | Path) -> None:
    """Check that a separate audio file (``--audio``) exists and has an audio stream.

    Raises:
        InputError: missing file; ``NoAudioError`` without an audio stream; ``DecodeError``
            when it cannot be read.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: audio file not found")
    if _is_empty(p):
        raise DecodeError(f"{p}: not a readable audio file: empty file (0 bytes)")
    try:
        with av.open(ffmpeg.file_url(p)) as container:
            if not container.streams.audio:
                raise NoAudioError(f"{p}: no audio stream")
    except av.FFmpegError as exc:
        raise DecodeError(f"{p}: not a readable audio file ({_decode_cause(exc)})") from exc


def _codec_name(stream: av.stream.Stream | None) -> str | None:
    """The stream's codec as ffprobe's ``codec_name`` names it (the codec descriptor's name:
    ``mp3``, ``av1``), not the decoder that reads it (``mp3float``, ``libdav1d``)."""
    if stream is None:
        return None
    name: str = stream.codec_context.codec.canonical_name
    return name


def _profile(stream: av.stream.Stream | None) -> str | None:
    """The codec profile a stream declares (``High``, ``LC``...), if any."""
    profile = getattr(stream.codec_context, "profile", None) if stream is not None else None
    return str(profile) if profile else None


def _bit_rate(stream: av.stream.Stream | None) -> int | None:
    """A stream's declared bit rate in bits/s (``None``: none declared)."""
    rate = stream.codec_context.bit_rate if stream is not None else None
    return int(rate) if rate else None


def _stream_duration(stream: av.stream.Stream | None) -> float | None:
    if stream is None or stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _is_empty(path: Path) -> bool:
    """A regular file of 0 bytes (FFmpeg would call it invalid data)."""
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def _decode_cause(exc: BaseException) -> str:
    """Why PyAV could not read a file, in words, for a message that already names the file as
    the user gave it: no errno and no ``file:`` URL with the absolute path (PyAV's ``str``
    carries both)."""
    if isinstance(exc, av.InvalidDataError):
        return "no audio or video format recognised: damaged, or not a media file"
    if isinstance(exc, av.FFmpegError | OSError) and exc.strerror:
        text = str(exc.strerror).strip()
        return text[:1].lower() + text[1:]
    return _short(exc)


class JpegSplitter:
    """Splits a concatenated stream of baseline JPEGs (as the mjpeg encoder writes) into images.

    Walks marker segments by their lengths and scans only entropy-coded data for the EOI marker,
    so table bytes that happen to read 0xFFD9 cannot end an image early.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # parse position inside the current image
        self._in_scan = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        images: list[bytes] = []
        while True:
            end = self._find_end()
            if end is None:
                return images
            images.append(bytes(self._buf[:end]))
            del self._buf[:end]
            self._pos = 0
            self._in_scan = False

    def leftover(self) -> int:
        return len(self._buf)

    def _find_end(self) -> int | None:
        """End offset of the first complete image in the buffer, or ``None`` for more data."""
        buf = self._buf
        if self._pos == 0:
            if len(buf) < 2:
                return None
            if buf[0] != 0xFF or buf[1] != 0xD8:
                raise ValueError("stream does not start with a JPEG SOI marker")
            self._pos = 2
        while True:
            end = self._scan_step() if self._in_scan else self._segment_step()
            if end is not None:
                return None if end == _NEED_MORE else end

    def _scan_step(self) -> int | None:
        """In entropy-coded data: EOI gives the end; another marker ends the scan (``None``)."""
        buf = self._buf
        idx = buf.find(b"\xff", self._pos)
        # FF00 (stuffed byte), RSTn and fill bytes do not end entropy-coded data.
        while idx != -1 and idx + 1 < len(buf) and _is_scan_data(buf[idx + 1]):
            idx = buf.find(b"\xff", idx + 1)
        if idx == -1 or idx + 1 >= len(buf):
            self._pos = max(self._pos, len(buf) - 1)
            return _NEED_MORE
        if buf[idx + 1] == 0xD9:
            return idx + 2
        self._in_scan = False  # another marker segment after the scan
        self._pos = idx
        return None

    def _segment_step(self) -> int | None:
        """Skip one marker segment by its length; EOI gives the end; SOS starts a scan."""
        buf, pos = self._buf, self._pos
        if pos + 4 > len(buf):
            return _NEED_MORE
        if buf[pos] != 0xFF:
            raise ValueError("corrupt JPEG marker stream")
        marker = buf[pos + 1]
        if marker == 0xD9:
            return pos + 2
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        if pos + 2 + length > len(buf):
            return _NEED_MORE
        self._pos = pos + 2 + length
        if marker == 0xDA:
            self._in_scan = True
        return None


_NEED_MORE = -1


def _is_scan_data(byte: int) -> bool:
    return byte == 0x00 or 0xD0 <= byte <= 0xD7 or byte == 0xFF


def iter_jpegs(
    path: str | Path,
    qscale: str | None = None,
    *,
    fps: int | None = None,
    messages: list[str] | None = None,
) -> Generator[bytes, None, None]:
    """Every frame of ``path`` as ffmpeg's mjpeg encoder writes it (the reference's JPEG dump).

    Args:
        path: media file.
        qscale: fixed JPEG quality (``-qscale:v``) instead of the default rate control.
        fps: convert to this frame rate first (``-r``: frames dropped or repeated by their
            timestamps, as the pipeline's transcode does); ``None`` keeps the native rate.
        messages: receives the decoder's error messages of a run that succeeded (damage it
            concealed).

    Yields:
        One baseline JPEG per frame, in order.

    Raises:
        DecodeError: when ffmpeg fails on the file.
    """
    quality = ["-qscale:v", qscale] if qscale is not None else []
    rate = ["-r", str(fps)] if fps is not None else []
    args = [
        *ffmpeg.input_args(path),
        "-map",
        "0:v:0",
        *rate,
        *quality,
        "-threads",
        "1",
        "-f",
        "image2pipe",
        "-c:v",
        "mjpeg",
        "pipe:1",
    ]
    splitter = JpegSplitter()
    for data in ffmpeg.read_stream(args, source=path, messages=messages):
        yield from splitter.feed(data)


def iter_raw_frames(
    path: str | Path,
    width: int,
    height: int,
    *,
    fps: int | None = None,
    messages: list[str] | None = None,
) -> Generator[np.ndarray, None, None]:
    """Frames decoded by ffmpeg to BGR without a JPEG round trip (optionally at ``fps``).

    Args:
        path: media file.
        width: frame width of the video stream.
        height: frame height.
        fps: see :func:`iter_jpegs`.
        messages: see :func:`iter_jpegs`.

    Yields:
        (H, W, 3) uint8 BGR frames.
    """
    rate = ["-r", str(fps)] if fps is not None else []
    args = [
        *ffmpeg.input_args(path),
        "-map",
        "0:v:0",
        *rate,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "pipe:1",
    ]
    size = width * height * 3
    pending = bytearray()
    for data in ffmpeg.read_stream(args, source=path, messages=messages):
        pending += data
        while len(pending) >= size:
            yield np.frombuffer(bytes(pending[:size]), np.uint8).reshape(height, width, 3)
            del pending[:size]


def decode_jpeg(data: bytes, path: str | Path) -> np.ndarray:
    """One JPEG as ``cv2.imread`` decodes it: (H, W, 3) uint8 BGR.

    Raises:
        InputError: naming ``path`` (the video it came from) when the image does not decode.
    """
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DecodeError(f"{path}: a frame could not be decoded")
    return img


def chunked(frames: Iterable[np.ndarray], chunk_frames: int) -> Iterator[np.ndarray]:
    """Stack frames into (n, H, W, 3) chunks of at most ``chunk_frames`` and ``CHUNK_BYTES``."""
    batch: list[np.ndarray] = []
    for img in frames:
        batch.append(img)
        if len(batch) >= min(chunk_frames, max(1, CHUNK_BYTES // img.nbytes)):
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def decode_jpegs(
    jpegs: Generator[bytes, None, None], path: str | Path, chunk_frames: int
) -> Iterator[np.ndarray]:
    """Decode a JPEG stream (of the video ``path``) into ``chunked`` frames; closes ``jpegs``."""
    try:
        yield from chunked((decode_jpeg(j, path) for j in jpegs), chunk_frames)
    finally:
        jpegs.close()  # stops its ffmpeg or closes its file when the consumer stops early


def _iter_pyav(path: Path, chunk_frames: int) -> Iterator[np.ndarray]:
    try:
        with av.open(ffmpeg.file_url(path)) as container:
            if not container.streams.video:  # an audio-only file
                raise DecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            # Slice threads only: frame threading conceals damage differently from run to run.
            stream.thread_type = "SLICE"
            frames = (f.to_ndarray(format="bgr24") for f in container.decode(stream))
            yield from chunked(frames, chunk_frames)
    except av.FFmpegError as exc:
        raise DecodeError(f"{path}: video decode failed ({_decode_cause(exc)})") from exc


def iter_frames(
    path: str | Path,
    *,
    jpeg_roundtrip: bool = True,
    chunk_frames: int = 64,
    qscale: str | None = None,
    fps: int | None = None,
    messages: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """Decode video frames, in chunks.

    Args:
        path: media file.
        jpeg_roundtrip: pass every frame through ffmpeg's default-quality JPEG and libjpeg-turbo,
            as the reference does (needed for the reference's numbers).
        chunk_frames: most frames per yielded chunk; chunks also stay under ``CHUNK_BYTES``.
        qscale: fixed JPEG quality (``-qscale:v``) instead of the default rate control, as the
            full pipeline's q2 dump uses; only with ``jpeg_roundtrip``.
        fps: convert to this frame rate (``None``: the native rate, as the reference).
        messages: receives the errors ffmpeg's decoder reported and concealed (not collected
            without the round trip and without ``fps``, where PyAV decodes).

    Yields:
        (n, H, W, 3) uint8 BGR chunks, n <= chunk_frames.

    Raises:
        InputError: when the decoder fails.
        DependencyError: when the round trip needs ffmpeg and none is installed.
    """
    p = Path(path)
    if jpeg_roundtrip:
        jpegs = iter_jpegs(p, qscale, fps=fps, messages=messages)
        yield from decode_jpegs(jpegs, p, chunk_frames)
    elif fps is not None:
        info = probe_media(p)
        assert info.width is not None and info.height is not None  # probe_media checks it
        yield from chunked(
            iter_raw_frames(p, info.width, info.height, fps=fps, messages=messages), chunk_frames
        )
    else:
        yield from _iter_pyav(p, chunk_frames)


def read_audio(
    path: str | Path, *, async_resample: bool = True, messages: list[str] | None = None
) -> np.ndarray:
    """Decode the first audio stream as 16 kHz mono int16, with ffmpeg's default resampler.

    Args:
        path: media file.
        async_resample: ``-async 1`` as the reference's ``evaluate`` (pads/trims the start so the
            audio begins at t=0); the full pipeline's second extraction runs without it.
        messages: receives the errors the decoder reported in a run that succeeded.

    Returns:
        (L,) int16 samples.

    Raises:
        NoAudioError: if there is no audio stream.
        DecodeError: when ffmpeg fails.
    """
    args = ffmpeg.input_args(path)
    if async_resample:
        args += ["-async", "1"]
    args += [
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-vn",
        "-acodec",
        "pcm_s16le",
        "-ar",
        str(SAMPLE_RATE_HZ),
        "-f",
        "s16le",
        "pipe:1",
    ]
    done = ffmpeg.run(args)
    if done.returncode != 0 and b"matches no streams" in done.stderr:
        raise NoAudioError(f"{path}: no audio stream")
    data = done.check(path)
    if messages is not None:
        messages.extend(ffmpeg.message_lines(done.stderr))
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def transcode_reference_avi(
    src: Path, dst: Path, audio_path: Path | None = None, messages: list[str] | None = None
) -> None:
    """``ffmpeg -i INPUT -qscale:v 2 -async 1 -r 25 video.avi`` (AVI defaults: mpeg4 + MP3).

    The in-the-wild recipe's first step (spec 1.2), lossy encodes and timing quirks included.

    Args:
        src: the user's video.
        dst: the ``.avi`` to write.
        audio_path: take the audio from this file instead of ``src``.
        messages: receives the errors the decoders reported in a run that succeeded.

    Raises:
        DecodeError: when ffmpeg fails.
    """
    args = ffmpeg.input_args(src)
    if audio_path is not None:
        args += [*ffmpeg.input_args(audio_path), "-map", "0:v:0", "-map", "1:a:0"]
    args += [
        "-qscale:v",
        REFERENCE_QSCALE,
        "-async",
        "1",
        "-r",
        str(FPS),
        "-threads",
        TRANSCODE_THREADS,
        str(dst),
    ]
    done = ffmpeg.run(args)
    done.check(src, "transcode it to 25 fps")
    if messages is not None:
        messages.extend(ffmpeg.message_lines(done.stderr))


class JpegCache:
    """A JPEG stream kept once in a file (as the reference's frame files), to be read again.

    The pipeline's detection pass records the q2 dump while it reads ffmpeg's stream; the crop
    pass then replays it instead of decoding and re-encoding the transcode a second time.

    Args:
        path: the file to keep the JPEGs in (inside a temporary directory).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ends: list[int] = []
        self.complete = False

    def record(self, jpegs: Iterable[bytes]) -> Generator[bytes, None, None]:
        """Pass ``jpegs`` through, appending each to the cache; complete once exhausted."""
        with open(self.path, "wb") as f:
            pos = 0
            for jpeg in jpegs:
                f.write(jpeg)
                pos += len(jpeg)
                self._ends.append(pos)
                yield jpeg
        self.complete = True

    def replay(self) -> Generator[bytes, None, None]:
        """The recorded JPEGs, in order (only once :meth:`record` has run to the end)."""
        if not self.complete:
            raise RuntimeError(f"{self.path}: the JPEG cache was not recorded to its end")
        with open(self.path, "rb") as f:
            start = 0
            for end in self._ends:
                yield f.read(end - start)
                start = end


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` in a background thread, at most ``depth`` ahead of the consumer.

    Decoding (ffmpeg in its own process, libjpeg-turbo and cv2 releasing the GIL) then overlaps
    with model inference instead of alternating with it; the bounded queue bounds memory.
    Exceptions of the producer re-raise in the consumer; closing the consumer stops the producer.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(items, q, stop), name="syncnet-eval-prefetch", daemon=True
    )
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def _produce(items: Iterable[Any], q: queue.Queue[Any], stop: threading.Event) -> None:
    """The producer of :func:`prefetch`: queue every item, then ``_DONE`` or the exception."""
    it = iter(items)
    try:
        for item in it:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                break
        q.put(_DONE)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
        q.put(exc)
    finally:
        close = getattr(it, "close", None)
        if close is not None and stop.is_set():
            close()
