"""Codec provenance: every recipe's records say how the input was encoded (as ffprobe reads
it), in JSON, CSV and Parquet; runs of differently encoded inputs are told apart."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
import json
from pathlib import Path
import subprocess
from typing import Any

import pytest

from syncnet_eval.config import PipelineConfig, ScoreConfig
from syncnet_eval.decode import probe_media
from syncnet_eval.io import load_records, write_results
from syncnet_eval.media_provenance import (
    BIT_RATE_TOLERANCE,
    media_differences,
    media_of,
    media_warning,
)
from syncnet_eval.pipeline import SyncPipeline
from syncnet_eval.recipes import RECIPES, REGISTRY
from syncnet_eval.types import VideoResult

from conftest import MEDIA_DIR, SynthClip, SynthFace, invoke_cli, write_synth_clip
from signal_media import SignalEmbedder


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, capture_output=True
    )


def _ffprobe(path: Path) -> dict[str, Any]:
    """The media keys as ffprobe (the oracle: another program) reports them."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    doc = json.loads(out)
    video = next(s for s in doc["streams"] if s["codec_type"] == "video")
    audio = next(s for s in doc["streams"] if s["codec_type"] == "audio")

    def rate(s: dict[str, Any]) -> int | None:
        return int(s["bit_rate"]) if s.get("bit_rate") else None

    return {
        "input_video_codec": video["codec_name"],
        "input_video_profile": video.get("profile"),
        "input_pix_fmt": video["pix_fmt"],
        "input_video_bit_rate": rate(video),
        "input_fps": float(Fraction(video["avg_frame_rate"])),
        "input_audio_codec": audio["codec_name"],
        "input_audio_profile": audio.get("profile"),
        "input_audio_bit_rate": rate(audio),
        "input_audio_rate_hz": int(audio["sample_rate"]),
        "input_container": doc["format"]["format_name"],
    }


@pytest.mark.parametrize("name", ["syncnet_example.avi", "syncnet_example_h264.mp4"])
def test_probe_reads_what_ffprobe_reads(name: str) -> None:
    path = MEDIA_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    info = probe_media(path)
    got = {
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
    assert got == pytest.approx(_ffprobe(path))


def _decoder_codecs() -> dict[str, str]:
    """``ffmpeg -decoders``: each decoder's name and the codec it decodes ("(codec mp3)", else
    its own name)."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-decoders"], check=True, capture_output=True, text=True
    ).stdout
    table = {}
    for line in out.split("------")[-1].splitlines():
        parts = line.split()
        if len(parts) >= 2:
            codec = line.rsplit("(codec ", 1)[1].rstrip(")") if "(codec " in line else parts[1]
            table[parts[1]] = codec.strip()
    return table


@pytest.fixture(scope="module")
def av1_mp3_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AV1 video (decoded by libdav1d) and MP3 audio (decoded by mp3float): codecs whose
    decoders have other names."""
    encoders = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], check=True, capture_output=True, text=True
    ).stdout
    if "libaom-av1" not in encoders or "libmp3lame" not in encoders:
        pytest.skip("this ffmpeg cannot encode AV1 (libaom-av1) or MP3 (libmp3lame)")
    path = tmp_path_factory.mktemp("codecs") / "av1_mp3.mkv"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x64:rate=25:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "libaom-av1",
        "-cpu-used",
        "8",
        "-crf",
        "50",
        "-c:a",
        "libmp3lame",
        str(path),
    )
    return path


