"""The outcome of scoring one input: one typed set of statuses.

A leaf module: ``types`` (the records) and ``errors`` (an exception class per failure status)
both name it, and neither imports the other.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["STATUSES", "Status"]

# Outcome of one input. Anything but "ok" has null metrics and a human-readable reason; each
# failure status has its exception class in ``syncnet_eval.errors``.
Status = Literal["ok", "no_face", "too_short", "no_audio", "decode_error", "error"]
STATUSES: tuple[Status, ...] = get_args(Status)
