"""Shared fixtures: synthetic talking-face clips (PyAV) and the shared test media/weights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
import json
import math
from pathlib import Path
import shutil
import subprocess
import tempfile
from typing import Any

import av
import cv2
import numpy as np
import pytest

# ../shared beside the project root (CI has it too): media, goldens and weights. Resolved here
# once; the tests import these names.
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
MEDIA_DIR = SHARED_DIR / "media"
REFERENCE_DIR = SHARED_DIR / "reference"
DETECTIONS_DIR = REFERENCE_DIR / "detections"
TEST_WEIGHTS_DIR = SHARED_DIR / "weights" / "test"
PARITY_SYNCNET_WEIGHTS = TEST_WEIGHTS_DIR / "syncnet_parity_test.model"
PARITY_S3FD_WEIGHTS = TEST_WEIGHTS_DIR / "sfd_parity_test.pth"
ASD_WEIGHTS_DIR = SHARED_DIR / "weights" / "asd"


def _official_syncnet_available() -> bool:
    """Whether the official syncnet_v2.model is where the tool looks (never downloaded here)."""
    from syncnet_eval.models import weights as wm

    return wm.find_weights("syncnet") is not None


OFFICIAL_SYNCNET_AVAILABLE = _official_syncnet_available()


def many_clips(folder: Path, clips: list[Path], copies: int) -> Path:
    """``copies`` distinct files (copies, not links) of the clips in ``folder``, named
    ``clip00.mp4``..."""
    import shutil

    folder.mkdir(exist_ok=True)
    for k in range(copies):
        shutil.copy2(clips[k % len(clips)], folder / f"clip{k:02d}.mp4")
    return folder


def signal_a_run(cmd: list[str], log_path: Path, signum: int) -> tuple[int, str]:
    """Start ``cmd`` (a scoring run writing ``log_path``), send it ``signum`` once its log
    holds a record (the run must still be going), and return its exit status and stderr."""
    import signal
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "syncnet_eval", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300  # a bound on waiting, not a timed assertion
        while time.monotonic() < deadline and proc.poll() is None:
            if log_path.exists() and log_path.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be stopped"
        proc.send_signal(signal.Signals(signum))
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr


def invoke_cli(args: list[str], env: dict[str, str] | None = None) -> Any:
    """Run the CLI in-process; whatever it does, no traceback and no exception but its exit."""
    from click.testing import CliRunner

    from syncnet_eval.cli import cli

    result = CliRunner().invoke(cli, args, env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# ----------------------------------------------------------------------------- synthetic clips

_SYNTH_AUDIO_HZ = 16000
_FACE_AXES_PX = (60, 75)  # ellipse half axes: a 121 x 151 px box, above --min-face-size 100
_PIPELINE_FPS = 25  # the pipeline recipe's stream; injected boxes index it


@dataclass(frozen=True)
class SynthFace:
    """One drawn face: an ellipse centred at (cx, cy), present on source frames [start, stop)."""

    cx: int
    cy: int
    start: int = 0
    stop: int | None = None
    talking: bool = True  # a mouth that opens and closes; False keeps it still


@dataclass(frozen=True)
class SynthClip:
    """A generated clip and the face boxes drawn in it.

    Attributes:
        path: the video file (H.264 + AAC tone, mp4).
        fps: source frame rate.
        num_source_frames: frames written.
        boxes: per frame of the 25 fps stream the pipeline recipe scores, a (K, 5) float64
            array of [x1, y1, x2, y2, score] (score 0.99), i.e. ``--detections`` input.
        scene_cuts: source frames where the background switches (hard cuts).
    """

    path: Path
    fps: float
    num_source_frames: int
    boxes: list[np.ndarray]
    scene_cuts: tuple[int, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.num_source_frames / self.fps


def _background(size: tuple[int, int], seed: int, tint: tuple[int, int, int]) -> np.ndarray:
    """Smooth (compressible) colour noise, one per scene."""
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.add(image // 2, np.full_like(image, tint))


def _face_centre(face: SynthFace, t_s: float) -> tuple[int, int]:
    """Small horizontal sway (a few px), so crops move but IoU between frames stays high."""
    return int(round(face.cx + 4 * np.sin(2 * np.pi * 0.5 * t_s))), face.cy


def _face_present(face: SynthFace, index: int) -> bool:
    return index >= face.start and (face.stop is None or index < face.stop)


def write_synth_clip(
    path: Path,
    *,
    num_frames: int,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    faces: tuple[SynthFace, ...] = (SynthFace(160, 120),),
    scene_cuts: tuple[int, ...] = (),
    seed: int = 0,
    codec: str = "libx264",
) -> SynthClip:
    """Write a clip of ellipse "faces" on smooth noise with an amplitude-modulated tone.

    Args:
        path: output .mp4 (or .avi/.mkv) path.
        num_frames: source frames.
        fps: source frame rate (integer).
        size: (width, height) px.
        faces: faces to draw; ``start``/``stop`` count source frames.
        scene_cuts: source frames where the background changes to another noise and tint.
        seed: background noise seed.
        codec: PyAV video encoder (``libx264`` or ``mpeg4``).

    Returns:
        The :class:`SynthClip`, with the boxes resampled onto the 25 fps stream.
    """
    tints = [(70, 20, 0), (0, 50, 100), (40, 90, 20)]
    backgrounds = [
        _background(size, seed * 100 + k, tints[k % len(tints)]) for k in range(len(scene_cuts) + 1)
    ]
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if codec == "libx264":
            video.options = {"crf": "18", "preset": "ultrafast"}
        else:
            video.options = {"qscale": "3"}
        audio = container.add_stream("aac", rate=_SYNTH_AUDIO_HZ, layout="mono")
        for i in range(num_frames):
            image = backgrounds[sum(i >= c for c in scene_cuts)].copy()
            _draw_faces(image, faces, i, fps)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)

        n_samples = int(round(num_frames / fps * _SYNTH_AUDIO_HZ))
        t = np.arange(n_samples) / _SYNTH_AUDIO_HZ
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # in step with the talking mouth
        tone = (0.3 * envelope * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        step = 1024
        for start in range(0, n_samples, step):
            chunk = np.ascontiguousarray(tone[None, start : start + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = _SYNTH_AUDIO_HZ
            frame.pts = start
            frame.time_base = Fraction(1, _SYNTH_AUDIO_HZ)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)

    boxes = _fit_to_dump(path, _pipeline_boxes(faces, num_frames, fps))
    return SynthClip(path, float(fps), num_frames, boxes, tuple(scene_cuts))


def _fit_to_dump(path: Path, boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes for every frame of the pipeline's q2 dump, which can hold a frame or two more
    than the source (REFERENCE_PIPELINE.md 1.2): the last frame's boxes are repeated."""
    from syncnet_eval.decode import REFERENCE_QSCALE, iter_jpegs, transcode_reference_avi

    with tempfile.TemporaryDirectory() as tmp:
        avi = Path(tmp) / "video.avi"
        transcode_reference_avi(path, avi)
        dumped = sum(1 for _ in iter_jpegs(avi, REFERENCE_QSCALE))
    return (boxes + [boxes[-1]] * dumped)[:dumped] if boxes else boxes


