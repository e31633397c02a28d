"""Keep large activation buffers in the heap between batches (glibc only).

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and
returns it on free, so each batch of lip windows (~0.5 GiB of activations) page-faults its
buffers in again: a third of the CPU time went to the kernel in measurements. Raising the mmap
and trim thresholds lets freed blocks be reused. Called by the CLI and benchmarks, not on import:
a library must not change its host process's allocator settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD_BYTES = 1 << 30


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds to 1 GiB; returns whether it applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _THRESHOLD_BYTES)
    )
    log.debug("glibc malloc thresholds raised: %s", ok)
    return ok
