"""glibc allocator setting for long runs: one malloc arena (a safeguard).

Before the embedder wrote its outputs into one preallocated buffer, RSS grew with the video's
length on 1080p input: ~25 MB/s with glibc's per-thread arenas (8.9 GiB after 10 minutes,
scripts/bench_memory.py), ~1.5 MB/s with one arena. The cause was heap fragmentation around
each batch's small, long-lived output; with the buffer, RSS stays flat with or without this
setting (measured on 90 s of a 10-minute 1080p clip). One arena is kept for the CLI, batch
workers and benchmarks because it bounds the damage of any similar pattern (frames are
allocated in the decode thread and freed in the main thread) at no measured cost in speed.

Not applied on import: a library must not change its host process's allocator settings; library
users who score long videos can call :func:`tune_malloc` themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["tune_malloc"]

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8


def tune_malloc() -> bool:
    """Limit glibc to one malloc arena (Linux only); returns whether it applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_ARENA_MAX, 1))
    log.debug("glibc malloc arenas limited to one: %s", ok)
    return ok