def _draw_faces(image: np.ndarray, faces: tuple[SynthFace, ...], index: int, fps: int) -> None:
    """Draw the faces present on source frame ``index`` (mouths move with the tone's envelope)."""
    t_s = index / fps
    for face in faces:
        if not _face_present(face, index):
            continue
        centre = _face_centre(face, t_s)
        cv2.ellipse(image, centre, _FACE_AXES_PX, 0, 0, 360, (150, 185, 225), -1)
        for dx in (-25, 25):
            cv2.circle(image, (centre[0] + dx, centre[1] - 20), 8, (60, 40, 30), -1)
        opening = 10 + 8 * np.sin(2 * np.pi * 3 * t_s) if face.talking else 4
        mouth = (centre[0], centre[1] + 35)
        cv2.ellipse(image, mouth, (24, int(opening)), 0, 0, 360, (40, 30, 140), -1)


def _pipeline_boxes(faces: tuple[SynthFace, ...], num_frames: int, fps: int) -> list[np.ndarray]:
    """The drawn boxes per frame of the 25 fps stream the pipeline recipe scores."""
    boxes = []
    for j in range(int(round(num_frames / fps * _PIPELINE_FPS))):
        i = min(int(j * fps / _PIPELINE_FPS + 1e-9), num_frames - 1)  # nearest earlier source frame
        rows = []
        for face in faces:
            if _face_present(face, i):
                cx, cy = _face_centre(face, i / fps)
                ax, ay = _FACE_AXES_PX
                rows.append([cx - ax, cy - ay, cx + ax, cy + ay, 0.99])
        boxes.append(np.array(rows, dtype=np.float64).reshape(-1, 5))
    return boxes


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synth_media")


