"""The annotated video: run_visualise.py's colour rule, the frame mapping, and a real clip."""

from __future__ import annotations

from dataclasses import replace
import json
import os
from pathlib import Path
import stat
import subprocess
from typing import Any

import av
import numpy as np
import pytest

from syncnet_eval.errors import InputError
from syncnet_eval.io import load_results
from syncnet_eval.types import TrackResult, VideoResult
from syncnet_eval.visualise import (
    LABEL_BG,
    ConfidenceStrip,
    TrackOverlay,
    confidence_colour,
    draw_label,
    frame_boxes,
    frame_confidences,
    label_positions,
    track_overlays,
)

from conftest import invoke_cli, scored_result


def _reference_colour(conf: float) -> tuple[int, int, int]:
    """run_visualise.py: clr = max(min(conf * 25, 255), 0); colour (0, clr, 255 - clr)."""
    clr = max(min(conf * 25, 255), 0)
    return (0, round(clr), 255 - round(clr))


@pytest.mark.parametrize("conf", [-3.0, 0.0, 0.02, 4.0, 5.1, 10.2, 10.3, 40.0])
def test_box_colour_is_run_visualises_rule(conf: float) -> None:
    assert confidence_colour(conf) == _reference_colour(conf)


def test_box_colours_at_the_ends_of_the_scale() -> None:
    assert confidence_colour(0.0) == (0, 0, 255)  # red (BGR)
    assert confidence_colour(10.2) == (0, 255, 0)  # green
    assert confidence_colour(4.0) == (0, 100, 155)


def _track(first: int, conf: list[float], fps: float = 25.0) -> TrackResult:
    n = len(conf)
    return TrackResult(
        index=0,
        first_frame=first,
        last_frame=first + n + 4,
        av_offset=0,
        lse_d=7.0,
        lse_c=3.0,
        num_windows=n,
        dist_by_shift=[0.0] * 31,
        framewise_conf=conf,
        start_s=first / fps,
        end_s=(first + n + 5) / fps,
        framewise_time_s=[(first + i) / fps for i in range(n)],
    )


def test_frame_k_of_a_track_shows_window_k_minus_3() -> None:
    conf = [float(i) for i in range(20)]  # window i has confidence i
    shown = frame_confidences(_track(10, conf), 40)
    assert shown[:10] == [None] * 10  # before the track
    assert shown[10:14] == [0.0, 0.0, 0.0, 0.0]  # frames 0-3 of the track: window 0
    assert shown[14] == 1.0 and shown[20] == 7.0  # frame k: window k - 3
    assert shown[32:35] == [19.0, 19.0, 19.0]  # the last frames: the last window
    assert shown[35:] == [None] * 5  # the track has 20 + 5 frames: 10..34


def test_a_track_scored_at_30_fps_is_mapped_by_time() -> None:
    conf = [float(i) for i in range(60)]
    shown = frame_confidences(_track(0, conf, fps=30.0), 60)
    # frame f of the 25 fps stream is at f / 25 s: frame floor(f * 30 / 25) of the 30 fps one
    assert shown[10] == conf[12 - 3] and shown[25] == conf[30 - 3]


def test_whole_frame_tracks_are_drawn_on_the_border() -> None:
    boxes = frame_boxes(_track(0, [1.0] * 10), 20, (224, 224))
    assert boxes[0] == (1, 1, 222, 222) and boxes[14] == boxes[0] and boxes[15] is None


# -- a real clip ------------------------------------------------------------------------------


def _stream_frames(clip: Path, tmp: Path) -> int:
    """Frames of the 25 fps stream, made with the reference's commands (run_pipeline.py)."""
    avi, frames = tmp / "video.avi", tmp / "frames"
    frames.mkdir()
    for args in (
        ["-i", str(clip), "-qscale:v", "2", "-async", "1", "-r", "25", "-threads", "3", str(avi)],
        ["-i", str(avi), "-qscale:v", "2", "-f", "image2", str(frames / "%06d.jpg")],
    ):
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)
    return len(list(frames.iterdir()))


def _read_back(path: Path) -> tuple[list[np.ndarray], float, bool, float]:
    """Frames (BGR), the video stream's rate, whether there is audio, the container length."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        rate = float(stream.average_rate)
        has_audio = len(container.streams.audio) == 1
        duration = container.duration / 1_000_000
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    return frames, rate, has_audio, duration


def _edge_colour(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Median colour of the box's left edge (the label sits above the box, not on this edge)."""
    x1, y1, _, y2 = box
    return np.median(image[y1 + 8 : y2 - 8, x1], axis=0)


def _box(track: TrackResult, k: int) -> tuple[int, int, int, int]:
    """The box run_visualise.py draws on track frame k: smoothed centre +- half size."""
    assert track.smoothed_center_x and track.smoothed_center_y and track.smoothed_half_size
    x, y = track.smoothed_center_x[k], track.smoothed_center_y[k]
    s = track.smoothed_half_size[k]
    return (int(x - s), int(y - s), int(x + s), int(y + s))


