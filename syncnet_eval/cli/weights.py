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


@click.group()
def weights() -> None:
    """Find, download and verify the official weight files."""


@weights.command("where")
def weights_where() -> None:
    """Print where each weight file is looked for, whether it is there and whether it verifies."""
    for name, spec in {**wm.REGISTRY, **wm.OPTIONAL}.items():
        found = wm.find_weights(name)
        if found is None:
            optional = " (optional: --asd)" if name in wm.OPTIONAL else ""
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
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def weights_verify(files: tuple[Path, ...]) -> None:
    """Check size and sha256 of the cached weights (or of FILES against the official ones)."""
    bad = 0
    targets: list[tuple[str, Path | None]]
    if files:
        known = {**wm.REGISTRY, **wm.OPTIONAL}
        by_name = {s.filename: n for n, s in known.items()}
        targets = []
        for f in files:
            name = by_name.get(f.name)
            if name is None:
                size = f.stat().st_size
                name = next((n for n, s in known.items() if s.size == size), None)
            if name is None:
                raise click.ClickException(f"{f}: not one of the official weight files")
            targets.append((name, f))
    else:
        targets = [(n, wm.find_weights(n)) for n in wm.REGISTRY]
        targets += [(n, p) for n in wm.OPTIONAL if (p := wm.find_weights(n)) is not None]
    for name, path in targets:
        if path is None:
            click.echo(f"{name}: missing (run 'syncnet-eval weights download {name}')")
            bad += 1
            continue
        try:
            wm.verify_weights(path, _spec(name))
            click.echo(f"{name}: OK {path}")
        except SyncEvalError as exc:
            click.echo(f"{name}: BAD {exc}")
            bad += 1
    if bad:
        sys.exit(1)
