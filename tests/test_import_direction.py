"""The import graph of the package, read from the source: the library layer never imports a
pipeline, pipelines do not import each other, only the registry imports pipelines, no circles."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = "pediatric_pneumonia"
SOURCE = REPO_ROOT / "src" / PACKAGE
PIPELINES = f"{PACKAGE}.pipelines"
# Kedro's own entry points: the registry assembles the pipelines, settings names the hooks.
REGISTRY = f"{PACKAGE}.pipeline_registry"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def imported_modules(name: str) -> set[str]:
    """Project modules that ``name`` imports anywhere in its file (top level or inside functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def pipeline_of(name: str) -> str | None:
    """``balancing`` for ``pediatric_pneumonia.pipelines.balancing.nodes``; None outside pipelines/."""
    parts = name.split(".")
    return parts[2] if name.startswith(PIPELINES + ".") else None


def test_the_library_layer_imports_no_pipeline():
    upward = {
        name: sorted(target for target in targets if target.startswith(PIPELINES))
        for name, targets in GRAPH.items()
        if not name.startswith(PIPELINES) and name != REGISTRY
    }
    assert {name: targets for name, targets in upward.items() if targets} == {}


def test_a_pipeline_imports_no_other_pipeline():
    crossing = {
        name: sorted(target for target in targets if pipeline_of(target) not in (None, pipeline_of(name)))
        for name, targets in GRAPH.items()
        if pipeline_of(name)
    }
    assert {name: targets for name, targets in crossing.items() if targets} == {}


def test_there_is_no_import_circle():
    circles = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    # A package's __init__ re-exporting its own modules is not a circle: the modules never import it back.
    assert circles == []


@pytest.mark.parametrize("module", [f"{PACKAGE}.hooks", f"{PACKAGE}.settings", PACKAGE])
def test_a_kedro_session_and_the_package_import_no_deep_learning_framework(module):
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(sorted({{'keras', 'tensorflow'}} & set(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip().splitlines()[-1] == "[]"