def test_codecs_are_named_as_ffprobe_names_them_and_decoders_apart(av1_mp3_clip: Path) -> None:
    decoders = _decoder_codecs()
    paths = [av1_mp3_clip, *sorted(MEDIA_DIR.glob("*.avi")), *sorted(MEDIA_DIR.glob("*.mp4"))]
    seen = set()
    for path in paths:
        info = probe_media(path)
        probed = _ffprobe(path)
        assert info.video_codec == probed["input_video_codec"], path
        assert info.audio_codec == probed["input_audio_codec"], path
        for decoder, codec in (
            (info.video_decoder, info.video_codec),
            (info.audio_decoder, info.audio_codec),
        ):
            assert decoder is not None and decoders.get(decoder) == codec, (path, decoder)
            seen.add((codec, decoder))
    assert ("mp3", "mp3float") in seen and ("av1", "libdav1d") in seen  # names that differ


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> SynthClip:
    """40 frames, 224x224, H.264 + AAC, one talking face (every recipe can score it)."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    return write_synth_clip(path, num_frames=40, size=(224, 224), faces=(SynthFace(112, 112),))


@pytest.fixture(scope="module")
def pipe() -> SyncPipeline:
    return SyncPipeline(
        ScoreConfig(device="cpu"), PipelineConfig(min_track=20), embedder=SignalEmbedder()
    )


def _score(pipe: SyncPipeline, clip: SynthClip, recipe: str, path: Path | None = None) -> Any:
    detections = clip.boxes if REGISTRY[recipe].needs_tracks else None
    result = pipe.evaluate(path or clip.path, recipe, detections=detections)
    assert result.ok, result.reason
    return result


# Every recipe that scores a video with SyncNet (lmd compares two videos and records no codec).
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_every_recipe_records_the_codec_in_json_csv_and_parquet(
    recipe: str, clip: SynthClip, pipe: SyncPipeline, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    expected = _ffprobe(clip.path)
    assert all(v is not None for v in expected.values())  # the clip declares every field
    result = _score(pipe, clip, recipe)
    for suffix in (".json", ".csv", ".parquet"):
        out = tmp_path / f"r{suffix}"
        write_results(out, [result])
        (record,) = load_records(out)
        media = media_of(VideoResult.from_dict(record))
        assert media == pytest.approx(expected), (recipe, suffix)


def test_a_re_encoded_copy_is_told_apart_from_its_source(
    clip: SynthClip, pipe: SyncPipeline, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.mp4"
    _ffmpeg("-i", str(clip.path), "-c:v", "mpeg4", "-q:v", "8", "-c:a", "copy", str(copy))
    # The same video in both runs (paired by id, as compare and check --baseline pair them).
    source = replace(_score(pipe, clip, "direct"), id="talk")
    again = replace(_score(pipe, clip, "direct"), id="talk")
    recoded = replace(_score(pipe, clip, "direct", copy), id="talk")
    assert media_differences([source], [again]) == []
    differences = media_differences([source], [recoded])
    assert any(
        d.startswith("input_video_codec") and '"h264"' in d and '"mpeg4"' in d for d in differences
    ), differences
    assert not any(d.startswith("input_audio_codec") for d in differences)  # copied

    base, new = tmp_path / "source.json", tmp_path / "copy.json"
    write_results(base, [source])
    write_results(new, [recoded])
    compared = invoke_cli(["compare", str(base), str(new)])
    assert compared.exit_code == 0
    assert "encoded differently" in compared.output and "input_video_codec" in compared.output
    checked = invoke_cli(["check", str(new), "--baseline", str(base), "--max-lse-c-drop", "50"])
    assert "encoded differently" in checked.output and "mpeg4" in checked.output
    same = invoke_cli(["compare", str(base), str(base)])
    assert "encoded differently" not in same.output


def _record(path: str, id: str | None = None, **media: Any) -> VideoResult:
    return VideoResult(
        path=path, status="ok", reason=None, recipe="direct", id=id, provenance=media
    )


def test_bit_rates_of_a_paired_video_differ_beyond_the_tolerance() -> None:
    base = [
        _record(f"v{k}.mp4", input_video_bit_rate=r * 1000) for k, r in enumerate((900, 1000, 1100))
    ]
    near = [_record(f"v{k}.mp4", input_video_bit_rate=r * 1000) for k, r in enumerate((950, 1050))]
    far = [_record("v1.mp4", input_video_bit_rate=int(1e6 * (1 + 2 * BIT_RATE_TOLERANCE)))]
    assert media_differences(base, near) == []  # within 10% of the larger, video by video
    (diff,) = media_differences(base, far)
    assert diff.startswith("input_video_bit_rate: 1000 kb/s vs 1200 kb/s") and "v1.mp4" in diff
    assert media_differences(base, [_record("v0.mp4")]) == []  # no provenance: nothing to compare


def test_only_paired_videos_are_compared_and_the_warning_names_them() -> None:
    """Byte-identical files in both runs, the baseline with one more video encoded otherwise:
    nothing was encoded differently. A video re-encoded between the runs is named."""
    h264 = {"input_video_codec": "h264", "input_audio_codec": "aac"}
    base = [
        _record("a.mp4", **h264),
        _record("b.mp4", **h264),
        _record("extra.mp4", input_video_codec="mpeg4", input_audio_codec="mp3"),
    ]
    same = [_record("b.mp4", **h264), _record("a.mp4", **h264)]  # another order, one fewer
    assert media_differences(base, same) == []
    assert media_warning(base, same) is None
    recoded = [
        _record("elsewhere/a.mp4", id="a", input_video_codec="h264", input_audio_codec="mp3"),
        _record("b.mp4", **h264),
    ]
    base_ids = [replace(base[0], id="a"), *base[1:]]
    (diff,) = media_differences(base_ids, recoded)
    assert diff == 'input_audio_codec: "aac" vs "mp3" (1 video: a)'
    warning = media_warning(base_ids, recoded)
    assert warning is not None and "1 of 2 paired videos" in warning and "(1 video: a)" in warning


def test_a_record_that_named_the_decoder_compares_as_its_codec() -> None:
    """Records written before the codec's own name was recorded hold the decoder's (mp3float,
    libdav1d): the same file scored again is not 'encoded differently'."""
    old = [_record("a.mp4", input_audio_codec="mp3float", input_video_codec="libdav1d")]
    new = [_record("a.mp4", input_audio_codec="mp3", input_video_codec="av1")]
    assert media_differences(old, new) == []
    other = [_record("a.mp4", input_audio_codec="aac", input_video_codec="av1")]
    (diff,) = media_differences(old, other)
    assert diff.startswith('input_audio_codec: "mp3" vs "aac"')
