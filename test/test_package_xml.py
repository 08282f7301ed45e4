# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""package.xml declares a rosdep key for every third-party module the code imports, and no key that nothing uses.

The imports are read from the source (``import``, ``from ... import`` and ``importlib.import_module("...")``) of
disk_trt_ros/, launch/ and scripts/ (run-time keys) and of test/ (run-time or test keys). :data:`ROSDEP_KEYS` maps each
top-level module to its key; a module with no rosdep key must be named in package.xml's comments with what installs
it instead.
"""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from support.paths import REPO_ROOT

# the package, the test harnesses, and the scripts that import one another (scripts/ is on their sys.path)
FIRST_PARTY = {"disk_trt_ros", "support"} | {path.stem for path in (REPO_ROOT / "scripts").glob("*.py")}
RUNTIME_SOURCES = ("disk_trt_ros", "launch", "scripts")
RUNTIME_DEPENDENCIES = ("depend", "exec_depend")
TEST_DEPENDENCIES = (*RUNTIME_DEPENDENCIES, "test_depend")

# top-level module -> rosdep key (None: no key exists; package.xml's comments say what installs it)
ROSDEP_KEYS: dict[str, str | None] = {
    "ament_index_python": "ament_index_python",
    "builtin_interfaces": "builtin_interfaces",
    "cv2": "python3-opencv",
    "cv_bridge": "cv_bridge",
    "diagnostic_msgs": "diagnostic_msgs",
    "hypothesis": "python3-hypothesis",
    "kornia": "python3-kornia-pip",
    "launch": "launch",
    "launch_ros": "launch_ros",
    "matplotlib": "python3-matplotlib",
    "numpy": "python3-numpy",
    "onnxruntime": "python3-onnxruntime-pip",
    "PIL": "python3-pil",
    "pytest": "python3-pytest",
    "rcl_interfaces": "rcl_interfaces",
    "rclpy": "rclpy",
    "rosbags": "python3-rosbags-pip",
    "sensor_msgs": "sensor_msgs",
    "skimage": "python3-skimage",
    "std_msgs": "std_msgs",
    "torch": "python3-kornia-pip",  # PyTorch comes with kornia (python3-torch would be Debian's CPU-only build)
    "tqdm": "python3-tqdm",
    "yaml": "python3-yaml",
    "onnx": None,
    "tensorrt": None,
    "cuda": None,  # cuda-python
    "pycuda": None,
}
# Keys that no import names: what needs them instead.
KEYS_WITHOUT_IMPORT = {
    "rosidl_default_runtime": "the generated Keypoints interface at run time",
    "ros2launch": "`ros2 launch disk_trt_ros disk.launch.py`",
    "ament_cmake_pytest": "CMakeLists.txt registers test/ with it for `colcon test`",
    "python3-pytest-timeout": "pytest.ini's timeout",
}


def imported_modules(directory: Path) -> dict[str, set[str]]:
    """Top-level modules imported by the Python files under ``directory`` -> the files importing them."""
    sources = [path for path in directory.rglob("*") if path.is_file() and is_python(path)]
    modules: dict[str, set[str]] = {}
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif is_import_module_call(node):
                names = [node.args[0].value]  # type: ignore[attr-defined]
            for name in names:
                modules.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO_ROOT)))
    return {name: files for name, files in modules.items() if is_third_party(name)}


def is_python(path: Path) -> bool:
    """A .py file, or a script without suffix whose first line runs Python."""
    if path.suffix:
        return path.suffix == ".py"
    first_line = path.read_bytes().split(b"\n", 1)[0]
    return first_line.startswith(b"#!") and b"python" in first_line


def is_import_module_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


def is_third_party(module: str) -> bool:
    return module not in FIRST_PARTY and module not in sys.stdlib_module_names and module != "__future__"


def declared(*tags: str) -> set[str]:
    root = ElementTree.parse(REPO_ROOT / "package.xml").getroot()
    return {element.text.strip() for tag in tags for element in root.iter(tag) if element.text}


def package_xml_comments() -> str:
    text = (REPO_ROOT / "package.xml").read_text()
    return " ".join(part.split("-->")[0] for part in text.split("<!--")[1:])


def runtime_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for directory in RUNTIME_SOURCES:
        for module, files in imported_modules(REPO_ROOT / directory).items():
            found.setdefault(module, set()).update(files)
    return found


@pytest.mark.parametrize("source, dependencies", [("runtime", RUNTIME_DEPENDENCIES), ("test", TEST_DEPENDENCIES)])
def test_every_imported_module_has_its_rosdep_key_declared(source: str, dependencies: tuple[str, ...]) -> None:
    imports = runtime_imports() if source == "runtime" else imported_modules(REPO_ROOT / "test")
    unknown = {module: sorted(files) for module, files in imports.items() if module not in ROSDEP_KEYS}
    assert unknown == {}, "imports missing from ROSDEP_KEYS (find the key in rosdistro's rosdep/*.yaml)"
    keys = declared(*dependencies)
    missing = {module: ROSDEP_KEYS[module] for module in imports if ROSDEP_KEYS[module] not in keys | {None}}
    assert missing == {}, f"package.xml lacks these keys ({', '.join(dependencies)})"


def test_modules_without_a_rosdep_key_are_named_in_package_xml() -> None:
    comments = package_xml_comments()
    unnamed = [module for module, key in ROSDEP_KEYS.items() if key is None and module not in comments]
    unnamed = [module for module in unnamed if not (module == "cuda" and "cuda-python" in comments)]
    assert unnamed == []


def test_every_declared_key_is_used() -> None:
    used = {ROSDEP_KEYS.get(module) for module in {*runtime_imports(), *imported_modules(REPO_ROOT / "test")}}
    unused = declared(*TEST_DEPENDENCIES) - used - set(KEYS_WITHOUT_IMPORT) - declared("buildtool_depend")
    assert unused == set(), "keys that no import needs (add them to KEYS_WITHOUT_IMPORT with the reason)"


def test_package_xml_is_valid_for_catkin_pkg() -> None:
    """ament_cmake parses package.xml with catkin_pkg at configure time: any error there fails `colcon build`."""
    catkin_package = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg comes with ament (requirements)")
    package = catkin_package.parse_package(REPO_ROOT / "package.xml")
    assert package.name == "disk_trt_ros"
