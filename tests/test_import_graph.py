"""No import cycles under rnnjax/ or experiments/ (and between them): the module graph, read from
every ``import`` statement with ``ast`` (function-level imports included), is acyclic."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("rnnjax", "experiments", "benchmarks")


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: pathlib.Path, modules: dict) -> set[str]:
    """The project modules that ``name`` imports (``from p import m`` counts ``p.m`` when it is
    a module, else ``p``)."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
    return {m for m in out if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    cycles = [c for c in _cycles(graph) if any(m.split(".")[0] == package for m in c)]
    assert not cycles, f"import cycles: {cycles}"


def test_evaluators_import_only_the_plumbing_and_the_cell():
    """The scan, the associative scan and Newton are leaves: none imports another or unroll."""
    modules = _modules()
    evaluators = {"rnnjax.scan", "rnnjax.parallel.associative", "rnnjax.parallel.newton"}
    for name in evaluators:
        imported = _imports(name, modules[name], modules)
        assert "rnnjax.unroll" not in imported, name
        assert not imported & (evaluators - {name, "rnnjax.parallel.associative"}), (name, imported)


def _dynamic_imports(path: pathlib.Path) -> set[str]:
    """Top-level packages named by ``importlib.import_module("pkg.…")`` / ``f"pkg.…"`` calls."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
                == "import_module" and node.args):
            first = node.args[0]
            if isinstance(first, ast.JoinedStr):
                first = first.values[0] if first.values else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value.split(".")[0])
    return found


def test_no_two_way_package_dependency():
    """Packages depend one way: experiments may read benchmark reports (the README's tables) and
    use rnnjax, benchmarks use rnnjax only, rnnjax uses neither (static and ``importlib``
    imports)."""
    modules = _modules()
    allowed = {"rnnjax": {"rnnjax"}, "experiments": set(PACKAGES),
               "benchmarks": {"rnnjax", "benchmarks"}}
    for name, path in modules.items():
        package = name.split(".")[0]
        used = {m.split(".")[0] for m in _imports(name, path, modules)}
        used |= _dynamic_imports(path) & set(PACKAGES)
        assert used <= allowed[package], (name, sorted(used - allowed[package]))
