# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
# Fresh machine: `make demo` runs the node over a sample bag on the CPU backend; `make test` runs the suite, then
# builds and tests the package the ROS way (colcon) in a second virtualenv without PyTorch, kornia and onnxruntime.
# Both run `make setup` first (idempotent): .venv/ with the tools and ROS 2 Jazzy wheels, then the interface, and
# .py39/ (CPython 3.9 with the runtime side's packages, for test/test_runtime_python39.py).

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/tools.txt requirements/ros.txt requirements/ros-constraints.txt
PY39 := .py39
COLCON_VENV := .colcon/venv
COLCON_STAMP := $(COLCON_VENV)/.installed
COLCON_REQUIREMENTS := requirements/colcon.txt requirements/ros.txt requirements/ros-constraints.txt
PYTEST_ARGS ?=
# `make lint` (ruff, SPDX headers) fails on any finding; `make test` ends with it.

.PHONY: setup test colcon-test lint demo clean

setup: $(STAMP) install/setup.sh $(PY39)/.installed

$(STAMP): $(REQUIREMENTS)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements/tools.txt -r requirements/ros.txt -c requirements/ros-constraints.txt
	touch $@

install/setup.sh: $(STAMP) msg/Keypoints.msg msg/Matches.msg CMakeLists.txt package.xml scripts/build_interface.sh \
		scripts/relocate_ros_wheels.py scripts/disk_node scripts/matcher_node scripts/build_engine launch/disk.launch.py config/disk.yaml
	bash scripts/build_interface.sh

$(PY39)/.installed: scripts/python39_runtime.sh requirements/python39.txt | $(STAMP)
	bash scripts/python39_runtime.sh $(PY39)

test: setup
	source install/setup.sh && python -m pytest test $(PYTEST_ARGS)
	$(MAKE) colcon-test
	$(MAKE) lint

$(COLCON_STAMP): $(COLCON_REQUIREMENTS)
	test -x $(COLCON_VENV)/bin/python || python3 -m venv $(COLCON_VENV)
	$(COLCON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLCON_VENV)/bin/python -m pip install --quiet -r requirements/colcon.txt -r requirements/ros.txt \
		-c requirements/ros-constraints.txt
	touch $@

colcon-test: $(COLCON_STAMP)
	bash scripts/colcon_test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PYTHON) scripts/spdx_headers.py --check

demo: setup
	source install/setup.sh && python -m disk_trt_ros.evaluation.demo

clean:
	rm -rf build install .colcon $(VENV) $(PY39)
