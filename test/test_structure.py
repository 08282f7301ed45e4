# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The package's structure (docs/architecture.md): no import cycle, the layering, the runtime side's imports, sizes.

Imports are read from the source with ``ast``, not executed. Every import statement counts, also one deferred into
a function or placed under ``TYPE_CHECKING``: deferring an import hides a cycle when the modules load, not in the
design (the cycle that ``eval`` and its node replay once had worked only because one side deferred its import).
A string that names a module of the package (``cli.COMMANDS``) or ``module:Class`` (the backend registry) counts as
an import by the module that holds it, since that module imports it by name. Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``, so those edges count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from support.runtime_side import HEAVY_LIBRARIES, PACKAGE_DIR, module_name, runtime_modules

PACKAGE = PACKAGE_DIR.name

# (importer prefix, imported prefix): the layering rule says the first never imports the second.
FORBIDDEN = (
    ("disk_trt_ros.errors", "disk_trt_ros."),
    ("disk_trt_ros.files", "disk_trt_ros.contract"),
    ("disk_trt_ros.metadata", "disk_trt_ros.contract"),
    ("disk_trt_ros.contract", "disk_trt_ros.matcher_contract"),
    ("disk_trt_ros.contract", "disk_trt_ros.inference"),
    ("disk_trt_ros.contract", "disk_trt_ros.export"),
    ("disk_trt_ros.matcher_contract", "disk_trt_ros.inference"),
    ("disk_trt_ros.matcher_contract", "disk_trt_ros.export"),
    ("disk_trt_ros.image_conversion", "disk_trt_ros.inference"),
    ("disk_trt_ros.photos", "disk_trt_ros.inference"),
    ("disk_trt_ros.middleware", "disk_trt_ros.inference"),
    ("disk_trt_ros.export", "disk_trt_ros.inference"),
    ("disk_trt_ros.export", "disk_trt_ros.node"),
    ("disk_trt_ros.export", "disk_trt_ros.evaluation"),
    ("disk_trt_ros.inference", "disk_trt_ros.node"),
    ("disk_trt_ros.inference", "disk_trt_ros.evaluation"),
    ("disk_trt_ros.inference", "disk_trt_ros.launch_plan"),
    ("disk_trt_ros.node", "disk_trt_ros.evaluation"),
)
MAX_LINES = 400
MAX_LINES_TENSORRT = 250


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_modules(name: str) -> set[str]:
    """The package's modules that module ``name`` imports (see the module docstring for what counts)."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            targets.add(node.value.partition(":")[0] if ":" in node.value else node.value)
    found = set()
    for target in targets:
        while target and target not in MODULES:  # ``from a.b import C`` names a class of module a.b
            target = target.rpartition(".")[0]
        parts = target.split(".")
        found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))  # with the packages' __init__
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imported_modules(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_is_read() -> None:
    """The graph is not empty by accident: known edges, deferred and by name, are there."""
    assert "disk_trt_ros.contract" in GRAPH["disk_trt_ros.inference.base"]
    assert "disk_trt_ros.inference.tensorrt.cuda_bindings" in GRAPH["disk_trt_ros.inference.registry"]  # deferred
    assert "disk_trt_ros.inference.torch_backend" in GRAPH["disk_trt_ros.inference.registry"]  # module:Class
    assert "disk_trt_ros.evaluation.cli" in GRAPH["disk_trt_ros.cli"]  # the command registry
    assert "disk_trt_ros.evaluation" in GRAPH["disk_trt_ros.evaluation.cli"]  # the package's __init__


def test_cycle_detection_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_layers_import_only_downwards() -> None:
    violations = [
        f"{importer} imports {imported}"
        for importer, imports in GRAPH.items()
        for imported in imports
        for lower, upper in FORBIDDEN
        if (importer == lower or importer.startswith(lower + ".")) and imported.startswith(upper.rstrip("."))
        and imported != importer
    ]
    assert violations == []


def test_the_runtime_side_imports_without_torch_opencv_kornia_or_rclpy() -> None:
    pytest.importorskip("onnxruntime", reason="the runtime side includes the onnxruntime backend: it is not installed")
    blocked = "; ".join(f"sys.modules[{library!r}] = None" for library in HEAVY_LIBRARIES)
    imports = "; ".join(f"import {name}" for name in runtime_modules())
    result = subprocess.run([sys.executable, "-c", f"import sys; {blocked}; {imports}"], capture_output=True,
                            text=True, cwd=PACKAGE_DIR.parent, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_runtime_side_is_python_3_9() -> None:
    """Jetson's JetPack 5 has Python 3.8/3.9: no newer syntax, annotations never evaluated, no newer keywords."""
    problems = []
    for name in runtime_modules():
        source = MODULES[name].read_text()
        tree = ast.parse(source, feature_version=(3, 9))
        has_code = any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in tree.body)
        postponed = any(
            isinstance(node, ast.ImportFrom) and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names)
            for node in tree.body
        )
        if has_code and not postponed:
            problems.append(f"{name}: no 'from __future__ import annotations' (annotations would be evaluated)")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                keywords = {keyword.arg for keyword in node.keywords}
                called = ast.unparse(node.func)
                if called == "zip" and "strict" in keywords:
                    problems.append(f"{name}:{node.lineno}: zip(strict=) is Python 3.10")
                if called.endswith("dataclass") and keywords & {"slots", "kw_only"}:
                    problems.append(f"{name}:{node.lineno}: dataclass(slots=/kw_only=) is Python 3.10")
    assert problems == []


def test_no_module_is_too_long() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    too_long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    too_long.update({
        name: lines for name, lines in lengths.items()
        if name.startswith("disk_trt_ros.inference.tensorrt") and lines > MAX_LINES_TENSORRT
    })
    assert too_long == {}
