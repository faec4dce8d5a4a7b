"""The package layout stays as docs/ARCHITECTURE.md describes it.

* no import cycle between pycombine's modules (every import counts, also those inside
  functions; only ``if TYPE_CHECKING:`` blocks are left out, they never run);
* data flows one way: a package never imports a package of a higher layer;
* no module above :data:`MAX_LINES` lines unless its docstring says why it must be one;
* every package is listed in pyproject.toml (a clean install would miss it otherwise);
* ``import pycombine`` and the ``combine`` command line load none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pycombine"

#: layers from the bottom up; a module may import its own layer and the layers below it
LAYERS: list[set[str]] = [
    {"errors"},
    {"datacard", "shapes", "outputs"},  # text in, files and console text out: no model knowledge
    {"physics"},  # physics models: POIs and yield scalings, plain data
    {"model", "interop"},  # datacard (or pyhf workspace) -> model description -> compiled arrays and likelihood
    {"fit"},  # minimisation, intervals, scans, toy generation
    {"methods"},  # one module per combine -M
    {"run"},  # options, session, command runner, toy driver, parallel back ends
    {"tools", "plots"},  # impacts, inspection, regressions; plots
    {"api", "cli", "__main__", "__init__"},  # the Python API and the console scripts
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}

#: longest module (lines) without a docstring saying why it must be one
MAX_LINES = 600
WHY_ONE_MODULE = "Why one module:"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> set[str]:
    """pycombine modules imported anywhere in ``path`` (outside ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out = set()
    for name in found:
        while name and name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            out.add(name)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph are all single modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                connect(w)
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
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            connect(v)
    assert not cycles, f"import cycles: {cycles}"


def test_every_package_has_a_layer():
    assert {_area(m) for m in MODULES} <= set(RANK), {_area(m) for m in MODULES} - set(RANK)


def test_no_import_from_a_higher_layer():
    bad = []
    for module, deps in GRAPH.items():
        here = RANK[_area(module)]
        for dep in deps:
            if RANK[_area(dep)] > here:
                bad.append(f"{module} (layer {here}) imports {dep} (layer {RANK[_area(dep)]})")
    assert not bad, "\n".join(sorted(bad))


def test_the_walker_sees_every_kind_of_import(tmp_path):
    """Relative, absolute and function-level imports count; TYPE_CHECKING blocks do not (a check
    that cannot fail would prove nothing)."""
    fake = tmp_path / "fake.py"
    fake.write_text("import pycombine.fit.minimize\n"
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from ..tools import impacts\n"
                    "def f():\n    from ..run import runner\n")
    assert _imports("pycombine.methods.fake", fake) == {"pycombine.run.runner", "pycombine.fit.minimize"}


def test_modules_are_small_or_say_why():
    long = []
    for module, path in MODULES.items():
        text = path.read_text()
        n = text.count("\n")
        if n > MAX_LINES and WHY_ONE_MODULE not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{module}: {n} lines")
    assert not long, long


def test_every_package_is_installed():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages <= listed, f"missing from pyproject.toml [tool.setuptools] packages: {packages - listed}"


@pytest.mark.parametrize("statement", ["import pycombine", "import pycombine.cli.combine; "
                                       "pycombine.cli.combine.build_command()"])
def test_startup_imports_no_heavy_library(statement):
    """``combine --help`` and ``import pycombine`` stay fast: numpy, scipy, uproot, iminuit,
    pandas and lark are imported only when a card is processed."""
    heavy = ("numpy", "scipy", "uproot", "iminuit", "pandas", "lark", "awkward", "matplotlib")
    code = f"{statement}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}}))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(p.stdout.strip()))
    assert not loaded & set(heavy), sorted(loaded & set(heavy))