@pytest.fixture(scope="session")
def synth_cut_clip(synth_dir: Path) -> SynthClip:
    """60 frames (2.4 s, 25 fps) of one talking face with a hard cut at frame 30."""
    return write_synth_clip(synth_dir / "cut.mp4", num_frames=60, scene_cuts=(30,))


@pytest.fixture(scope="session")
def synth_two_face_clip(synth_dir: Path) -> SynthClip:
    """40 frames, 480x240: a talking face on every frame, a still one on frames 0-27 only."""
    return write_synth_clip(
        synth_dir / "two_faces.mp4",
        num_frames=40,
        size=(480, 240),
        faces=(SynthFace(110, 120), SynthFace(370, 120, stop=28, talking=False)),
        seed=1,
    )


@pytest.fixture(scope="session")
def synth_short_clip(synth_dir: Path) -> SynthClip:
    """A 3 s (75 frame) clip with a face on every frame: shorter than the default min_track."""
    return write_synth_clip(synth_dir / "short3s.mp4", num_frames=75, seed=2)


@pytest.fixture(scope="session")
def synth_30fps_clip(synth_dir: Path) -> SynthClip:
    """2 s at 30 fps (60 frames; 50 once converted to 25 fps), mpeg4 video, one face."""
    return write_synth_clip(synth_dir / "fps30.mp4", num_frames=60, fps=30, seed=3, codec="mpeg4")


@pytest.fixture(scope="session")
def synth_noise_clip(synth_dir: Path) -> SynthClip:
    """50 frames of smooth noise and a tone: nothing a face detector should fire on."""
    return write_synth_clip(synth_dir / "noise.mp4", num_frames=50, faces=(), seed=4)


@pytest.fixture(scope="session")
def syncnet_parity_weights() -> Path:
    """The random-init SyncNet parity-test weights (plumbing tests; skipped when absent)."""
    path = PARITY_SYNCNET_WEIGHTS
    if not path.is_file():
        pytest.skip(f"SyncNet parity-test weights not found at {path}")
    return path


@pytest.fixture(scope="session")
def hdtf_short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 3.2 s (80 frames) of hdtf_WDA_KatieHill_000.mp4, stream-copied (real frames)."""
    src = MEDIA_DIR / "hdtf_WDA_KatieHill_000.mp4"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    dst = tmp_path_factory.mktemp("hdtf") / "hdtf_KatieHill_3s.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-t",
            "3.2",
            "-c",
            "copy",
            str(dst),
        ],
        check=True,
        capture_output=True,
    )
    return dst


# ------------------------------------------------------- batch, check and CLI tests (224x224)

BATCH_CLIP_FRAMES = 25  # 1 s at 25 fps: about 1.5 s to score with --recipe direct on 2 cores


@pytest.fixture(scope="session")
def batch_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four 1 s 224x224 25 fps talking-face clips with audio (direct recipe, no resizing)."""
    directory = tmp_path_factory.mktemp("batch_clips")
    return [
        write_synth_clip(
            directory / f"clip{k}.mp4",
            num_frames=BATCH_CLIP_FRAMES,
            size=(224, 224),
            faces=(SynthFace(112, 112),),
            seed=20 + k,
        ).path
        for k in range(4)
    ]


