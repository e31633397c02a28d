"""Decoding: the JPEG stream splitter, probing errors, audio and the round trip itself."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from syncnet_eval.decode import JpegSplitter, iter_frames, probe_media, read_audio
from syncnet_eval.errors import InputError

from conftest import MEDIA_DIR

MEDIA = MEDIA_DIR


def _jpeg(value: int, quality: int = 90) -> bytes:
    img = np.full((16, 16, 3), value, np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def test_splitter_cuts_concatenated_jpegs_fed_in_odd_pieces() -> None:
    images = [_jpeg(v) for v in (0, 100, 200, 255)]
    stream = b"".join(images)
    splitter = JpegSplitter()
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += splitter.feed(stream[i : i + 7])
    assert out == images
    assert splitter.leftover() == 0


def test_splitter_ignores_eoi_bytes_inside_marker_segments() -> None:
    img = _jpeg(50)
    # A COM segment holding FF D9 right after SOI must not end the image.
    com = b"\xff\xfe\x00\x06\xff\xd9\xff\xd8"
    tricky = img[:2] + com + img[2:]
    assert JpegSplitter().feed(tricky + img) == [tricky, img]


def test_probe_reports_streams() -> None:
    info = probe_media(MEDIA / "syncnet_example.avi")
    assert (info.width, info.height, info.fps) == (224, 224, 25.0)
    assert info.has_audio and info.audio_rate_hz == 16000


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (None, "error", "file not found"),
        (b"", "decode_error", "not a readable media file"),
        (b"hello, this is text\n" * 50, "decode_error", "not a readable media file"),
    ],
)
def test_probe_errors_name_file_and_cause(
    tmp_path: Path, content: bytes | None, status: str, needle: str
) -> None:
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        probe_media(path)
    assert err.value.status == status
    assert str(path) in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_directory_is_not_a_media_file(tmp_path: Path) -> None:
    d = tmp_path / "looks_like.mp4"
    d.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        probe_media(d)


def test_roundtrip_frames_differ_from_direct_decode_but_stay_close() -> None:
    # The reference's JPEG round trip changes pixels (that is why we reproduce it).
    rt = next(iter_frames(MEDIA / "syncnet_example.avi", jpeg_roundtrip=True, chunk_frames=8))
    raw = next(iter_frames(MEDIA / "syncnet_example.avi", jpeg_roundtrip=False, chunk_frames=8))
    assert rt.shape == raw.shape == (8, 224, 224, 3)
    diff = np.abs(rt.astype(int) - raw.astype(int))
    assert 0 < diff.mean() < 5


def test_audio_is_16k_mono_int16() -> None:
    audio = read_audio(MEDIA / "syncnet_example.avi")
    assert audio.dtype == np.int16 and audio.shape == (202880,)
