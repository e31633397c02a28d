"""The recipe registry: the one place that knows recipes by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from syncnet_eval.config import PipelineConfig
from syncnet_eval.errors import ConfigError
from syncnet_eval.recipes import RECIPES, REGISTRY, check_recipe_options, get_recipe, recipe_help

PACKAGE = Path(__file__).resolve().parents[1] / "syncnet_eval"


def _names_in(node: ast.AST) -> set[str]:
    """Recipe names written as string constants in ``node`` (a tuple or set of them too)."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and sub.value in REGISTRY:
            found.add(sub.value)
    return found


def test_no_recipe_name_is_compared_outside_the_registry() -> None:
    offences = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "recipes" / "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and _names_in(node):
                offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offences == []


def test_the_test_sees_a_compare_written_the_old_way() -> None:
    old = ast.parse('if recipe == "syncnet-pipeline" or name in ("direct", "x"):\n    pass\n')
    compares = [n for n in ast.walk(old) if isinstance(n, ast.Compare)]
    assert [_names_in(c) for c in compares] == [{"syncnet-pipeline"}, {"direct"}]


def test_every_recipe_has_a_runner_help_and_a_known_family() -> None:
    # --recipe offers the SyncNet recipes; lmd (no SyncNet) is run by its own command.
    assert tuple(n for n, s in REGISTRY.items() if s.needs_syncnet) == RECIPES
    assert set(REGISTRY) - set(RECIPES) == {"lmd"} and get_recipe("lmd").needs_reference
    for name in REGISTRY:
        spec = get_recipe(name)
        module, function = spec.runner.split(":")
        assert (PACKAGE / "recipes" / f"{module}.py").is_file()
        assert f"def {function}(" in (PACKAGE / "recipes" / f"{module}.py").read_text()
        assert (f"{name}: {spec.help}" in recipe_help()) == spec.needs_syncnet
    with pytest.raises(ConfigError, match="unknown recipe 'nope'; choose one of"):
        get_recipe("nope")


def test_active_speaker_options_need_a_recipe_with_face_tracks() -> None:
    asd = PipelineConfig(asd="light-asd")
    for name, spec in REGISTRY.items():
        if spec.needs_tracks:
            check_recipe_options(name, asd)
        else:
            with pytest.raises(ConfigError, match="need face tracks"):
                check_recipe_options(name, asd)
