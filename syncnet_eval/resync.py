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

from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass, field, replace
import json
import os
from pathlib import Path
from typing import Any

import av

from . import ffmpeg
from .constants import FPS
from .engines import Executor
from .engines.plan import BatchConfig, RunConfig, RunHooks, RunOutputs
from .engines.run import run_inputs, score_one
from .engines.scorer import crops_names
from .errors import DecodeError, InputError, NoAudioError, error_for_status
from .inputs import BatchInput
from .io import JsonlLog, atomic_write_text, read_jsonl
from .types import VideoResult

__all__ = [
    "FixReport",
    "audio_delay_for_offset",
    "WRITTEN_LEDGER",
    "fix_inputs",
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
        config_hash: the configuration hash of the measurements (the one ``score`` records
            for the same settings; empty when nothing was measured).
    """

    source: str
    output: str
    offset_frames: float | None
    delay_s: float
    before: VideoResult | None
    after: VideoResult
    tolerance: float
    warnings: list[str] = field(default_factory=list)
    config_hash: str = ""

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
            "config_hash": self.config_hash,
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
    config: BatchConfig,
    video: Path,
    output: Path,
    *,
    offset: float | None = None,
    tolerance: float = 1.0,
    audio_path: Path | None = None,
    before: VideoResult | None = None,
) -> FixReport:
    """Measure ``video``'s AV offset (unless given), write ``output`` with the audio moved so
    that it becomes 0, and measure ``output`` with the same recipe.

    Both measurements run through the run driver (``engines.run.score_one``), so the report's
    ``config_hash`` is the one ``score`` records for ``config``.

    Args:
        config: how to measure, before and after (recipe, configs, weights, embedder).
        video: the video to fix.
        output: the corrected copy (written atomically; never ``video`` itself).
        offset: the offset to correct, frames (skips the first measurement).
        tolerance: largest |offset| of the output that passes, frames.
        audio_path: measure against this audio instead of the video's own (not moved).
        before: ``video``'s earlier record (``fix --from``): its offset is corrected and its
            numbers are the report's "before"; not measured again.

    Raises:
        InputError: (a subclass) the video cannot be scored or has no audio; ``output`` is the
            input or cannot be written.
    """
    warnings: list[str] = []
    if offset is None and before is not None:
        offset, warnings = offset_to_fix(before, tolerance)
    elif offset is None:
        before = score_one(BatchInput(video, audio_path), config).result
        offset, warnings = offset_to_fix(before, tolerance)
    delay = audio_delay_for_offset(offset)
    move_audio(video, output, delay)
    measured = score_one(BatchInput(output, audio_path), config)
    return FixReport(
        str(video),
        str(output),
        offset,
        delay,
        before,
        measured.result,
        tolerance,
        warnings,
        measured.config_hash,
    )


# The copies a batch fix wrote (input, copy, offset), in its --out-dir: a rerun keeps those
# copies instead of refusing to overwrite them.
WRITTEN_LEDGER = "written.jsonl"


def fix_inputs(
    items: Sequence[BatchInput],
    config: BatchConfig,
    out_dir: Path,
    *,
    run: RunConfig | None = None,
    executor: Executor | None = None,
    given: Mapping[str, VideoResult | float] | None = None,
    tolerance: float = 1.0,
    overwrite: bool = False,
    hooks: RunHooks | None = None,
) -> list[FixReport]:
    """Fix many videos: measure each (unless ``given``), write its corrected copy into
    ``out_dir`` (named by its id), measure every copy; ``fix.json`` pairs them.

    Both measurements run through the run driver with ``before.jsonl`` and ``after.jsonl``
    logs in ``out_dir``, so a rerun resumes; ``written.jsonl`` there lists the copies written,
    so a rerun keeps them without ``overwrite``.

    Args:
        items: the videos.
        config: how to measure them (before and after).
        out_dir: where the copies, the logs and ``fix.json`` go.
        run: how the measuring runs go (workers, resume...).
        executor: where they run (default: the local executor).
        given: per :func:`fix_key` of an input, its offset (frames) or its earlier record
            (the offset to correct, and the "before" numbers): not measured again.
        tolerance: largest |offset| of a copy that passes, frames.
        overwrite: replace existing files that this fix did not write.
        hooks: what each measuring run tells its caller (see ``run_inputs``).
    """
    given = given or {}

    hashes: list[str] = []

    def measure(batch: list[BatchInput], log_name: str) -> list[VideoResult]:
        if not batch:
            return []
        outcome = run_inputs(
            batch,
            config,
            run,
            executor=executor,
            outputs=RunOutputs(out_dir / log_name),
            hooks=hooks,
        )
        hashes.append(outcome.config_hash)
        return outcome.results

    to_measure = [i for i in items if fix_key(i.path) not in given]
    before = dict(
        zip([i.path for i in to_measure], measure(to_measure, "before.jsonl"), strict=True)
    )
    plans = []
    for item, name in zip(items, crops_names(items), strict=True):
        known = given.get(fix_key(item.path))
        measured = before.get(item.path)
        if isinstance(known, VideoResult):
            measured, known = known, None
        plans.append(
            _write_copy(
                item,
                out_dir / f"{name}{item.path.suffix}",
                measured,
                known,
                tolerance,
                overwrite,
                config.recipe,
            )
        )
    written = [p for p in plans if p.copy is not None]
    after = measure([p.copy for p in written if p.copy is not None], "after.jsonl")
    results = dict(zip([id(p) for p in written], after, strict=True))
    digest = next((h for h in reversed(hashes) if h), "")
    reports = [replace(p.report(results.get(id(p)), tolerance), config_hash=digest) for p in plans]
    summary = {"tolerance_frames": tolerance, "fixes": [r.to_dict() for r in reports]}
    atomic_write_text(out_dir / "fix.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return reports


def fix_key(path: Path) -> str:
    """How a batch fix matches an input to a given offset or record: its resolved path."""
    return os.path.realpath(path)


@dataclass
class _Plan:
    """One input of a batch fix: its copy (``None`` when it could not be written)."""

    item: BatchInput
    target: Path
    before: VideoResult | None
    offset: float | None
    warnings: list[str]
    copy: BatchInput | None = None
    failure: VideoResult | None = None

    def report(self, after: VideoResult | None, tolerance: float) -> FixReport:
        measured = self.failure or after
        assert measured is not None
        delay = audio_delay_for_offset(self.offset) if self.offset is not None else 0.0
        return FixReport(
            str(self.item.path),
            str(self.target),
            self.offset,
            delay,
            self.before,
            measured,
            tolerance,
            self.warnings,
        )


def _write_copy(
    item: BatchInput,
    target: Path,
    before: VideoResult | None,
    given: float | None,
    tolerance: float,
    overwrite: bool,
    recipe: str,
) -> _Plan:
    """Write ``item``'s corrected copy to ``target``; a failure is the plan's record."""
    plan = _Plan(item, target, before, None, [])
    try:
        if given is not None:
            plan.offset = given
        elif before is not None:
            plan.offset, plan.warnings = offset_to_fix(before, tolerance)
        else:
            raise InputError(f"{item.path}: its record in the results file is not scored")
        if fix_key(target) == fix_key(item.path):
            raise InputError(f"{target}: the copy would overwrite its input")
        if target.exists() and not overwrite and not _written_by_us(target, item, plan.offset):
            raise InputError(f"{target} exists (add --overwrite to replace it)")
        move_audio(item.path, target, audio_delay_for_offset(plan.offset))
        _remember(target, item, plan.offset)
        plan.copy = replace(item, path=target, audio_path=None, crops_name=None)
    except InputError as exc:
        plan.failure = VideoResult.failure(str(target), recipe, exc.status, str(exc))
    return plan


def _remember(target: Path, item: BatchInput, offset: float) -> None:
    """Note that ``target`` is the copy of ``item`` correcting ``offset`` (a rerun keeps it)."""
    with JsonlLog(target.parent / WRITTEN_LEDGER) as ledger:
        ledger.append({"input": fix_key(item.path), "output": fix_key(target), "offset": offset})


def _written_by_us(target: Path, item: BatchInput, offset: float) -> bool:
    entry = {"input": fix_key(item.path), "output": fix_key(target), "offset": offset}
    ledger = target.parent / WRITTEN_LEDGER
    return ledger.is_file() and entry in read_jsonl(ledger)
