"""The ffmpeg command-line tool: every ffmpeg subprocess of the package starts here.

The reference's numbers depend on the ffmpeg 5.1 CLI's encoders (the JPEG dump, the 25 fps
transcode, the XVID crops), so those steps pipe through the CLI rather than a library binding.
One argument builder (:func:`command`), three ways to run it (:func:`run` to completion,
:func:`read_stream` for stdout as it comes, :class:`Writer` for frames fed to stdin) and one
error formatter (:func:`failure`) serve every caller.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
import functools
import os
from pathlib import Path
import re
import shutil
import subprocess
import threading

from .errors import DecodeError, DependencyError, InputError

__all__ = [
    "INSTALL_HINT",
    "Completed",
    "Writer",
    "command",
    "executable",
    "failure",
    "file_url",
    "input_args",
    "message_lines",
    "read_stream",
    "reap",
    "run",
    "version",
]

INSTALL_HINT = (
    "install it with 'sudo apt-get install ffmpeg' (Debian/Ubuntu), 'brew install ffmpeg' "
    "(macOS) or 'conda install -c conda-forge ffmpeg', or point SYNCNET_EVAL_FFMPEG at the binary"
)
_PIPE_CHUNK_BYTES = 1 << 20
# ffmpeg processes of read_stream and Writer not yet waited for (see reap).
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def _track(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    return proc


def _untrack(proc: subprocess.Popen[bytes]) -> None:
    with _RUNNING_LOCK:
        _RUNNING.discard(proc)


def reap() -> int:
    """Kill and wait for every ffmpeg this process started that has not been waited for.

    A stream abandoned without being closed (an exception in its consumer, a generator left
    suspended) keeps its ffmpeg until garbage collection. Long-lived scorers (a cluster
    executor's actors) call this when no input is in flight, so that none outlives its input.

    Returns:
        How many were still running.
    """
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
        _RUNNING.clear()
    alive = 0
    for proc in procs:
        if proc.poll() is None:
            alive += 1
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()
    return alive


def executable() -> str:
    """Path of the ffmpeg CLI (``SYNCNET_EVAL_FFMPEG`` or ``ffmpeg`` on PATH), looked up per call.

    Raises:
        DependencyError: with install instructions when none is found.
    """
    exe = os.environ.get("SYNCNET_EVAL_FFMPEG") or shutil.which("ffmpeg")
    if not exe:
        raise DependencyError(f"ffmpeg not found; {INSTALL_HINT}")
    return exe


def version() -> str:
    """First line of ``ffmpeg -version`` (recorded in provenance: JPEG bits depend on it)."""
    return _version(executable())


@functools.cache
def _version(exe: str) -> str:
    out = subprocess.run([exe, "-version"], capture_output=True, check=False, text=True)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def file_url(path: str | Path) -> str:
    """``file:/absolute/path``: a name ffmpeg (and PyAV) cannot read as a protocol.

    A bare ``pipe:0.mp4`` would read stdin, ``concat:a|b.mp4`` would open other files; with the
    ``file:`` prefix every name is a file name. The path is made absolute, not resolved (a
    symlink stays a symlink).
    """
    return "file:" + os.path.abspath(path)


def input_args(path: str | Path) -> list[str]:
    """``-threads 1 -i file:PATH``: one decoder thread, so that a damaged stream decodes the
    same way every time (frame threading conceals errors differently from run to run)."""
    return ["-threads", "1", "-i", file_url(path)]


def command(*args: str) -> list[str]:
    """The full command line: no stdin, errors only on stderr, outputs overwritten."""
    return [executable(), "-nostdin", "-loglevel", "error", "-y", *args]


def failure(
    source: str | Path,
    stderr: bytes,
    action: str = "decode it",
    error: type[InputError] = DecodeError,
) -> InputError:
    """The error for a failed ffmpeg run: ``<source>: ffmpeg could not <action> (<cause>)``.

    Args:
        source: the user's file the run was about.
        stderr: what ffmpeg printed; its last non-empty line is the cause.
        action: what ffmpeg was asked to do, as a verb phrase.
        error: the exception class (its status is the record's).
    """
    lines = message_lines(stderr)
    cause = lines[-1] if lines else "no message"
    return error(f"{source}: ffmpeg could not {action} ({cause})")


def message_lines(stderr: bytes) -> list[str]:
    """ffmpeg's stderr as non-empty lines, without its "Last message repeated" bookkeeping and
    without the memory addresses in ``[h264 @ 0x55d0...]`` (so a message is the same in every
    run and process)."""
    lines = [_ADDRESS.sub("", ln).strip() for ln in stderr.decode(errors="replace").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("Last message repeated")]


_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class Completed:
    """A finished ffmpeg run."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def check(
        self, source: str | Path, action: str = "decode it", error: type[InputError] = DecodeError
    ) -> bytes:
        """``stdout`` of a successful run; else raise :func:`failure`."""
        if self.returncode != 0:
            raise failure(source, self.stderr, action, error)
        return self.stdout


def run(args: Sequence[str], *, stdin: bytes | None = None) -> Completed:
    """Run ``ffmpeg <args>`` (see :func:`command`) to completion, feeding ``stdin`` if given."""
    proc = subprocess.run(
        command(*args),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def read_stream(
    args: Sequence[str],
    *,
    source: str | Path,
    action: str = "decode it",
    messages: list[str] | None = None,
) -> Generator[bytes, None, None]:
    """Stdout of ``ffmpeg <args>`` as it arrives, in chunks of at most 1 MiB.

    Closing the generator early kills ffmpeg; a failed run raises :func:`failure` once stdout
    is drained. A run that succeeds but printed errors (a decoder concealing damage) appends
    them to ``messages``.
    """
    proc = _track(
        subprocess.Popen(
            command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    )
    try:
        assert proc.stdout is not None
        while data := proc.stdout.read1(_PIPE_CHUNK_BYTES):  # type: ignore[attr-defined]
            yield data
        stderr = proc.stderr.read() if proc.stderr else b""
        if proc.wait() != 0:
            raise failure(source, stderr, action)
        if messages is not None:
            messages.extend(message_lines(stderr))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        _untrack(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


class Writer:
    """``ffmpeg <args>`` reading raw data from stdin (an encoder fed frame by frame).

    Args:
        args: arguments; the input should be ``pipe:0``.
        source: the user's file the output belongs to (for the error message).
        action: what the run does, as a verb phrase.
    """

    def __init__(self, args: Sequence[str], *, source: str | Path, action: str) -> None:
        self.source = source
        self.action = action
        self._proc = _track(
            subprocess.Popen(
                command(*args),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )

    def write(self, data: bytes) -> None:
        """Feed ``data`` to ffmpeg's stdin."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(data)

    def close(self) -> None:
        """Finish the stream and wait; raise :func:`failure` if ffmpeg failed."""
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        stderr = self._proc.stderr.read() if self._proc.stderr else b""
        if self._proc.stderr:
            self._proc.stderr.close()
        code = self._proc.wait()
        _untrack(self._proc)
        if code != 0:
            raise failure(self.source, stderr, self.action)

    def kill(self) -> None:
        """Stop ffmpeg at once (the output is incomplete)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        _untrack(self._proc)
        for stream in (self._proc.stdin, self._proc.stderr):
            if stream and not stream.closed:
                stream.close()