def _close(got: np.ndarray, want: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(got - np.array(want, dtype=float)) <= 40))  # H.264, yuv420p


@pytest.fixture(scope="module")
def hdtf_visualised(
    hdtf_short_clip: Path, syncnet_parity_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The HDTF clip scored with HOG (min track 50) and drawn, with its record saved."""
    tmp = tmp_path_factory.mktemp("visualise")
    out, record = tmp / "annotated.mp4", tmp / "record.json"
    result = invoke_cli(
        [
            "visualise",
            str(hdtf_short_clip),
            "-o",
            str(out),
            "--save-result",
            str(record),
            "--detector",
            "hog",
            "--min-track",
            "50",
            "--syncnet-weights",
            str(syncnet_parity_weights),
            "-q",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "H.264 with the original audio" in result.output
    return out, record


def test_visualise_writes_the_25fps_stream_with_audio_and_coloured_boxes(
    hdtf_visualised: tuple[Path, Path], hdtf_short_clip: Path, tmp_path: Path
) -> None:
    out, record = hdtf_visualised
    expected = _stream_frames(hdtf_short_clip, tmp_path)
    frames, rate, has_audio, duration = _read_back(out)
    assert len(frames) == expected and rate == 25.0
    assert duration == pytest.approx(expected / 25, abs=1e-3)
    assert has_audio
    (result,) = load_results(record)
    assert result.recipe == "syncnet-pipeline" and result.ok and len(result.tracks) == 1
    track = result.tracks[0]
    for f in (track.first_frame + 10, (track.first_frame + track.last_frame) // 2):
        k = f - track.first_frame
        conf = track.framewise_conf[min(max(k - 3, 0), track.num_windows - 1)]
        x, y, s = (
            track.smoothed_center_x[k],
            track.smoothed_center_y[k],
            track.smoothed_half_size[k],
        )  # type: ignore[index]
        box = (int(x - s), int(y - s), int(x + s), int(y + s))
        assert _close(_edge_colour(frames[f], box), _reference_colour(conf)), f


def test_visualise_from_a_record_colours_each_frame_by_its_window(
    hdtf_visualised: tuple[Path, Path], hdtf_short_clip: Path, tmp_path: Path
) -> None:
    """Planted confidences (red, green, orange blocks): every frame's box shows its window's."""
    _, record = hdtf_visualised
    doc = json.loads(record.read_text())
    n = doc["results"][0]["tracks"][0]["num_windows"]
    blocks = [0.0] * 20 + [12.0] * 20 + [4.0] * (n - 40)
    doc["results"][0]["tracks"][0]["framewise_conf"] = blocks
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(doc))
    out = tmp_path / "planted.mp4"
    result = invoke_cli(["visualise", str(hdtf_short_clip), "--from", str(planted), "-o", str(out)])
    assert result.exit_code == 0, result.output
    frames, _, _, _ = _read_back(out)
    (rec,) = load_results(planted)
    track = rec.tracks[0]
    assert track.first_frame == 0
    # Track frame k shows window k - 3: window 19 (red) on frame 22, window 20 (green) on 23.
    for f, want in ((10, 0.0), (22, 0.0), (23, 12.0), (40, 12.0), (42, 12.0), (43, 4.0), (60, 4.0)):
        x, y, s = (
            track.smoothed_center_x[f],
            track.smoothed_center_y[f],
            track.smoothed_half_size[f],
        )  # type: ignore[index]
        box = (int(x - s), int(y - s), int(x + s), int(y + s))
        got = _edge_colour(frames[f], box)
        assert _close(got, _reference_colour(want)), (f, got, want)


def test_visualise_usage_errors_exit_2_before_any_work(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    rec = tmp_path / "r.json"
    rec.write_text('{"results": []}')
    for args in (
        ["--from", str(rec), "--recipe", "direct"],
        ["--from", str(rec), "--detections", str(rec)],
        ["--id", "x"],
        ["-o", str(tmp_path / "out.gif")],
        ["-o", "/proc/nope/out.mp4"],
    ):
        result = invoke_cli(["visualise", str(video), *args])
        assert result.exit_code == 2, (args, result.output)
    result = invoke_cli(
        ["visualise", str(video), "--from", str(rec), "-o", str(tmp_path / "o.mp4")]
    )
    assert result.exit_code == 2 and "no record" in result.output


def test_visualise_refuses_a_record_that_was_not_scored(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    failed = VideoResult.failure(str(video), "direct", "no_face", f"{video}: no face detected")
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps({"results": [failed.to_dict()]}))
    result = invoke_cli(
        ["visualise", str(video), "--from", str(rec), "-o", str(tmp_path / "o.mp4")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {video}: no face detected"]


def test_visualise_from_finds_the_record_of_the_same_file_by_another_name(
    tmp_path: Path,
) -> None:
    """A record names the file as score was given it (a link, another folder's view); --from
    matches the file, not the text of its path."""
    (tmp_path / "data").mkdir()
    video = tmp_path / "data" / "v.mp4"
    video.write_bytes(b"")
    (tmp_path / "linked").symlink_to(tmp_path / "data")
    other = tmp_path / "data" / "other.mp4"
    other.write_bytes(b"")
    records = [
        VideoResult.failure(str(other), "direct", "no_face", "the other file's record"),
        VideoResult.failure(str(tmp_path / "linked" / "v.mp4"), "direct", "no_face", "v's record"),
    ]
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps({"results": [r.to_dict() for r in records]}))
    result = invoke_cli(
        ["visualise", str(video), "--from", str(rec), "-o", str(tmp_path / "o.mp4")]
    )
    assert result.exit_code == 1, result.output  # found, and refused as not scored
    assert result.output.strip().splitlines() == ["Error: v's record"]


def test_a_pipeline_record_without_boxes_is_refused(tmp_path: Path) -> None:
    """A CSV record has no per-frame geometry: nothing to draw the boxes from."""
    rec = replace(scored_result(str(tmp_path / "v.mp4")), recipe="syncnet-pipeline")
    with pytest.raises(InputError, match="no per-frame face boxes"):
        track_overlays(rec, 100, (320, 240))


# -- labels, the strip, the file's mode ---------------------------------------------------------


def test_label_panels_of_faces_side_by_side_do_not_overlap() -> None:
    """Four faces in a row, close together: their panels (wider than the gaps) stack."""
    boxes = [(20 + 70 * n, 120, 80 + 70 * n, 180) for n in range(4)]
    panels = [(150, 60)] * 4
    spots = label_positions(boxes, panels, (320, 360))
    rects = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(spots, panels, strict=True)]
    for i, a in enumerate(rects):
        assert a[0] >= 0 and a[2] <= 320 and a[1] >= 0 and a[3] <= 360
        for b in rects[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert spots[0] == (20, 120 - 3 - 60)  # the first (the selected track) above its box


def test_label_panels_are_opaque() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, :, 0] = 255  # a blue picture (BGR)
    draw_label(image, ["track 0", "LSE-C 4.000"], 10, 10, 0.5)
    panel = image[10:40, 10:60].astype(int)
    # White text on a grey panel: every pixel is a grey (B = G = R); blue would be the picture
    # showing through.
    assert np.all(panel[:, :, 0] == panel[:, :, 1]) and np.all(panel[:, :, 1] == panel[:, :, 2])
    assert np.mean(np.all(panel == LABEL_BG, axis=2)) > 0.5


def test_every_curve_of_the_strip_is_labelled() -> None:
    tracks = [replace(_track(10 * n, [2.0 + n] * 60), index=n) for n in range(4)]
    overlays = [
        TrackOverlay(t, n == 0, frame_confidences(t, 100), [None] * 100, 0.0)
        for n, t in enumerate(tracks)
    ]
    strip = ConfidenceStrip(overlays, 100, 320)
    texts = [text for text, _ in strip.labels]
    assert texts == ["conf 0", "track 0", "track 1", "track 2", "track 3"]
    corners = [xy for _, xy in strip.labels]
    assert len(set(corners)) == len(corners)
    for _, (x, y) in strip.labels:  # white text drawn there on the dark strip
        assert strip.base[max(y - 10, 0) : y + 1, x : x + 30].max() > 200


def test_the_annotated_video_follows_the_umask(synth_short_clip: Any, tmp_path: Path) -> None:
    from syncnet_eval.visualise import annotate_video

    record = scored_result(str(synth_short_clip.path), num_windows=70)
    out = tmp_path / "annotated.mp4"
    old = os.umask(0o022)
    try:
        annotate_video(synth_short_clip.path, record, out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_drawing_reports_its_progress_frame_by_frame(synth_short_clip: Any, tmp_path: Path) -> None:
    from syncnet_eval.timing import Timer
    from syncnet_eval.visualise import annotate_video

    class Frames:
        def __init__(self) -> None:
            self.totals: dict[str, int | None] = {}
            self.done: dict[str, int] = {}

        def started(self, stage: str, total: int | None) -> None:
            self.totals[stage] = total

        def advanced(self, stage: str, units: int) -> None:
            self.done[stage] = self.done.get(stage, 0) + units

        def finished(self, stage: str, seconds: float) -> None:
            pass

        def failed(self, stage: str, seconds: float) -> None:
            pass

    hook = Frames()
    record = scored_result(str(synth_short_clip.path), num_windows=70)
    done = annotate_video(synth_short_clip.path, record, tmp_path / "a.mp4", Timer(hook))
    assert hook.totals["drawing"] == hook.done["drawing"] == done.num_frames > 70
    assert "decode" in hook.totals
