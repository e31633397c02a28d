"""What to score: files, directories and manifest rows as :class:`BatchInput` items.

``collect_inputs`` turns command-line paths and a manifest CSV into inputs (directories searched
recursively); ``input_identity`` says what identifies an input's content for resume. Nothing here
decodes media or loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence
import csv
from dataclasses import dataclass
import fnmatch
import logging
import os
from pathlib import Path
import stat
from typing import Any

from .config import IDENTITY_MODES
from .errors import ConfigError, InputError
from .io import sha256_or_none

__all__ = [
    "VIDEO_EXTENSIONS",
    "BatchInput",
    "collect_inputs",
    "input_identity",
    "read_manifest",
    "scan_directory",
]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".flv", ".wmv", ".ts",
    ".mts", ".m2ts", ".3gp", ".ogv",
)  # fmt: skip
_MANIFEST_COLUMNS = ("path", "audio", "id", "group")


@dataclass(frozen=True)
class BatchInput:
    """One video to score.

    Attributes:
        path: the video (as given, or joined to the manifest's folder).
        audio_path: score against this audio file instead of the video's own track.
        id: stable name used to match runs (manifest ``id``; for directory scans the path
            relative to the scanned directory).
        group: manifest ``group``, summarised separately.
    """

    path: Path
    audio_path: Path | None = None
    id: str | None = None
    group: str | None = None


# -- collecting inputs ------------------------------------------------------------------------


def _matches(rel: str, name: str, globs: Sequence[str], extensions: Sequence[str]) -> bool:
    if globs:
        return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)
    return name.lower().endswith(tuple(e.lower() for e in extensions))


def scan_directory(
    root: Path, *, globs: Sequence[str] = (), extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> list[BatchInput]:
    """Video files under ``root``, recursively, sorted by relative path.

    Files are kept when their name ends with one of ``extensions`` or, when ``globs`` are given,
    when their relative path or name matches one of them (``fnmatch``; ``*`` crosses ``/``).
    Hidden entries (leading ``.``) are skipped and symlinked directories are not followed. A
    directory whose name matches is reported as an input of its own (it gets an error record)
    rather than searched. ``id`` is the POSIX path relative to ``root``.
    """
    found: list[BatchInput] = []

    def visit(directory: Path, rel_parts: tuple[str, ...]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            log.warning("%s: cannot list directory (%s); skipped", directory, exc.strerror)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = "/".join((*rel_parts, entry.name))
            path = directory / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            matched = _matches(rel, entry.name, globs, extensions)
            if is_dir and not matched:
                visit(path, (*rel_parts, entry.name))
            elif matched:
                found.append(BatchInput(path=path, id=rel))

    visit(Path(root), ())
    return found


def read_manifest(path: Path) -> list[BatchInput]:
    """Rows of a manifest CSV: column ``path`` and optional ``audio``, ``id``, ``group``.

    Relative paths resolve against the manifest's folder. Rows whose file is missing are kept
    (they get an error record); blank rows are skipped.

    Raises:
        InputError: the manifest cannot be read, has no ``path`` column, or a row has no path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "path" not in columns:
        raise InputError(
            f"{path}: the manifest needs a header row with a 'path' column (optional columns: "
            f"{', '.join(_MANIFEST_COLUMNS[1:])}); found {columns or 'no header'}"
        )
    base = path.parent
    items: list[BatchInput] = []
    for lineno, raw in enumerate(reader, start=2):
        row = {
            (k or "").strip().lower(): (v or "").strip()
            for k, v in raw.items()
            if isinstance(v, str) or v is None
        }
        if not any(row.values()):
            continue
        if not row.get("path"):
            raise InputError(f"{path}:{lineno}: row has no path")
        audio = row.get("audio") or None
        items.append(
            BatchInput(
                path=base / Path(row["path"]).expanduser(),
                audio_path=(base / Path(audio).expanduser()) if audio else None,
                id=row.get("id") or None,
                group=row.get("group") or None,
            )
        )
    return items


def collect_inputs(
    paths: Sequence[Path],
    *,
    manifest: Path | None = None,
    globs: Sequence[str] = (),
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
) -> list[BatchInput]:
    """Inputs in command-line order: files as given, directories expanded, then manifest rows.

    A path that does not exist or is not a directory is kept as a file input (it gets a record
    saying what is wrong with it). A directory whose name looks like a video is treated the same
    way when given directly.

    Raises:
        InputError: when the manifest is unreadable (see ``read_manifest``).
    """
    items: list[BatchInput] = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and not _matches(p.name, p.name, globs, extensions):
            items.extend(scan_directory(p, globs=globs, extensions=extensions))
        else:
            items.append(BatchInput(path=p))
    if manifest is not None:
        items.extend(read_manifest(manifest))
    return items


# -- identity ---------------------------------------------------------------------------------


def _file_identity(path: Path, mode: str) -> dict[str, Any]:
    ident: dict[str, Any] = {"path": str(Path(path).resolve())}
    try:
        st = os.stat(path)
    except OSError:
        st = None
    regular = st is not None and stat.S_ISREG(st.st_mode)
    ident["size"] = st.st_size if regular and st is not None else None
    if mode == "sha256":
        ident["sha256"] = sha256_or_none(path) if regular else None
    else:
        ident["mtime_ns"] = st.st_mtime_ns if regular and st is not None else None
    return ident


def input_identity(item: BatchInput, mode: str = "mtime") -> dict[str, Any]:
    """What identifies an input's content for resume.

    Returns:
        ``{"path": resolved path, "size": bytes, "mtime_ns": ...}`` (``"sha256"`` instead of
        ``"mtime_ns"`` in ``sha256`` mode; ``None`` values for missing or non-regular files),
        plus ``"audio"`` with the same keys when the input has a separate audio file.
    """
    if mode not in IDENTITY_MODES:
        raise ConfigError(f"identity mode must be one of {IDENTITY_MODES}, got {mode!r}")
    ident = _file_identity(item.path, mode)
    if item.audio_path is not None:
        ident["audio"] = _file_identity(item.audio_path, mode)
    return ident
