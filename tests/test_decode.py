"""Decoding: the JPEG stream splitter, probing errors, audio and the round trip itself."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

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
        (b"", "decode_error", "not a readable media file: empty file"),
        (b"hello, this is text\n" * 50, "decode_error", "damaged, or not a media file"),
        (
            MEDIA.joinpath("syncnet_example_h264.mp4").read_bytes()[:5000],
            "decode_error",
            "damaged, or not a media file",
        ),
    ],
    ids=["missing", "empty", "text", "truncated"],
)
def test_probe_errors_name_file_as_given_and_cause_in_words(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: bytes | None,
    status: str,
    needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path("clip.mp4")  # relative, as typed
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        probe_media(path)
    message = str(err.value)
    assert err.value.status == status
    assert message.startswith("clip.mp4: ") and needle in message, message
    assert str(tmp_path) not in message  # no absolute path, no file: URL
    assert "Errno" not in message and "file:/" not in message
    assert "\n" not in message


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


def _video_packets_md5(avi: Path) -> str:
    out = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(avi),
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "md5",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
def test_the_25fps_transcode_does_not_depend_on_the_number_of_cores(tmp_path: Path) -> None:
    # ffmpeg's mpeg4 encoder cuts frames into one slice per thread, and its default thread
    # count follows the cores: unpinned, a 1-core and a 2-core run write different AVIs (and
    # the full pipeline's numbers move by ~1e-3; scripts/studies/study_transcode_threads.py).
    src = MEDIA / "hdtf_WDA_KatieHill_000.mp4"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    code = (
        "import sys; from pathlib import Path; "
        "from syncnet_eval.decode import transcode_reference_avi; "
        "transcode_reference_avi(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    md5s = []
    for cpus in ("0", "0-1"):
        avi = tmp_path / f"cpus{cpus}.avi"
        subprocess.run(
            ["taskset", "-c", cpus, sys.executable, "-c", code, str(src), str(avi)],
            check=True,
            capture_output=True,
        )
        md5s.append(_video_packets_md5(avi))
    assert md5s[0] == md5s[1]
