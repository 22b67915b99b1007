"""The shape of src/promptctl: no import cycle, no upward import, few top-level modules.

The import graph is built from the source with `ast`: every `import` and `from ... import` of a
promptctl module, at module level or inside a function (lazy imports are still dependencies),
but not under `if TYPE_CHECKING:` (annotations only, never run). `from pkg import name` is an
edge to `pkg.name` when that is a module, else to `pkg`. The layer map is CONTRIBUTING.md's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "promptctl"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
MAX_TOP_LEVEL_MODULES = 12  # issue 13: new code goes into the package of its concept


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _imports_in(other)
            continue
        yield from _imports_in(child)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def imports_of(name: str, path: Path) -> dict[str, int]:
    """promptctl modules `name` imports -> the first line it does so on."""
    found: dict[str, int] = {}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for target in targets:
            if target.split(".")[0] == "promptctl" and target != name:
                assert target in MODULES, f"{name}:{node.lineno} imports unknown {target}"
                found.setdefault(target, node.lineno)
    return found


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def layer_map() -> list[list[str]]:
    """CONTRIBUTING.md's layers, top first: the lines of the fenced block after `## Layers`."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    block = re.search(r"## Layers.*?```text\n(.*?)```", text, re.S)
    assert block, "CONTRIBUTING.md has no ```text layer block under ## Layers"
    layers = []
    for line in block.group(1).splitlines():
        entries = line.split("#")[0].split(":", 1)[-1]
        names = [e.strip() for e in entries.replace(",", " ").split() if e.strip()]
        if names:
            layers.append(names)
    return layers


LAYERS = layer_map()


def layer_of(module: str) -> int:
    """Index of the layer (0 = top) whose most specific entry covers `module`."""
    rel = module.removeprefix("promptctl").lstrip(".") or "__init__"
    best: tuple[int, int] | None = None
    for i, names in enumerate(LAYERS):
        for entry in names:
            if rel == entry or rel.startswith(entry + "."):
                depth = entry.count(".") + 1
                if best is None or depth > best[0]:
                    best = (depth, i)
    assert best is not None, f"{module} is in no layer of CONTRIBUTING.md: add it there"
    return best[1]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{a}:{line} imports {b} (layer {layer_of(a)} -> {layer_of(b)})"
        for a, targets in GRAPH.items()
        for b, line in targets.items()
        if layer_of(b) < layer_of(a)
    ]
    assert upward == [], "imports against CONTRIBUTING.md's layer map:\n" + "\n".join(upward)


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_lazy_imports_included() -> None:
    report = [
        " <-> ".join(c)
        + "".join(f"\n    {a}:{GRAPH[a][b]} -> {b}" for a in c for b in GRAPH[a] if b in c)
        for c in cycles(GRAPH)
    ]
    assert report == [], "import cycles:\n" + "\n".join(report)


def test_the_checker_can_fail() -> None:
    # a cycle through three modules, and a lazy import inside a function, are both seen
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
    code = "def f():\n    from promptctl.errors import UsageError\n"
    nodes = list(_imports(ast.parse(code)))
    assert len(nodes) == 1
    assert nodes[0].lineno == 2
    guarded = "if TYPE_CHECKING:\n    from promptctl.model import Prompt\nelse:\n    import os\n"
    assert [type(n).__name__ for n in _imports(ast.parse(guarded))] == ["Import"]


def test_at_most_twelve_modules_directly_under_the_package() -> None:
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_the_core_imports_neither_typer_nor_rich() -> None:
    terminal = {"typer", "rich", "click"}
    offenders = [
        f"{name}:{node.lineno}"
        for name, path in MODULES.items()
        if not name.startswith(("promptctl.cli", "promptctl.reporters"))
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")))
        for target in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if target.split(".")[0] in terminal
    ]
    assert offenders == []