@pytest.fixture(scope="session")
def batch_short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-frame (0.48 s) 224x224 clip with audio: the source of the corrupted-file corpus."""
    path = tmp_path_factory.mktemp("batch_short") / "short.mp4"
    return write_synth_clip(
        path, num_frames=12, size=(224, 224), faces=(SynthFace(112, 112),), seed=30
    ).path


# ------------------------------------------------------------------ comparing result records

# Records of the same input scored by different processes (thread counts, workers, engines) are
# the same computation, but float sums may be ordered differently: equal to this relative error.
RECORD_RTOL = 1e-6


def assert_same_records(
    got: Any, want: Any, path: str = "record", ignore: tuple[str, ...] = ("timings_s",)
) -> None:
    """Equal JSON-like structures, floats to ``RECORD_RTOL``; keys in ``ignore`` are skipped."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not an object"
        keys = set(want) - set(ignore)
        assert set(got) - set(ignore) == keys, f"{path}: keys differ"
        for key in keys:
            assert_same_records(got[key], want[key], f"{path}.{key}", ignore)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_records(g, w, f"{path}[{i}]", ignore)
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        assert math.isclose(got, want, rel_tol=RECORD_RTOL, abs_tol=1e-9), (
            f"{path}: {got} != {want}"
        )
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


# ------------------------------------------------------ records with curves (report, plots)


def scored_result(
    path: str,
    *,
    offset: int = 0,
    lse_d: float = 7.0,
    slope: float = 0.5,
    num_windows: int = 120,
    tracks: int = 1,
    first_frame: int = 0,
    vshift: int = 15,
    **extra: Any,
) -> Any:
    """An ``ok`` record whose tracks carry a V-shaped distance curve with its minimum ``lse_d``
    at ``offset`` (so LSE-C is the curve's median minus ``lse_d``) and a wavy per-window
    confidence around it, as the direct recipe writes them (25 fps windows)."""
    from syncnet_eval.types import TrackResult, VideoResult

    made = []
    for n in range(tracks):
        d = lse_d + 0.2 * n
        curve = [d + slope * abs(k - (vshift - offset)) for k in range(2 * vshift + 1)]
        lse_c = sorted(curve)[vshift] - d
        first = first_frame + 10 * n
        conf = [lse_c + math.sin(i / 7.0) for i in range(num_windows)]
        made.append(
            TrackResult(
                index=n,
                first_frame=first,
                last_frame=first + num_windows + 4,
                av_offset=offset,
                lse_d=d,
                lse_c=lse_c,
                num_windows=num_windows,
                dist_by_shift=curve,
                framewise_conf=conf,
                start_s=first / 25,
                end_s=(first + num_windows + 5) / 25,
                framewise_time_s=[(first + i) / 25 for i in range(num_windows)],
            )
        )
    main = made[0]
    return VideoResult(
        path=path,
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=offset,
        lse_d=main.lse_d,
        lse_c=main.lse_c,
        aggregate="best",
        tracks=made,
        av_offset_ms=offset * 40.0,
        selected_track=0,
        **extra,
    )


# ------------------------------------------------------------- pages in a real browser (report)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium with nothing that phones home, logging console and network events."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="syncnet-eval-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get("about:blank")  # the start-up pages' events are not the report's
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, page: Path) -> None:
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get_log("browser")
    driver.get(page.as_uri())


def page_requests(driver: Any) -> list[str]:
    """URLs asked for since the last call (DevTools Network events), without their fragments
    (opening a video sets ``#v=N``, which fetches nothing) and without the browser's own pages
    (``chrome:``, ``about:``; a ``file:`` page cannot load them) and ``data:`` URLs."""
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    urls = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    internal = ("chrome:", "chrome-untrusted:", "devtools:", "about:", "data:")
    return [u.split("#")[0] for u in urls if not u.startswith(internal)]


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


ARCFACE_REFERENCE = Path(__file__).resolve().parent / "data" / "arcface_reference.json"
_ARCFACE_RECORDER = Path(__file__).resolve().parents[1] / "scripts" / "record_arcface_reference.py"


@pytest.fixture(scope="session")
def arcface_recipe() -> Any:
    """scripts/record_arcface_reference.py as a module: the seeded-weight, crop, frame and
    point recipes the recorded reference was made with (one copy, so the two cannot drift)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("record_arcface_reference", _ARCFACE_RECORDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def arcface_reference() -> dict[str, Any]:
    """insightface's recorded outputs (tests/data/arcface_reference.json)."""
    data: dict[str, Any] = json.loads(ARCFACE_REFERENCE.read_text(encoding="utf-8"))
    return data
