"""How every registry of the package looks an entry up and loads what implements it.

The registries (recipes, executors, embedders, face detectors, landmark backends, active-speaker
models) are one shape: a frozen ``*Spec`` dataclass per entry (its ``name``, a ``help``
sentence, what it needs, and the ``"module:attribute"`` that implements it), a ``REGISTRY``
dict by name, a ``get_*`` that looks a name up with :func:`choose`, and the implementing module
imported by :func:`load` only when the entry is used. The registries are light (no numpy or
torch): ``--help`` lists their names.
"""

from __future__ import annotations

from collections.abc import Mapping
import importlib
from typing import Any

from .errors import ConfigError

__all__ = ["choose", "load"]


def choose(table: Mapping[str, Any], name: str, what: str) -> Any:
    """``table[name]``, or a :class:`ConfigError` naming ``what`` and listing the choices."""
    try:
        return table[name]
    except KeyError:
        raise ConfigError(f"unknown {what} {name!r}; choose one of {', '.join(table)}") from None


def load(ref: str, package: str | None = None) -> Any:
    """The attribute ``ref`` names (``"module:attribute"``; a module relative to ``package``
    when it starts with a dot), importing its module now."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module, package), attr)
