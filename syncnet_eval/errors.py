"""Exception hierarchy. Every message names what failed, for which file, and how to fix it.

Each status a record can carry (see :data:`syncnet_eval.status.Status`) has one exception class;
a recipe raises it, and :class:`~syncnet_eval.pipeline.SyncPipeline` turns it into a record with
that ``status`` and the message as ``reason``. Errors that are not the input's fault (weights,
configuration, a missing program) stop the run instead.
"""

from __future__ import annotations

from typing import ClassVar

from .status import Status

__all__ = [
    "SyncEvalError",
    "InputError",
    "DecodeError",
    "NoAudioError",
    "NoFaceError",
    "TooShortError",
    "ModelWeightsError",
    "ConfigError",
    "DependencyError",
    "OutputError",
    "OutputWriteError",
    "error_for_status",
]


class SyncEvalError(Exception):
    """Base class of every error the library raises on purpose.

    ``status`` is the result status a batch run records for the failing input.
    """

    status: ClassVar[Status] = "error"


class InputError(SyncEvalError):
    """The input cannot be scored: missing, not a file, a frame size the recipe cannot take...

    Subclasses name the more specific statuses; ``code`` (the record's ``reason_code``) tells
    causes of one status apart, e.g. ``faces_too_small`` among ``no_face``.
    """

    status: ClassVar[Status] = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class DecodeError(InputError):
    """The media could not be read or decoded (status ``decode_error``)."""

    status: ClassVar[Status] = "decode_error"


class NoAudioError(InputError):
    """The input has no audio stream to score against (status ``no_audio``)."""

    status: ClassVar[Status] = "no_audio"


class NoFaceError(InputError):
    """No face, or only faces too small to score (status ``no_face``)."""

    status: ClassVar[Status] = "no_face"


class TooShortError(InputError):
    """Too few frames, with audio, in a scene or a face track to score (status ``too_short``)."""

    status: ClassVar[Status] = "too_short"


class ModelWeightsError(SyncEvalError):
    """Weights are missing, corrupt, or do not fit the architecture."""


class ConfigError(SyncEvalError):
    """An option value is out of range or contradicts another one."""


class DependencyError(SyncEvalError):
    """An external program or optional module is missing; the message says how to install it."""


class OutputError(SyncEvalError):
    """An output cannot be written (disk full, permissions) or is in use by another run."""


class OutputWriteError(OutputError):
    """Writing an output failed while or after the work was done (a full disk, an I/O error),
    as opposed to an output refused before any work (``OutputError`` itself)."""


_INPUT_ERRORS: dict[Status, type[InputError]] = {
    cls.status: cls for cls in (InputError, DecodeError, NoAudioError, NoFaceError, TooShortError)
}


def error_for_status(status: Status) -> type[InputError]:
    """The exception class of a failure status (``InputError`` for ``error``).

    Raises:
        ValueError: for ``ok``, which is not a failure.
    """
    try:
        return _INPUT_ERRORS[status]
    except KeyError:
        raise ValueError(f"{status!r} is not a failure status") from None
