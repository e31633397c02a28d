"""glibc allocator setting for long runs: one malloc arena.

Frames decoded in the prefetch thread are allocated in that thread's own glibc arena and freed
in the main thread; the arenas fragment and RSS grew by ~25 MB/s on 1080p input (8.9 GiB after
10 minutes of video, scripts/bench_memory.py). With one arena (``M_ARENA_MAX=1``) RSS stays flat
(~600 MB on the same clip) at the same speed. Raising the mmap/trim thresholds as well was ~10%
faster on the demo clip but held 200-300 MB more and still grew, so it is not done.

Called by the CLI, batch workers and benchmarks, not on import: a library must not change its
host process's allocator settings. Library users scoring long videos can call it themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

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
