"""Face detectors: S3FD parity with the reference network, strict loading, batching, dlib HOG."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import shutil
import subprocess

import cv2
import numpy as np
import pytest
import torch

from syncnet_eval.errors import ConfigError, DependencyError, ModelWeightsError
from syncnet_eval.faces import FaceDetector, get_detector
from syncnet_eval.faces.s3fd import (
    S3FDDetector,
    S3FDNet,
    load_s3fd_state,
    preprocess_frames,
)

from conftest import DETECTIONS_DIR, MEDIA_DIR, PARITY_S3FD_WEIGHTS, REFERENCE_DIR, SHARED_DIR

SHARED = SHARED_DIR
PARITY_JSON = REFERENCE_DIR / "s3fd_parity.json"
S3FD_TEST_WEIGHTS = PARITY_S3FD_WEIGHTS
KATIE = MEDIA_DIR / "hdtf_WDA_KatieHill_000.mp4"
SYNCNET_EXAMPLE = MEDIA_DIR / "syncnet_example.avi"
DETECTIONS = DETECTIONS_DIR

RAW_ATOL = 1e-4  # first 20 face-class rows of the raw detection tensor
BOX_ATOL_PX = 0.01  # detect_faces boxes in pixels
SCORE_ATOL = 1e-4

needs_s3fd_data = pytest.mark.skipif(
    not (PARITY_JSON.is_file() and S3FD_TEST_WEIGHTS.is_file()),
    reason=f"S3FD parity data not found under {SHARED}",
)


def _parity_frames() -> list[dict]:
    if not PARITY_JSON.is_file():
        return []
    return json.loads(PARITY_JSON.read_text())["frames"]


def _read_png(entry: dict) -> np.ndarray:
    path = SHARED / entry["png"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["png_sha256"]
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def _first_frame(path: Path, index: int = 0) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, frame = cap.read()
            assert ok, f"cannot decode frame {index} of {path}"
    finally:
        cap.release()
    return frame


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def s3fd_state() -> dict[str, torch.Tensor]:
    return torch.load(S3FD_TEST_WEIGHTS, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def s3fd_net(s3fd_state: dict[str, torch.Tensor]) -> S3FDNet:
    net = S3FDNet()
    load_s3fd_state(net, s3fd_state, str(S3FD_TEST_WEIGHTS))
    return net.eval()


# --- S3FD -----------------------------------------------------------------------------------


@needs_s3fd_data
def test_state_dict_keys_match_sfd_face(s3fd_state: dict[str, torch.Tensor]) -> None:
    net_state = S3FDNet().state_dict()
    assert len(s3fd_state) == 65
    assert set(net_state) == set(s3fd_state)
    for key, value in s3fd_state.items():
        assert tuple(net_state[key].shape) == tuple(value.shape), key


@needs_s3fd_data
@pytest.mark.parametrize(
    "entry", _parity_frames(), ids=[Path(e["png"]).stem for e in _parity_frames()]
)
def test_s3fd_parity(entry: dict, s3fd_net: S3FDNet) -> None:
    frame = _read_png(entry)
    scale = entry["detect_faces_scale"]
    batch = preprocess_frames(frame[None], scale)
    assert list(batch.shape[2:]) == entry["network_input_hw"]

    detector = S3FDDetector(
        s3fd_net, facedet_scale=scale, conf_threshold=entry["detect_faces_conf_th"]
    )
    raw = detector.raw_detections(frame[None])
    assert list(raw.shape) == entry["detect_output_shape"]
    expected_rows = np.array(entry["top20_face_class_rows_score_x1_y1_x2_y2_normalised"])
    np.testing.assert_allclose(raw[0, 1, :20].numpy(), expected_rows, rtol=0, atol=RAW_ATOL)
    assert not raw[0, 0].any()  # background class stays empty, as in the reference

    (boxes,) = detector.detect(frame[None])
    expected = np.array(entry["detect_faces_boxes_x1_y1_x2_y2_score"])
    assert boxes.dtype == np.float64
    assert boxes.shape == expected.shape
    np.testing.assert_allclose(boxes[:, :4], expected[:, :4], rtol=0, atol=BOX_ATOL_PX)
    np.testing.assert_allclose(boxes[:, 4], expected[:, 4], rtol=0, atol=SCORE_ATOL)


@needs_s3fd_data
def test_s3fd_default_threshold_finds_nothing_with_parity_weights(s3fd_net: S3FDNet) -> None:
    # The parity-test weights are random: nothing clears 0.9 (why the goldens used HOG).
    frame = _read_png(_parity_frames()[0])
    (boxes,) = S3FDDetector(s3fd_net).detect(frame[None])
    assert boxes.shape == (0, 5)
    assert boxes.dtype == np.float64


@needs_s3fd_data
def test_missing_key_is_refused_by_name(s3fd_state: dict[str, torch.Tensor]) -> None:
    state = dict(s3fd_state)
    del state["conf.5.bias"]
    with pytest.raises(ModelWeightsError, match=r"missing keys: conf\.5\.bias"):
        S3FDDetector.from_state_dict(state, source="broken.pth")


def test_unexpected_and_misshaped_keys_are_refused() -> None:
    state = S3FDNet().state_dict()
    state["vgg.35.weight"] = torch.zeros(1)
    state["loc.0.weight"] = torch.zeros(8, 256, 3, 3)
    with pytest.raises(ModelWeightsError) as info:
        load_s3fd_state(S3FDNet(), state, "odd.pth")
    message = str(info.value)
    assert "odd.pth" in message
    assert "unexpected keys: vgg.35.weight" in message
    assert "loc.0.weight (8, 256, 3, 3) (expected (4, 256, 3, 3))" in message


def test_get_detector_refuses_weights_file_with_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "partial.pth"
    torch.save({"vgg.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(ModelWeightsError, match=r"partial\.pth.*missing keys:.*L2Norm3_3\.weight"):
        get_detector("s3fd", weights=path)


@needs_s3fd_data
def test_batched_equals_single_frame(s3fd_net: S3FDNet) -> None:
    frame = _read_png(_parity_frames()[0])[:320, 192:]
    frames = np.stack([frame, frame[:, ::-1], np.roll(frame, 37, axis=0)])
    batched = S3FDDetector(s3fd_net, conf_threshold=0.55, batch_size=3)
    single = S3FDDetector(s3fd_net, conf_threshold=0.55, batch_size=1)
    got = batched.detect(frames)
    want = [single.detect(f[None])[0] for f in frames]
    assert len(got) == len(frames)
    assert sum(len(b) for b in want) > 0
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-4)
    raw_batched = batched.raw_detections(frames[:2])
    raw_single = torch.cat([single.raw_detections(f[None]) for f in frames[:2]])
    torch.testing.assert_close(raw_batched, raw_single, rtol=0, atol=1e-5)


def test_tiny_frames_give_no_faces() -> None:
    detector = S3FDDetector(S3FDNet(), batch_size=2)
    boxes = detector.detect(np.zeros((3, 64, 64, 3), np.uint8))
    assert [b.shape for b in boxes] == [(0, 5)] * 3
    assert detector.detect(np.zeros((0, 224, 224, 3), np.uint8)) == []


def test_bad_input_and_settings_are_refused() -> None:
    detector = S3FDDetector(S3FDNet())
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError, match="BGR frame batch"):
        detector.detect(np.zeros((224, 224, 3), np.uint8))
    with pytest.raises(ConfigError):
        S3FDDetector(S3FDNet(), batch_size=0)
    with pytest.raises(ConfigError):
        S3FDDetector(S3FDNet(), facedet_scale=0)
    with pytest.raises(ConfigError, match="unknown face detector"):
        get_detector("mtcnn")


@needs_s3fd_data
def test_get_detector_s3fd_with_explicit_weights() -> None:
    detector = get_detector("s3fd", weights=S3FD_TEST_WEIGHTS, batch_size=4)
    assert isinstance(detector, FaceDetector)
    assert isinstance(detector, S3FDDetector)
    assert detector.name == "s3fd"
    assert detector.batch_size == 4
    assert not detector.net.training


# --- HOG ------------------------------------------------------------------------------------

try:
    import dlib  # noqa: F401

    HAVE_DLIB = True
except ImportError:
    HAVE_DLIB = False
needs_dlib = pytest.mark.skipif(not HAVE_DLIB, reason="dlib not installed (pip install dlib-bin)")


@pytest.fixture(scope="module")
def hog() -> FaceDetector:
    return get_detector("hog")


@needs_dlib
@pytest.mark.skipif(not KATIE.is_file(), reason=f"{KATIE} not found")
def test_hog_finds_a_face_and_not_in_a_blank_frame(hog: FaceDetector) -> None:
    assert hog.name == "hog"
    frame = _first_frame(KATIE)
    face, blank = hog.detect(np.stack([frame, np.zeros_like(frame)]))
    assert face.shape[0] >= 1
    assert face.dtype == np.float64
    x1, y1, x2, y2, score = face[0]
    assert 0 <= x1 < x2 <= frame.shape[1] and 0 <= y1 < y2 <= frame.shape[0]
    assert x2 - x1 > 100 and score > 0
    # Golden frame 0 of the reference's 25 fps JPEG dump (the same source frame, re-encoded).
    golden = json.loads((DETECTIONS / "hdtf_WDA_KatieHill_000.json").read_text())["frames"][0]
    np.testing.assert_allclose(face[0, :4], golden[0][:4], atol=8)
    assert blank.shape == (0, 5)


@needs_dlib
@pytest.mark.skipif(not KATIE.is_file(), reason=f"{KATIE} not found")
def test_hog_halves_wide_frames_and_scales_boxes_back(hog: FaceDetector) -> None:
    frame = _first_frame(KATIE)
    wide = np.zeros((frame.shape[0], 1200, 3), np.uint8)
    wide[:, 600 : 600 + frame.shape[1]] = frame
    (boxes,) = hog.detect(wide[None])
    assert boxes.shape[0] >= 1
    # Box corners are those of the half-size image times 2, hence even.
    assert np.all(boxes[:, :4] % 2 == 0)
    # Same face as on the full-size frame (HOG's pyramid quantises box sizes differently).
    (direct,) = hog.detect(frame[None])
    assert _iou(boxes[0, :4] - [600, 0, 600, 0], direct[0, :4]) > 0.5


@needs_dlib
@pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not SYNCNET_EXAMPLE.is_file(),
    reason="needs ffmpeg and the shared media",
)
def test_hog_reproduces_golden_detections_on_reference_jpegs(
    hog: FaceDetector, tmp_path: Path
) -> None:
    # The goldens ran HOG on the JPEGs of run_pipeline.py's 25 fps transcode; redoing those two
    # ffmpeg steps gives the same JPEGs here (same ffmpeg build), and then bit-identical boxes.
    avi = tmp_path / "video.avi"
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-i",
            str(SYNCNET_EXAMPLE),
            "-qscale:v",
            "2",
            "-async",
            "1",
            "-r",
            "25",
            str(avi),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-i",
            str(avi),
            "-qscale:v",
            "2",
            "-threads",
            "1",
            "-frames:v",
            "20",
            "-f",
            "image2",
            str(tmp_path / "%06d.jpg"),
        ],
        check=True,
        capture_output=True,
    )
    frames = np.stack([cv2.imread(str(p)) for p in sorted(tmp_path.glob("*.jpg"))])
    golden = json.loads((DETECTIONS / "syncnet_example.json").read_text())["frames"]
    got = hog.detect(frames)
    assert len(got) == 20
    for index, boxes in enumerate(got):
        expected = np.array(golden[index], dtype=np.float64).reshape(-1, 5)
        np.testing.assert_allclose(boxes, expected, rtol=0, atol=1e-9, err_msg=f"frame {index}")


def test_hog_without_dlib_raises_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "dlib", None)
    with pytest.raises(DependencyError, match="pip install dlib"):
        get_detector("hog")
