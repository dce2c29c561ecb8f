"""The import graph of the package, read from the source: the library layer never imports a
pipeline, pipelines do not import each other, only the registry imports pipelines, no circles; and
between packages, every import goes down the declared layers and no two packages import each other."""

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
# Kedro's registered pipelines (``from kedro.framework.project import pipelines``) are the registry's,
# read at run time: reading them imports the registry.
KEDRO_PROJECT = "kedro.framework.project"

# The layers of the package, lowest first. A unit is a subpackage or a top-level module (the package's
# own __init__ is PACKAGE); it imports only units of its own layer or lower ones. The foundation imports
# nothing of ours but each other: the allowed values, names and tables that several layers read.
LAYERS = (
    {
        "choices", "naming", "strategies", "data_layout", "class_balance", "tracking", "project_config",
        "ray_cluster", "console", "demo_data",
    },
    {"parameters"},
    {"imaging"},
    {"models"},
    {"explain"},
    {"evaluation"},
    {"search", "study", "inference"},
    {"datasets"},
    {"webapp", "cli"},
    # Entry points: Kedro's (hooks, settings, pipelines and their registry), `python -m` and the
    # package's public face (``from pediatric_pneumonia import Predictor``), which nothing inside imports.
    {"hooks", "settings", "pipelines", "pipeline_registry", "__main__", PACKAGE},
)
LAYER_OF = {unit: index for index, layer in enumerate(LAYERS) for unit in layer}


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
            if node.module == KEDRO_PROJECT and "pipelines" in {alias.name for alias in node.names}:
                found.add(REGISTRY)
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


def unit_of(name: str) -> str:
    """``models`` for ``pediatric_pneumonia.models.classifier``, ``hooks`` for ``pediatric_pneumonia.hooks``;
    PACKAGE for the package's own ``__init__``."""
    return name.split(".")[1] if "." in name else name


UNIT_GRAPH = {unit_of(name): set() for name in MODULES}
for _name, _targets in GRAPH.items():
    UNIT_GRAPH[unit_of(_name)] |= {unit_of(target) for target in _targets} - {unit_of(_name)}


def circles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle that a depth-first walk of ``graph`` closes, each as the path that returns to its start."""
    circles = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return circles


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
    # A package's __init__ re-exporting its own modules is not a circle: the modules never import it back.
    assert circles_in(GRAPH) == []


def test_every_package_and_top_level_module_has_one_layer():
    declared = [unit for layer in LAYERS for unit in layer]
    assert sorted(set(UNIT_GRAPH) - set(declared)) == []
    assert sorted(set(declared) - set(UNIT_GRAPH)) == []
    assert len(declared) == len(set(declared))


def test_every_import_goes_to_the_same_layer_or_a_lower_one():
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if LAYER_OF[unit_of(target)] > LAYER_OF[unit_of(name)]
    )
    assert upward == []


def test_no_two_packages_import_each_other():
    assert circles_in(UNIT_GRAPH) == []


@pytest.mark.parametrize("module", [f"{PACKAGE}.hooks", f"{PACKAGE}.settings", PACKAGE])
def test_a_kedro_session_and_the_package_import_no_deep_learning_framework(module):
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(sorted({{'keras', 'tensorflow'}} & set(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip().splitlines()[-1] == "[]"
