"""Log lines on stderr: one line per record, whatever the file names in it hold."""

from __future__ import annotations

import logging
import threading

__all__ = ["OneLineFormatter", "first_time", "forget_said", "one_line"]


def one_line(text: str) -> str:
    """``text`` with newlines escaped and file-name bytes that are not UTF-8 shown as ``\\xNN``."""
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw.replace("\r", "\\r").replace("\n", "\\n")


class OneLineFormatter(logging.Formatter):
    """``LEVEL: message`` on one line (tracebacks, when logged, are escaped too)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


_SAID: set[str] = set()
_SAID_LOCK = threading.Lock()


def first_time(key: str) -> bool:
    """Whether ``key`` is new since the last :func:`forget_said` (a notice said once per
    command, however many runs the command drives)."""
    with _SAID_LOCK:
        if key in _SAID:
            return False
        _SAID.add(key)
        return True


def forget_said() -> None:
    """A new command starts: every notice may be said again (the CLI calls it per command)."""
    with _SAID_LOCK:
        _SAID.clear()
