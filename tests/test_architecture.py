"""The package's shape: no import cycles (lazy imports included) and data flowing one way,
files -> facts -> model -> rules -> findings -> report."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parent.parent / "celerylint"

# A layer may import only from the layers listed for it (and from itself).
ALLOWED = {
    "facts": {"facts"},
    "findings": set(),
    "groundtruth": set(),
    "model": {"facts", "model", "groundtruth", "cache"},  # cache: where the settings snapshot lives
    "rules": {"facts", "model", "rules", "findings"},
    "report": {"findings", "rules"},  # rules: SARIF's rule descriptors
    "inspect_cmd": {"facts", "model"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> Dict[str, Set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        found: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # every scope: lazy imports count
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(target for target in targets if target in modules and target != name)
        graph[name] = found
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_import_cycles() -> None:
    graph = _imports()
    # A package's __init__ importing its own submodules is not a cycle of concern.
    edges = {name: {t for t in targets if not name.startswith(t + ".") and not t.startswith(name + ".")} for name, targets in graph.items()}
    state: Dict[str, int] = {}
    cycles: List[List[str]] = []

    def visit(node: str, stack: List[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target] if target in stack else [node, target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_data_flows_one_way() -> None:
    wrong = []
    for module, targets in _imports().items():
        allowed = ALLOWED.get(_layer(module))
        if allowed is None:
            continue
        for target in targets:
            if _layer(target) not in allowed | {_layer(module)} and target != "celerylint":
                wrong.append(f"{module} imports {target}")
    assert wrong == []
