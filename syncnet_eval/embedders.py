"""The embedders a run can score with, by name: SyncNet, or one a caller registers.

The embedder is part of the configuration (``BatchConfig.embedder``), hashed by its name: a
test's embedder with a known signal, or your own model, is one more configuration, run by the
same driver as SyncNet (``engines.run.run_inputs``), by any executor. Adding one::

    register_embedder(EmbedderSpec("signal", "brightness vs loudness", "my_tests.media:Signal"))
    run_inputs(inputs, BatchConfig("direct", embedder="signal"))

``factory`` names a callable (``"module:attribute"``, imported when a scorer is built, also in
a worker process) that takes no arguments and returns an ``embed.Embedder``. ``syncnet`` has no
factory: SyncNet is built from its weights, which the driver finds once.

This module is light (no numpy or torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError
from .registry import choose, load

if TYPE_CHECKING:  # annotations only: it loads torch
    from .embed import Embedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "REGISTRY",
    "EmbedderSpec",
    "get_embedder",
    "register_embedder",
]


@dataclass(frozen=True)
class EmbedderSpec:
    """One embedder of the registry.

    Attributes:
        name: its name (``BatchConfig.embedder``; the configuration hash names it).
        help: one sentence saying what it is.
        factory: ``"module:attribute"`` of a callable with no arguments returning an
            ``embed.Embedder``; ``None`` for SyncNet, built from its weights.
    """

    name: str
    help: str
    factory: str | None = None

    @property
    def needs_syncnet_weights(self) -> bool:
        """SyncNet's weights are looked for (and hashed) only for SyncNet."""
        return self.factory is None

    def build(self) -> Embedder:
        """A new embedder from ``factory`` (not for SyncNet: ``SyncPipeline`` loads it)."""
        if self.factory is None:
            raise ConfigError(f"embedder {self.name!r} is built from its weights by SyncPipeline")
        embedder: Embedder = load(self.factory)()
        return embedder


DEFAULT_EMBEDDER = "syncnet"

REGISTRY: dict[str, EmbedderSpec] = {
    DEFAULT_EMBEDDER: EmbedderSpec(
        DEFAULT_EMBEDDER, "SyncNet (syncnet_v2.model, or --syncnet-weights)"
    ),
}


def get_embedder(name: str) -> EmbedderSpec:
    """The registered embedder ``name``.

    Raises:
        ConfigError: no such embedder (the message lists them).
    """
    spec: EmbedderSpec = choose(REGISTRY, name, "embedder")
    return spec


def register_embedder(spec: EmbedderSpec) -> None:
    """Add ``spec`` to the registry (registering the same spec again is harmless).

    Raises:
        ConfigError: another embedder already has its name, or it has no factory.
    """
    if spec.factory is None or ":" not in spec.factory:
        raise ConfigError(f"embedder {spec.name!r}: give its factory as 'module:attribute'")
    known = REGISTRY.get(spec.name)
    if known is not None and known != spec:
        raise ConfigError(f"an embedder named {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
