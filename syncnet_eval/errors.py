"""Exception hierarchy. Every message names what failed, for which file, and how to fix it."""

from __future__ import annotations

__all__ = [
    "SyncEvalError",
    "InputError",
    "ModelWeightsError",
    "ConfigError",
    "DependencyError",
]


class SyncEvalError(Exception):
    """Base class of every error the library raises on purpose.

    ``status`` is the result status a batch run records for the failing input.
    """

    status = "error"


class InputError(SyncEvalError):
    """The input media cannot be scored (missing, undecodable, no audio, too short...)."""

    def __init__(self, message: str, status: str = "decode_error") -> None:
        super().__init__(message)
        self.status = status


class ModelWeightsError(SyncEvalError):
    """Weights are missing, corrupt, or do not fit the architecture."""


class ConfigError(SyncEvalError):
    """An option value is out of range or contradicts another one."""


class DependencyError(SyncEvalError):
    """An external program or optional module is missing; the message says how to install it."""
