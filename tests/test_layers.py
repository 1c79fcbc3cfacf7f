"""The layers point one way: probes <- fever (core) <- distill (training) <- tools.

Imports are read with ``ast`` (inside functions too), so an import hidden in a function body
counts; only ``if TYPE_CHECKING:`` blocks (type hints, never run) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("probes", "fever", "distill", "tools")
# what each layer may import of ours
ALLOWED = {
    "probes": {"probes"},
    "fever": {"fever", "probes"},
    "distill": {"distill", "fever", "probes"},
    "tools": set(PACKAGES),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path) -> set[str]:
    """Absolute names of what a file imports (``from . import x`` gives ``package.x``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_layer_imports_only_the_layers_below(package):
    wrong = []
    for path in _files(package):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_between_core_modules():
    """Module to module (package __init__ files re-export and are left out)."""
    modules = {_module_name(p): p for p in _files("fever") if p.name != "__init__.py"}
    graph = {m: {n for n in imports_of(p) if n in modules and n != m} for m, p in modules.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                todo.extend(graph[m])
        return False

    cycles = sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if reaches(b, a))
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_hidden_and_relative_imports(tmp_path, monkeypatch):
    """The reader itself: a function-level relative import counts, a TYPE_CHECKING one does not."""
    pkg = ROOT / "fever" / "models"
    names = imports_of(pkg / "network.py")
    assert "fever.models.hub" in names and "torch" in names
    assert "fever.models.network" not in imports_of(pkg / "hub.py")  # only under TYPE_CHECKING there
    assert "distill.evaluate" in imports_of(ROOT / "tools" / "export_check.py")
