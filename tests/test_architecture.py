"""The import layering of docs/architecture.md, enforced: no package imports one above it, and no cycle."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KIT = Path(__file__).resolve().parents[1] / "kit"

LAYERS: dict[str, int] = {
    "kit.events": 0,
    "kit.bridge": 1, "kit.setups": 1,
    "kit.recording": 2,
    "kit.sources": 3,
    "kit.render": 4, "kit.findings": 4, "kit.summary": 4, "kit.mcp_server": 4, "kit.coverage": 4,
    "kit.servers": 5, "kit.battery": 5, "kit.suites": 5, "kit.notebook": 5,
    "kit.runner": 6, "kit.compare": 6, "kit.compare_reasoning": 6, "kit.compare_state": 6,
    "kit.cli": 7, "kit.pytest_plugin": 7, "kit.__main__": 7,
    "kit": -1,  # kit/__init__.py: __version__ and names loaded lazily by string; it imports no kit module
}
TOP = 7  # the faces (CLI, pytest plugin) may import each other
# A module named in a string ("kit.servers.local:factory", a lazy name's module, `python -m kit.x`) is imported
# by whoever loads it; it counts as an import of the module that names it. `kit` itself names its lazy
# exports this way on purpose (they load on first use, from the caller's side): it is the one exception.
NAMED_MODULE = re.compile(r"^(kit(?:\.[a-z_][a-z0-9_]*)+)(?::[A-Za-z_][A-Za-z0-9_]*)?$")
LAZY_NAMES = {"kit"}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _imports() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> where, for every kit import at any depth of a module."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in KIT.rglob("*.py"):
        module = ".".join(path.relative_to(KIT.parent).with_suffix("").parts).removesuffix(".__init__")
        for lineno, name in _imported(path.read_text(encoding="utf-8"), module):
            if name == "kit" or name.startswith("kit."):
                source, target = _package(module), _package(name)
                if source != target:
                    edges[(source, target)].append(f"{path.relative_to(KIT.parent)}:{lineno}")
    return edges


def _imported(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a module's text, at any depth, and of every module it names in a string."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else
                 [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _package(module) not in LAZY_NAMES:
            named = NAMED_MODULE.match(node.value)
            names = [named.group(1)] if named else []
        found += [(node.lineno, name) for name in names]  # type: ignore[attr-defined]
    return found


def test_modules_named_in_strings_count_as_imports() -> None:
    """The setups registry once named server factories as "kit.servers.x:f" from layer 1: an upward import
    the AST walk did not see. A string naming a module is an edge like any import; `kit`'s lazy names are not."""
    registry = 'BUILTIN = Setup(server="kit.servers.local:local_server_for")\ncommand = ["-m", "kit.servers.bridge_app"]\n'
    assert sorted(name for _, name in _imported(registry, "kit.setups.registry")) == ["kit.servers.bridge_app",
                                                                                      "kit.servers.local"]
    assert _imported('NOTE = "kit: run"\nOTHER = "kit"\n', "kit.setups.registry") == []
    assert _imported('_LAZY = {"client": "kit.recording"}\n', "kit") == []


def test_every_kit_package_has_a_layer() -> None:
    packages = {_package(".".join(p.relative_to(KIT.parent).with_suffix("").parts).removesuffix(".__init__"))
                for p in KIT.rglob("*.py")}
    assert packages - set(LAYERS) == set(), "add new packages to docs/architecture.md and LAYERS"


def test_imports_only_go_down_the_layers() -> None:
    upward = [f"{source} (layer {LAYERS.get(source)}) imports {target} (layer {LAYERS.get(target)}) at {where[0]}"
              for (source, target), where in sorted(_imports().items())
              if not (LAYERS[target] < LAYERS[source] or LAYERS[source] == TOP)]
    assert upward == []


def test_there_is_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _imports():
        graph[source].add(target)
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if seen.get(node) == 1:
            return trail + [node]
        if seen.get(node) == 2:
            return None
        seen[node] = 1
        for nxt in sorted(graph[node]):
            found = visit(nxt, trail + [node])
            if found:
                return found
        seen[node] = 2
        return None

    cycles = [c for c in (visit(n, []) for n in sorted(graph)) if c]
    assert cycles == []


def test_the_pure_cores_import_without_the_http_stack_or_sqlite() -> None:
    """`import kit.bridge.translate` and `kit.events` work with openai, httpx, sqlite3 and numpy unavailable."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('openai', 'httpx', 'httpx2', 'sqlite3', 'numpy', 'pandas'):\n"
        "            raise ImportError('unavailable: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import kit.events, kit.bridge.translate, kit.bridge.request, kit.bridge.chunks\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=KIT.parent)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
