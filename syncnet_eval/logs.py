"""Log lines on stderr: one line per record, whatever the file names in it hold."""

from __future__ import annotations

import logging

__all__ = ["OneLineFormatter", "one_line"]


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
