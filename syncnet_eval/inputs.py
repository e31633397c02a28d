"""What to score: files, directories and manifest rows as :class:`BatchInput` items.

``collect_inputs`` turns command-line paths and a manifest CSV into inputs (directories searched
recursively); ``input_identity`` says what identifies an input's content for resume. Nothing here
decodes media or loads a model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
import csv
from dataclasses import dataclass, replace
import fnmatch
import io
import logging
import os
from pathlib import Path
import stat
from typing import Any

from .bands import BANDS
from .config import IDENTITY_MODES
from .errors import ConfigError, InputError
from .io import sha256_or_none
from .leakage import labels_problem

# How a clip was generated (the leakage protocol, syncnet_eval.leakage): stamped on its record.
LABEL_COLUMNS = ("condition", "pair_id", "identity_reference")

__all__ = [
    "VIDEO_EXTENSIONS",
    "BatchInput",
    "collect_inputs",
    "input_identity",
    "nothing_found",
    "read_manifest",
    "scan_directory",
]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (
    ".mp4",
    ".m4v",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
    ".ts",
    ".mts",
    ".m2ts",
    ".3gp",
    ".ogv",
)
_MANIFEST_COLUMNS = (
    "path",
    "audio",
    "id",
    "group",
    "reference",
    "dataset",
    "owner",
    *LABEL_COLUMNS,
)


@dataclass(frozen=True)
class BatchInput:
    """One video to score.

    Attributes:
        path: the video (as given, or joined to the manifest's folder).
        audio_path: score against this audio file instead of the video's own track.
        id: stable, unique name used to match runs: the manifest's ``id`` (else the row's path
            as written); for directory scans the path relative to the scanned directory
            (prefixed with the directory when two scans would give the same one); for files
            given directly, the path as given.
        group: manifest ``group``, summarised separately.
        error: why the input cannot even be tried (a manifest row without a path...); it gets
            an ``error`` record without being opened.
        crops_name: where ``--save-crops`` puts its crop videos (set by the batch engine).
        reference_path: manifest ``reference``: the ground truth ``lmd`` compares ``path`` with.
        dataset: the manifest's ``dataset`` (else ``score --dataset``): the reference band
            (:mod:`syncnet_eval.bands`) its record carries.
        duplicate_of: the earlier input of the batch that is the same file under another name
            (a symbolic link to it): this one gets an ``error`` record with reason code
            ``duplicate`` naming that file, and is not scored twice.
        owner: the manifest's ``owner``: the face track whose lips should own the audio (two-
            person generation); its record carries it as ``owner_expected``, which
            ``check --require-owner manifest`` holds the measured owner to.
        labels: the manifest's ``condition``, ``pair_id`` and ``identity_reference`` that are
            set (:data:`LABEL_COLUMNS`): how the clip was generated, for the leakage protocol.
    """

    path: Path
    audio_path: Path | None = None
    id: str | None = None
    group: str | None = None
    error: str | None = None
    crops_name: str | None = None
    reference_path: Path | None = None
    dataset: str | None = None
    duplicate_of: Path | None = None
    owner: int | None = None
    labels: tuple[tuple[str, str], ...] = ()


# -- collecting inputs ------------------------------------------------------------------------


def _matches(rel: str, name: str, globs: Sequence[str], extensions: Sequence[str]) -> bool:
    if globs:
        return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)
    return name.lower().endswith(tuple(e.lower() for e in extensions))


def _real(path: Path) -> str:
    """``realpath`` that never raises (a symlink loop stays as it is)."""
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(path)


class _Excluded:
    """Files and directories a scan must not pick up (the run's own outputs)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = {_real(Path(p)) for p in paths}

    def __contains__(self, path: Path) -> bool:
        return bool(self._paths) and _real(path) in self._paths


def scan_directory(
    root: Path,
    *,
    globs: Sequence[str] = (),
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    exclude: Sequence[Path] = (),
) -> list[BatchInput]:
    """Video files under ``root``, recursively, sorted by relative path.

    Files are kept when their name ends with one of ``extensions`` or, when ``globs`` are given,
    when their relative path or name matches one of them (``fnmatch``; ``*`` crosses ``/``).
    Hidden entries (leading ``.``), the files and directories in ``exclude`` (the run's own
    outputs) and symlinked directories are not followed. A directory whose name matches is
    reported as an input of its own (it gets an error record) rather than searched. ``id`` is
    the POSIX path relative to ``root``.
    """
    found: list[BatchInput] = []
    excluded = _Excluded(exclude)

    def visit(directory: Path, rel_parts: tuple[str, ...]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            log.warning("%s: cannot list directory (%s); skipped", directory, exc.strerror)
            return
        for entry in entries:
            path = directory / entry.name
            if entry.name.startswith(".") or path in excluded:
                continue
            rel = "/".join((*rel_parts, entry.name))
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
    """Rows of a manifest CSV: column ``path`` and optional ``audio``, ``id``, ``group``,
    ``reference`` (the ground truth of ``syncnet-eval lmd``), ``dataset`` (a name of
    :data:`syncnet_eval.bands.BANDS`) ``owner`` (the track index that should own the
    audio, a non-negative integer), and the leakage protocol's ``condition``, ``pair_id`` and
    ``identity_reference`` (:mod:`syncnet_eval.leakage`).

    Relative paths resolve against the manifest's folder. Rows whose file is missing are kept
    (they get an error record), and so are rows without a path (an error record named
    ``MANIFEST:LINE``); blank rows are skipped. Quoted fields may hold commas and newlines.

    Raises:
        InputError: the manifest cannot be read, has no ``path`` column, gives one ``id`` to
            several rows (their line numbers are named), names a dataset without a band, or
            an ``owner`` that is not a track index, or
            has a leakage label it does not know (a condition but matched, mismatched or
            silent; a matched or mismatched clip without a pair_id).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "path" not in columns:
        raise InputError(
            f"{path}: the manifest needs a header row with a 'path' column (optional columns: "
            f"{', '.join(_MANIFEST_COLUMNS[1:])}); found {columns or 'no header'}"
        )
    base = path.parent
    items: list[BatchInput] = []
    lines_of_id: dict[str, list[int]] = {}
    for raw in reader:
        lineno = reader.line_num  # the row's last physical line
        row = {
            (k or "").strip().lower(): (v or "").strip()
            for k, v in raw.items()
            if isinstance(v, str) or v is None
        }
        if not any(row.values()):
            continue
        dataset = row.get("dataset") or None
        if dataset is not None and dataset not in BANDS:
            raise InputError(
                f"{path}:{lineno}: unknown dataset {dataset!r} in the 'dataset' column; "
                f"choose one of {', '.join(BANDS)}"
            )
        owner = row.get("owner") or None
        if owner is not None and not (owner.isascii() and owner.isdigit()):
            raise InputError(
                f"{path}:{lineno}: the 'owner' column must be a track index (0, 1, ...); "
                f"got {owner!r}"
            )
        problem = labels_problem(row)
        if problem is not None:
            raise InputError(f"{path}:{lineno}: {problem}")
        labels = tuple((c, row[c]) for c in LABEL_COLUMNS if row.get(c))
        if row.get("id"):
            lines_of_id.setdefault(row["id"], []).append(lineno)
        if not row.get("path"):
            where = f"{path}:{lineno}"
            items.append(
                BatchInput(
                    path=Path(where),
                    id=row.get("id") or where,
                    group=row.get("group") or None,
                    error=f"{where}: the manifest row has no path",
                    dataset=dataset,
                    labels=labels,
                )
            )
            continue
        audio = row.get("audio") or None
        reference = row.get("reference") or None
        items.append(
            BatchInput(
                path=base / Path(row["path"]).expanduser(),
                audio_path=(base / Path(audio).expanduser()) if audio else None,
                id=row.get("id") or row["path"],
                group=row.get("group") or None,
                reference_path=(base / Path(reference).expanduser()) if reference else None,
                dataset=dataset,
                owner=None if owner is None else int(owner),
                labels=labels,
            )
        )
    duplicates = {i: lines for i, lines in lines_of_id.items() if len(lines) > 1}
    if duplicates:
        listed = "; ".join(
            f"{i!r} on lines {', '.join(map(str, lines))}" for i, lines in duplicates.items()
        )
        raise InputError(f"{path}: ids must be unique, but the manifest repeats {listed}")
    return items


def collect_inputs(
    paths: Sequence[Path],
    *,
    manifest: Path | None = None,
    globs: Sequence[str] = (),
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    exclude: Sequence[Path] = (),
) -> list[BatchInput]:
    """Inputs in command-line order: files as given, directories expanded, then manifest rows.

    A path that does not exist or is not a directory is kept as a file input (it gets a record
    saying what is wrong with it). A directory whose name looks like a video is treated the same
    way when given directly. ``exclude`` lists the run's own outputs, which scans skip. Every
    input gets a unique ``id`` (see :class:`BatchInput`); a file listed twice is scored once:
    the same name again is dropped, another name for the same file (a symbolic link) is kept
    with ``duplicate_of`` set, so that it gets a record saying so.

    Raises:
        InputError: when the manifest is unreadable (see ``read_manifest``).
    """
    items: list[tuple[BatchInput, Path | None]] = []  # with the scanned root, if any
    for p in paths:
        p = Path(p)
        if p.is_dir() and not _matches(p.name, p.name, globs, extensions):
            found = scan_directory(p, globs=globs, extensions=extensions, exclude=exclude)
            items += [(item, p) for item in found]
        else:
            items.append((BatchInput(path=p, id=p.as_posix()), None))
    if manifest is not None:
        items += [(item, None) for item in read_manifest(manifest)]
    return _unique(items)


def nothing_found(paths: Sequence[Path], manifest: Path | None) -> str:
    """Why :func:`collect_inputs` found no input: which folders had no video files, and that
    the manifest has no rows (only its header), naming each."""
    parts = []
    if paths:
        parts.append(
            f"no video files found in {', '.join(str(p) for p in paths)} (extensions: .mp4, "
            ".mov, .avi, .mkv, ...; use --glob to choose files)"
        )
    if manifest is not None:
        parts.append(
            f"{manifest}: the manifest has no rows (a header only); add one row per "
            "video under its 'path' column"
        )
    return "; ".join(parts) or "no inputs given"


def _unique(items: list[tuple[BatchInput, Path | None]]) -> list[BatchInput]:
    """Drop repeated inputs (same name, file and audio), mark another name for an earlier
    input's file as its ``duplicate_of``; make ids unique by prefixing scanned ones with their
    directory, then numbering what still collides."""

    def key(item: BatchInput) -> tuple[str, str | None]:
        return (_real(item.path), _real(item.audio_path) if item.audio_path else None)

    # The file's own name is scored (its first listing not through a link, else its first).
    scored: dict[tuple[str, str | None], BatchInput] = {}
    for item, _ in items:
        if item.error is None:
            found = scored.setdefault(key(item), item)
            if os.path.islink(found.path) and not os.path.islink(item.path):
                scored[key(item)] = item
    seen: set[tuple[tuple[str, str | None], Path]] = set()
    kept: list[tuple[BatchInput, Path | None]] = []
    for item, root in items:
        if item.error is None:
            if (key(item), item.path) in seen:
                log.warning("%s: listed more than once; scored once", item.path)
                continue
            seen.add((key(item), item.path))
            first = scored[key(item)]
            if first.path != item.path:
                item = replace(item, duplicate_of=first.path)
        kept.append((item, root))
    counts = Counter(item.id for item, _ in kept)
    out = [
        replace(item, id=f"{root.as_posix()}/{item.id}")
        if root is not None and counts[item.id] > 1
        else item
        for item, root in kept
    ]
    counts = Counter(item.id for item in out)
    numbered: Counter[str | None] = Counter()
    for i, item in enumerate(out):
        if item.id is not None and counts[item.id] > 1:
            numbered[item.id] += 1
            if numbered[item.id] > 1:
                out[i] = replace(item, id=f"{item.id}#{numbered[item.id]}")
    return out


# -- identity ---------------------------------------------------------------------------------


def _file_identity(path: Path, mode: str) -> dict[str, Any]:
    ident: dict[str, Any] = {"path": _real(path)}
    try:
        st = os.stat(path)
    except (OSError, ValueError):
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
