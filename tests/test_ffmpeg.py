"""The ffmpeg module's process bookkeeping: a stream abandoned mid-way is reaped."""

from __future__ import annotations

from pathlib import Path

from syncnet_eval import ffmpeg


def test_reap_kills_an_abandoned_stream_and_forgets_finished_ones(batch_clips: list[Path]) -> None:
    args = [*ffmpeg.input_args(batch_clips[0]), "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    finished = ffmpeg.read_stream(args, source=batch_clips[0])
    assert sum(len(b) for b in finished) == 25 * 224 * 224 * 3  # drained: waited for
    abandoned = ffmpeg.read_stream(args, source=batch_clips[0])
    next(abandoned)  # ffmpeg is running; the consumer walks away without closing it
    assert ffmpeg.reap() == 1
    assert ffmpeg.reap() == 0
    abandoned.close()  # closing later is harmless
