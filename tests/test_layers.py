"""The house's layers (docs/architecture.md): every import points down, and no cycle exists.

Each top-level folder is installed as the `recsearch` subpackage of the same name
(setup.py); `recsearch/` itself is the floor. From the bottom up:

    0 floor       recsearch/    config, errors, features (the keys), data, bundle, storage
    1 modules     modules/      the TensorFlow code run inside TFX components
    2 components  components/   the custom TFX components
    3 pipeline    pipeline/     create_pipeline
    4 kubeflow    kubeflow/     the Kubeflow runner and client
    5 apps        apps/         cli, local runner, server, bench, report regeneration

A module may import its own layer and the layers below it. Imports inside functions
count too (they hide cycles as well as any other). One edge is deliberate and not an
import statement: the model registry (floor) loads the built-in families' package
(`recsearch.modules.models.families`) by name on first use, as plugins are loaded.

Test support sits on the floor beside it: `recsearch/testing/` (tiny catalogs, config
writers, and `staging`, which runs the data steps and hands `run_fn` what TFX would).
Any test at any layer reaches it without climbing; it may stage a whole pipeline, so its
own imports are not ranked, and no production module but the benchmarks imports it. A
test file imports its own layer, the layers below, and the test support: never a higher
layer's code.
"""

from __future__ import annotations

import ast
import os

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..")
LAYERS = ("floor", "modules", "components", "pipeline", "kubeflow", "apps")
FOLDERS = {"recsearch": "floor", **{name: name for name in LAYERS[1:]}}
SUPPORT = "recsearch.testing"
# Production code that may use the test support: the benchmarks stage data as tests do.
SUPPORT_USERS = ("recsearch.apps.bench",)


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(folder: str, path: str) -> str:
    rel = os.path.relpath(path, os.path.join(REPO, folder))[: -len(".py")].split(os.sep)
    parts = ["recsearch"] + ([] if folder == "recsearch" else [folder]) + rel
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(tests: bool = False) -> dict[str, str]:
    """module name -> path: the production modules, or (`tests`) the test files."""
    found = {}
    for folder in FOLDERS:
        for root, dirs, files in os.walk(os.path.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py") and name.endswith("_test.py") == tests:
                    path = os.path.join(root, name)
                    found[_module_name(folder, path)] = path
    return found


def _production_modules() -> dict[str, str]:
    return _modules()


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS[1:] else "floor"


def imports_of(path: str, known: dict[str, str]) -> list[tuple[str, int]]:
    """(project module, line) for every import in the file, resolved to a known module."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name.startswith("recsearch") and name not in known:
                name = name.rpartition(".")[0]
            if name in known:
                found.append((name, node.lineno))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: line}."""
    known = _production_modules()
    return {
        module: {target: line for target, line in imports_of(path, known) if target != module}
        for module, path in known.items()
    }


def violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Imports that point up a layer, and production imports of the test support."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    found = []
    for module, targets in sorted(graph.items()):
        if _under(module, SUPPORT):
            continue
        for target, line in targets.items():
            if _under(target, SUPPORT):
                test = module.endswith("_test")
                if not test and not any(_under(module, u) for u in SUPPORT_USERS):
                    found.append(f"{module}:{line} imports the test support {target}")
            elif rank[layer_of(target)] > rank[layer_of(module)]:
                found.append(
                    f"{module}:{line} imports {target} ({layer_of(module)} -> {layer_of(target)})"
                )
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down_the_layers(graph):
    assert len(graph) > 100, "the walk found too few modules"
    assert violations(graph) == []


def test_no_module_imports_itself_back(graph):
    production = {
        module: {t: line for t, line in targets.items() if not _under(t, SUPPORT)}
        for module, targets in graph.items()
        if not _under(module, SUPPORT)
    }
    assert cycles(production) == []


def test_tests_reach_their_helpers_without_climbing():
    """A module's test imports its layer, the layers below and the test support only."""
    known = _production_modules()
    tests = _modules(tests=True)
    graph = {
        module: {target: line for target, line in imports_of(path, known)}
        for module, path in tests.items()
    }
    assert len(graph) > 50, "the walk found too few tests"
    assert violations(graph) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    graph = {
        "recsearch.config": {"recsearch.apps.cli": 3},
        "recsearch.apps.cli": {"recsearch.config": 1},
        "recsearch.modules.trainer": {"recsearch.components.evaluator.results": 9},
        "recsearch.components.evaluator.results": {},
        "recsearch.modules.fitting": {"recsearch.testing": 4},
        "recsearch.modules.fitting_test": {"recsearch.testing": 5},
        "recsearch.apps.bench.run": {"recsearch.testing.staging": 6},
        "recsearch.testing.staging": {"recsearch.pipeline.pipeline": 7},
    }
    assert violations(graph) == [
        "recsearch.config:3 imports recsearch.apps.cli (floor -> apps)",
        "recsearch.modules.fitting:4 imports the test support recsearch.testing",
        "recsearch.modules.trainer:9 imports recsearch.components.evaluator.results "
        "(modules -> components)",
    ]
    assert cycles(graph) == [["recsearch.apps.cli", "recsearch.config"]]


def test_every_folder_is_the_package_setup_installs():
    """setup.py maps each folder to `recsearch.<folder>`; the test's names must agree."""
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
        setup = f.read()
    for folder in LAYERS[1:]:
        assert f'"{folder}"' in setup, f"setup.py does not install {folder}/"
    import importlib

    for module in ("recsearch.apps.cli", "recsearch.modules.fitting", "recsearch.features"):
        assert importlib.util.find_spec(module) is not None, module
