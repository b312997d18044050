"""The rebalance package imports without cycles, and scenario sections and rule classes do not share names.

The model under construction (``core.rebalance.build``) is imported at the top by the constraint
families and objective terms; ``core.rebalance.model`` assembles them and imports both at the top.
No module of the package hides a cycle behind a function-local import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "core" / "rebalance"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_no_function_local_imports_of_the_product() -> None:
    """Every ``from core...`` import of the package is at module level."""
    local = []
    for module in MODULES:
        tree = _tree(module)
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if id(node) in top_level:
                continue
            for name in _imported_modules(node):
                if name == "core" or name.startswith("core."):
                    local.append(f"core/rebalance/{module}.py:{getattr(node, 'lineno', 0)} imports {name}")
    assert local == []


def test_the_package_import_graph_has_no_cycle() -> None:
    """Module-level imports between the package's modules form a DAG (so any import order works),
    and no module imports the package itself (its __init__ imports them all)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = set()
        for node in _tree(module).body:
            for name in _imported_modules(node):
                assert name != "core.rebalance", f"{module} imports the package core.rebalance"
                if name.startswith("core.rebalance."):
                    targets.add(name.removeprefix("core.rebalance."))
        graph[module] = targets
    assert graph["constraints"] >= {"build"} and graph["objective"] >= {"build"}
    assert graph["model"] >= {"build", "constraints", "objective"}
    assert "model" not in graph["build"] | graph["constraints"] | graph["objective"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path, module))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())


# Imports each module as the first of the package, in one fresh interpreter: the package's
# __init__ (which imports everything in its own order) is replaced by an empty package, and every
# module of the package is forgotten before the next one is imported.
EACH_FIRST = textwrap.dedent(
    """
    import importlib, sys, types
    from pathlib import Path
    import core
    failed = []
    for name in sys.argv[1:]:
        for key in [k for k in sys.modules if k == "core.rebalance" or k.startswith("core.rebalance.")]:
            del sys.modules[key]
        stub = types.ModuleType("core.rebalance")
        stub.__path__ = [str(Path(core.__file__).parent / "rebalance")]
        sys.modules["core.rebalance"] = stub
        try:
            importlib.import_module("core.rebalance." + name)
        except Exception as error:
            failed.append(f"{name}: {type(error).__name__}: {error}")
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EACH_FIRST, *MODULES], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


@pytest.mark.parametrize("module", ["build", "constraints", "objective", "model"])
def test_the_model_modules_import_alone(module: str) -> None:
    """``python -c "import core.rebalance.X"`` for the modules that used to import each other."""
    done = subprocess.run(
        [sys.executable, "-c", f"import core.rebalance.{module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _classes(module: str) -> set[str]:
    return {node.name for node in _tree(module).body if isinstance(node, ast.ClassDef)}


def test_scenario_sections_and_rule_classes_do_not_share_names() -> None:
    rules = _classes("constraints") | _classes("objective") | _classes("build")
    assert _classes("scenario") & rules == set()
    # Nor are sections named like the modules that read them (Constraints / Objective).
    assert {name.lower() for name in _classes("scenario") - {"Scenario"}} & set(MODULES) == set()


def test_benchmark_and_test_helpers_stay_out_of_the_product() -> None:
    """The GAP reader and solver live in bench/, the synthetic frames in tests/; nothing shipped
    (core/, jobs/, dashboard/) imports from bench/ or tests/."""
    assert not (PACKAGE / "gap.py").exists() and not (PACKAGE / "synthetic.py").exists()
    found = []
    for folder in ("core", "jobs", "dashboard"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                for name in _imported_modules(node):
                    if name.split(".")[0] in ("bench", "tests"):
                        found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []
