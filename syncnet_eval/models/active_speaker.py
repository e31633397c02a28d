"""The active-speaker models, by name: the registry ``--asd`` and ``--asd-model`` choose from.

Light (no numpy or torch): the configuration reads the names for its options; the scorer's
module (``syncnet_eval.asd``, torch) is imported when a model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..registry import choose, load

__all__ = ["DEFAULT_ASD_MODEL", "REGISTRY", "ActiveSpeakerSpec", "get_active_speaker_model"]


@dataclass(frozen=True)
class ActiveSpeakerSpec:
    """One active-speaker model of the registry.

    Attributes:
        name: the ``--asd`` value.
        help: one sentence saying what it is.
        checkpoints: ``--asd-model`` value -> the weights registry's name of that published
            checkpoint (``models.weights.OPTIONAL``), the first being the default.
        loader: ``module:function`` loading it (``checkpoint``, ``device``, ``weights``,
            ``offline``, ``progress`` keywords).
    """

    name: str
    help: str
    checkpoints: dict[str, str] = field(hash=False)
    loader: str = ""

    def weights_name(self, checkpoint: str) -> str:
        """The weights registry's name of ``checkpoint``.

        Raises:
            ConfigError: no such checkpoint of this model (the message lists them).
        """
        name: str = choose(self.checkpoints, checkpoint, f"{self.name} checkpoint")
        return name

    def load(self, checkpoint: str, device: Any, **settings: Any) -> Any:
        """The scorer (an ``asd.ActiveSpeakerScorer``; not named here, as ``asd`` imports this
        registry) with ``checkpoint``'s weights; its module is imported now."""
        return load(self.loader)(checkpoint, device, **settings)


REGISTRY: dict[str, ActiveSpeakerSpec] = {
    spec.name: spec
    for spec in (
        ActiveSpeakerSpec(
            "light-asd",
            "Light-ASD (Liao et al., CVPR 2023)",
            {"talkset": "light-asd-talkset", "ava": "light-asd-ava"},
            loader="syncnet_eval.asd:load_light_asd",
        ),
    )
}
DEFAULT_ASD_MODEL = next(iter(REGISTRY))


def get_active_speaker_model(name: str) -> ActiveSpeakerSpec:
    """The registered active-speaker model ``name``.

    Raises:
        ConfigError: no such model (the message lists them).
    """
    spec: ActiveSpeakerSpec = choose(REGISTRY, name, "active-speaker model")
    return spec
