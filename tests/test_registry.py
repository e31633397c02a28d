"""Every registry of the package in one shape (``registry.py``): a frozen spec per entry named
by its key, with a help sentence; a ``REGISTRY`` dict; a getter that refuses an unknown name
listing the choices; light to import (no numpy or torch)."""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import importlib
import subprocess
import sys
from typing import Any

import pytest

from syncnet_eval.errors import ConfigError

REGISTRIES = [
    ("syncnet_eval.recipes", "get_recipe"),
    ("syncnet_eval.engines", "executor_entry"),
    ("syncnet_eval.embedders", "get_embedder"),
    ("syncnet_eval.faces", "get_detector"),
    ("syncnet_eval.landmarks", "get_backend"),
    ("syncnet_eval.models.active_speaker", "get_active_speaker_model"),
    ("syncnet_eval.extractors", "get_extractor"),
]


@pytest.mark.parametrize(("module", "getter"), REGISTRIES)
def test_a_registry_is_specs_by_name_and_a_getter_that_lists_them(module: str, getter: str) -> None:
    mod = importlib.import_module(module)
    registry: dict[str, Any] = mod.REGISTRY
    assert registry
    for name, spec in registry.items():
        assert dataclasses.is_dataclass(spec) and type(spec).__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert spec.name == name and isinstance(spec.help, str) and spec.help
    get: Callable[[str], Any] = getattr(mod, getter)
    with pytest.raises(ConfigError, match="choose one of " + ", ".join(registry)):
        get("no-such-entry")


def test_the_registries_are_light() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module, _ in REGISTRIES)
        + "print(sorted(m for m in ('numpy', 'torch', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
