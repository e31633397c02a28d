"""The ``syncnet-eval`` command group, its error handling and logging; the commands live beside.

Nothing here imports torch: ``--help`` and ``--version`` stay fast. Errors the library raises on
purpose become one ``Error: <file>: <cause>`` line and exit 1 (``--debug`` or
``SYNCNET_EVAL_DEBUG=1`` shows the traceback instead); bad usage exits 2 before any model loads.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import os
import sys
from typing import Any

import click
from tqdm import tqdm

from ..allocator import tune_malloc
from ..errors import OutputError, OutputWriteError, SyncEvalError
from ..logs import OneLineFormatter, forget_said, one_line
from ..version import __version__

__all__ = [
    "EXIT_WRITE_FAILED",
    "AppState",
    "InputFileError",
    "OutputWriteFailed",
    "cli",
    "debug_requested",
    "main",
    "setup_logging",
]

log = logging.getLogger("syncnet_eval")

DEBUG_ENV_VAR = "SYNCNET_EVAL_DEBUG"


@dataclass
class AppState:
    """Options of the group, shared with every command through ``ctx.obj``."""

    debug: bool = False
    verbose: int = 0


class InputFileError(click.ClickException):
    """A results file given to check/compare cannot be read: exit 2, like bad usage."""

    exit_code = 2


class OutputFileError(click.ClickException):
    """An output cannot be written or is in use by another run: exit 2, checked before work."""

    exit_code = 2


# sysexits.h's EX_IOERR: an output could not be written once work had started (a full disk).
EXIT_WRITE_FAILED = 74


class OutputWriteFailed(click.ClickException):
    """Writing an output failed during or after the work (``OutputWriteError``): exit 74."""

    exit_code = EXIT_WRITE_FAILED


def debug_requested(ctx: click.Context | None = None) -> bool:
    """``--debug`` was given, or ``SYNCNET_EVAL_DEBUG`` is set to anything but ``0``."""
    if os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0"):
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and isinstance(root.obj, AppState) and root.obj.debug)


class _Group(click.Group):
    """Turns library errors into one line (exit 1) unless debugging, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        forget_said()  # each command says its notices once
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OutputWriteError as exc:  # the disk filled (or failed) while writing
            if debug_requested(ctx):
                raise
            raise OutputWriteFailed(one_line(str(exc))) from exc
        except OutputError as exc:  # an unusable output, as for outputs checked up front
            if debug_requested(ctx):
                raise
            raise OutputFileError(one_line(str(exc))) from exc
        except SyncEvalError as exc:
            if debug_requested(ctx):
                raise
            raise click.ClickException(one_line(str(exc))) from exc
        except Exception as exc:  # noqa: BLE001 - one line, not a traceback
            if debug_requested(ctx):
                raise
            raise click.ClickException(
                one_line(f"{type(exc).__name__}: {exc} (re-run with --debug for details)")
            ) from exc


class _ProgressAwareHandler(logging.Handler):
    """Writes log lines to stderr through tqdm, so an active progress bar is redrawn below."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_logging(verbose: int, quiet: bool, ctx: click.Context | None = None) -> None:
    """Send the package's log records to stderr at the level of -v/-q.

    With ``ctx`` the previous logger state comes back when the command ends, so running the
    CLI in-process (tests, notebooks) leaves the ``syncnet_eval`` logger as it found it.
    """
    if ctx is not None:
        saved = (log.handlers[:], log.level, log.propagate)

        def restore() -> None:
            log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]

        ctx.call_on_close(restore)
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler = _ProgressAwareHandler()
    handler.setFormatter(OneLineFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncnet-eval")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also SYNCNET_EVAL_DEBUG=1).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """SyncNet lip-sync scores: AV offset, LSE-D (lower is better), LSE-C (higher is better)."""
    ctx.obj = AppState(debug=debug, verbose=verbose)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command line and exit with its status."""
    tune_malloc()
    try:
        code = cli.main(args=argv, prog_name="syncnet-eval", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        click.echo("Aborted.", err=True)
        # Ctrl-C exits 130 (128 + SIGINT); SIGTERM, which the run driver turns into a stop of
        # its own (``engines.run.StoppedBySignal``, carrying ``signum``), 143.
        signum = getattr(exc.__cause__, "signum", None)
        sys.exit(128 + signum if isinstance(signum, int) else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
