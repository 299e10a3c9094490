"""No import cycles between the modules of landmarkbench.

Every module is parsed with ``ast`` (nothing is imported) and every import counts: module
level, inside functions (lazy imports), and under ``if TYPE_CHECKING:``. ``from pkg import
name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``. A package's
``__init__`` is the package's own node; importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``, but those only matter when they import something, so they are edges too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "landmarkbench"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# Cycles being removed by another change: the modules a cycle runs through, and the reason
# (none today). A cycle only through modules of one entry is expected (xfail); when none is
# left the test fails, asking to remove the entry.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _parents(name: str) -> list[str]:
    """``a.b.c`` -> [``a``, ``a.b``]: the packages whose ``__init__`` an import runs."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` with c a name inside a.b: fall back to the longest module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] == PACKAGE:
                found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan),
    each as a closed path ``[a, b, ..., a]`` through the component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, component) for component in components]


def _path_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return sorted(component)  # unreachable for a strongly connected component


def test_the_graph_sees_every_module_and_lazy_imports() -> None:
    graph = import_graph()
    assert "landmarkbench.datasets.isbi2015.adapter" in graph
    # A lazy import (inside a method) is an edge: the adapter's validate hook uses its tree.
    assert (
        "landmarkbench.datasets.isbi2015.tree" in graph["landmarkbench.datasets.isbi2015.adapter"]
    )
    # ``from pkg import module`` resolves to the module, not to the package.
    assert "landmarkbench.datasets.isbi2015.layout" in graph["landmarkbench.datasets.isbi2015.tree"]


def test_find_cycles_names_the_modules_of_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    known: dict[frozenset[str], list[str]] = {}
    unexpected = []
    for cycle in find_cycles(import_graph()):
        group = next((g for g in KNOWN_CYCLES if set(cycle) <= g), None)
        if group is None:
            unexpected.append(" -> ".join(cycle))
        else:
            known[group] = cycle
    assert not unexpected, "Import cycles in landmarkbench:\n" + "\n".join(unexpected)
    gone = [sorted(group) for group in KNOWN_CYCLES if group not in known]
    assert not gone, f"Known cycles no longer exist; remove them from KNOWN_CYCLES: {gone}"
    if known:
        reasons = "; ".join(f"{' -> '.join(c)} ({KNOWN_CYCLES[g]})" for g, c in known.items())
        pytest.xfail(f"only known cycles remain: {reasons}")


# The stages, from the command line down: a module may import its own stage and the stages
# below it, never one above (the core modules at the top of the package serve every stage).
LAYERS = (
    ("cli",),
    ("run", "report", "deploy"),
    ("spec",),
    ("results",),
    ("methods", "training", "models", "heatmaps", "uncertainty", "protocols"),
    ("preprocessing",),
    ("evaluation",),
    ("datasets", "acquire"),
)


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in _RANK) else None


_RANK = {stage: rank for rank, stages in enumerate(LAYERS) for stage in stages}


def test_stages_import_only_downwards() -> None:
    """``run`` never reaches ``report`` or ``cli`` (it returns results, the command prints),
    and nothing below the runner imports the runner, the reports or the command line."""
    upward = []
    for module, targets in sorted(import_graph().items()):
        stage = _stage(module)
        for target in sorted(targets):
            target_stage = _stage(target)
            if stage in _RANK and target_stage in _RANK and _RANK[target_stage] < _RANK[stage]:
                upward.append(f"{module} -> {target}")
    report_from_run = [
        line for line in upward if ".run." in line.split(" -> ")[0] and ".report" in line
    ]
    assert not report_from_run, report_from_run
    assert not upward, "Imports against the stage order:\n" + "\n".join(upward)
