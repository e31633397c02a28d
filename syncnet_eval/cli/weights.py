"""``syncnet-eval weights``: find, download and verify the official weight files."""

from __future__ import annotations

from pathlib import Path
import sys

import click

from ..errors import SyncEvalError
from ..models import weights as wm

__all__ = ["weights"]


def _spec(name: str) -> wm.WeightSpec:
    return wm.REGISTRY[name] if name in wm.REGISTRY else wm.OPTIONAL[name]


def _optional(spec: wm.WeightSpec) -> str:
    """`` (optional: OPTION; licence: ...)`` for an optional entry's line."""
    licence = f"; licence: {spec.licence}" if spec.licence else ""
    return f" (optional: {wm.weights_option(spec.name)}{licence})"


@click.group()
def weights() -> None:
    """Find, download and verify the official weight files."""


@weights.command("where")
def weights_where() -> None:
    """Print where each weight file is looked for, whether it is there and whether it verifies."""
    for name, spec in {**wm.REGISTRY, **wm.OPTIONAL}.items():
        found = wm.find_weights(name)
        if found is None:
            optional = _optional(spec) if name in wm.OPTIONAL else ""
            click.echo(f"{name}: missing ({spec.filename}){optional}")
            continue
        try:
            wm.verify_weights(found, spec)
            state = "verified"
        except SyncEvalError:
            state = "BAD: not the official file (size or sha256); score refuses it"
        click.echo(f"{name}: {found} ({spec.filename}, {state})")
    for d in wm.search_dirs():
        click.echo(f"search dir: {d}")


@weights.command("download")
@click.argument("names", nargs=-1, type=click.Choice([*wm.REGISTRY, *wm.OPTIONAL]))
@click.option(
    "--dir",
    "target_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Download into DIR instead of the user cache.",
)
def weights_download(names: tuple[str, ...], target_dir: Path | None) -> None:
    """Download (and verify) the official weights: syncnet and s3fd by default, or NAMES
    (light-asd-talkset and light-asd-ava, the active-speaker checkpoints, only by name).

    Every file is tried even when one fails; the exit status is 1 if any did.
    """
    failed = 0
    for name in names or tuple(wm.REGISTRY):
        try:
            existing = wm.find_weights(name) if target_dir is None else None
            if existing is not None:
                wm.verify_weights(existing, _spec(name))
                click.echo(f"{name}: already present and verified at {existing}")
                continue
            res = wm.download_weights(name, target_dir)
            click.echo(f"{name}: downloaded from {res.url} to {res.path}")
        except SyncEvalError as exc:
            click.echo(f"Error: {name}: {exc}", err=True)
            failed += 1
    if failed:
        sys.exit(1)


@weights.command("verify")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def weights_verify(files: tuple[Path, ...]) -> None:
    """Check size and sha256 of the cached weights (or of FILES against the official ones).

    One line per file, every file checked; the exit status is 1 if any is missing, unreadable
    or not official.
    """
    targets: list[tuple[str, Path | None]]
    if files:
        targets = [(str(f), f) for f in files]
    else:
        targets = [(n, wm.find_weights(n)) for n in wm.REGISTRY]
        targets += [(n, p) for n in wm.OPTIONAL if (p := wm.find_weights(n)) is not None]
    bad = 0
    for label, path in targets:
        ok, line = _verify_line(label, path, by_file=bool(files))
        click.echo(line)
        bad += not ok
    if bad:
        sys.exit(1)


def _verify_line(label: str, path: Path | None, *, by_file: bool) -> tuple[bool, str]:
    """Whether one file is official, and the line that says so (``label: OK|BAD|missing ...``)."""
    if path is None:
        return False, f"{label}: missing (run 'syncnet-eval weights download {label}')"
    if not by_file:
        try:
            wm.verify_weights(path, _spec(label))
        except SyncEvalError as exc:
            return False, f"{label}: BAD {exc}"
        return True, f"{label}: OK {path}"
    # A file given by path is official when its hash is one of the registry's; a near miss
    # (official name or size, other bytes) names the file it was taken for and both hashes.
    known = {**wm.REGISTRY, **wm.OPTIONAL}
    try:
        if path.is_dir():
            raise IsADirectoryError("is a directory")
        size = path.stat().st_size
        digest = wm.weights_sha256(path)
    except OSError as exc:
        cause = exc.strerror or str(exc)
        return False, f"{label}: BAD cannot read it ({cause.lower()})"
    name = wm.official_name(digest)
    if name is not None:
        return True, f"{label}: OK ({name}, {known[name].filename})"
    meant = next((n for n, s in known.items() if s.filename == path.name), None)
    meant = meant or next((n for n, s in known.items() if s.size == size), None)
    if meant is None:
        return False, (
            f"{label}: BAD not one of the official weight files (sha256 {digest}, {size} bytes)"
        )
    spec = known[meant]
    return False, (
        f"{label}: BAD not the official {spec.filename} ({meant}): expected sha256 "
        f"{spec.sha256} ({spec.size} bytes), got {digest} ({size} bytes)"
    )
