"""The house rules of STYLE.md, checked by reading the package's source.

- the import graph between the package's modules has no cycle, counting the imports made only
  for type checking (``if TYPE_CHECKING:``) and those inside functions: a cycle of annotations
  is still a knot a reader has to untie;
- no module imports (or reaches into) another module's private ``_name``;
- exactly one module, ``syncnet_eval/ffmpeg.py``, starts subprocesses;
- ``--help`` does not import torch (nor Ray or pyarrow, the optional engine's);
- no public method is dead code (named nowhere but where it is defined).
"""

from __future__ import annotations

import ast
import io
from pathlib import Path
import re
import subprocess
import sys
import tokenize

PACKAGE = "syncnet_eval"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    """Absolute module name of a ``from X import ...`` inside ``importer``."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(name: str) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` for every package import of module ``name``,
    at the top, inside functions and under ``if TYPE_CHECKING:`` alike."""
    return _imports_in(ast.parse(MODULES[name].read_text(encoding="utf-8")), name)


def _imports_in(tree: ast.Module, name: str) -> list[tuple[str, str | None, int]]:
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.startswith(PACKAGE)]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            if module.startswith(PACKAGE):
                found += [(module, a.name, node.lineno) for a in node.names]
    return found


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for module, imported, _ in _imports(name):
            target = (
                f"{module}.{imported}" if imported and f"{module}.{imported}" in MODULES else module
            )
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = _edges()
    assert sum(len(v) for v in graph.values()) > 50  # the parser does see the imports
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph) or [])


def test_the_graph_sees_imports_made_for_type_checking_only() -> None:
    """An import under ``if TYPE_CHECKING:`` (or inside a function) is an edge."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .types import VideoResult\n"
        "def f() -> None:\n"
        "    from . import errors\n"
    )
    found = _imports_in(ast.parse(source), f"{PACKAGE}.plots")
    assert found == [(f"{PACKAGE}.types", "VideoResult", 3), (PACKAGE, "errors", 5)]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_another_modules_private_names() -> None:
    offences = []
    for name in MODULES:
        for module, imported, line in _imports(name):
            parts = [*module.split(".")[1:], *([imported] if imported else [])]
            if any(_is_private(p) for p in parts):
                offences.append(f"{MODULES[name].name}:{line} imports {module} {imported or ''}")
    assert offences == []


def test_no_module_reaches_into_an_imported_modules_private_names() -> None:
    offences = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {  # local names bound to package modules
            a.asname or a.name
            for node, a in (
                (n, a) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
            )
            if f"{_resolve(name, node)}.{a.name}" in MODULES
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and _is_private(node.attr)
            ):
                offences.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert offences == []


def test_only_the_ffmpeg_module_starts_subprocesses() -> None:
    spawners = {"subprocess", "asyncio.subprocess", "pty"}
    users = set()
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name in spawners for a in node.names):
                users.add(name)
            if isinstance(node, ast.ImportFrom) and node.module in spawners:
                users.add(name)
        if "os.system(" in text or "os.popen(" in text or "create_subprocess" in text:
            users.add(name)
    assert users == {f"{PACKAGE}.ffmpeg"}


def test_help_and_version_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from syncnet_eval.cli import cli\n"
        "try:\n"
        "    cli.main(args=[sys.argv[1]], prog_name='syncnet-eval')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'ray', 'pyarrow') if m in sys.modules]\n"
        "print('TORCH' if heavy else 'NO-TORCH')\n"
    )
    for flag in ("--help", "--version"):
        out = subprocess.run(
            [sys.executable, "-c", code, flag], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip().splitlines()[-1] == "NO-TORCH", flag
    for command in (
        "score",
        "check",
        "compare",
        "report",
        "plot",
        "visualise",
        "speakers",
        "owner",
        "weights",
        "fix",
        "filter",
        "selftest",
    ):
        code_cmd = code.replace("args=[sys.argv[1]]", f"args=['{command}', '--help']")
        out = subprocess.run([sys.executable, "-c", code_cmd], capture_output=True, text=True)
        assert out.stdout.strip().splitlines()[-1] == "NO-TORCH", command


# Methods a framework calls by name (never spelled out in this repository).
_CALLED_BY_FRAMEWORKS = {"emit"}  # logging.Handler


def _unused_public_methods() -> list[str]:
    """``Class.method`` of every public method whose name appears nowhere else (the package,
    its tests, its scripts, the report's script)."""
    repo = ROOT.parent
    dirs = (PACKAGE, "tests", "scripts")
    sources = [p.read_text() for d in dirs for p in (repo / d).rglob("*.py")]
    sources += [p.read_text() for p in (ROOT / "report_assets").iterdir() if p.is_file()]
    words: dict[str, int] = {}
    for text in sources:
        for word in re.findall(r"\w+", text):
            words[word] = words.get(word, 0) + 1
    unused = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                name = getattr(item, "name", "_")
                public = isinstance(item, ast.FunctionDef) and not name.startswith("_")
                if public and words.get(name, 0) <= 1 and name not in _CALLED_BY_FRAMEWORKS:
                    unused.append(f"{node.name}.{name}")
    return unused


def test_no_public_method_is_dead_code() -> None:
    """A method nobody calls is a decision nobody takes: remove it (or use it)."""
    assert _unused_public_methods() == []


def _is_table(node: ast.AST) -> bool:
    """A literal of three or more rows (tuples or lists): a table whose alignment is the point."""
    return any(
        isinstance(n, (ast.List, ast.Tuple))
        and len(n.elts) >= 3
        and all(isinstance(e, (ast.List, ast.Tuple)) for e in n.elts)
        for n in ast.walk(node)
    )


def test_fmt_skip_only_keeps_a_tables_alignment() -> None:
    """The formatter decides the layout, except where a table's columns are the point."""
    repo = ROOT.parent
    misused = []
    for d in (PACKAGE, "tests", "scripts"):
        for path in sorted((repo / d).rglob("*.py")):
            text = path.read_text()
            tokens = tokenize.generate_tokens(io.StringIO(text).readline)
            lines = [
                t.start[0]
                for t in tokens
                if t.type == tokenize.COMMENT and t.string.startswith("# fmt: skip")
            ]
            if not lines:
                continue
            tree = ast.parse(text)
            for line in lines:
                ends = [
                    n for n in ast.walk(tree) if getattr(n, "end_lineno", None) == line
                ]  # the statement (or decorator) the comment closes
                if not any(_is_table(n) for n in ends):
                    misused.append(f"{path.relative_to(repo)}:{line}")
    assert misused == []


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in ``conftest.py`` or a helpers module, never in a test module."""
    tests = Path(__file__).resolve().parent
    test_modules = {p.stem for p in tests.glob("test_*.py")}
    found = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name} imports {n}" for n in names if n.split(".")[-1] in test_modules]
    assert found == []
