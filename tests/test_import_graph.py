"""The package's layering: no import cycles anywhere, and the names/config layer never pulls in torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import modules_imported_after

PACKAGE_ROOT = Path(__file__).parents[1] / "src" / "sharedlatent"
TORCH_FREE = ("sharedlatent.names", "sharedlatent.config", "sharedlatent.errors", "sharedlatent.arrays")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE_ROOT.rglob("*.py")}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every sharedlatent module `path` imports, at any depth (lazy and TYPE_CHECKING imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module in known and node.level == 0:
            # `from package import submodule` depends on the submodule, `from module import name` on the module.
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= submodules if len(submodules) == len(node.names) else submodules | {node.module}
    # The package's __init__ only re-exports lazily: it is the top of the graph, not a layer below anything.
    return found - {"sharedlatent"}


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", TORCH_FREE)
def test_the_names_and_config_layer_never_imports_torch(module):
    assert modules_imported_after(f"import {module}", ("torch",)) == []


@pytest.mark.parametrize("module", TORCH_FREE)
def test_the_names_and_config_layer_has_no_torch_import_statement(module):
    path = package_modules()[module]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f"{module} imports torch"
