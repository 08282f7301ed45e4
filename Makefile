# Fresh machine: `make demo` runs the node over a sample bag on the CPU backend; `make test` runs the suite.
# Both run `make setup` first (idempotent): .venv/ with the tools and ROS 2 Jazzy wheels, then the interface.

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/tools.txt requirements/ros.txt requirements/ros-constraints.txt
PYTEST_ARGS ?=

.PHONY: setup test demo clean

setup: $(STAMP) install/setup.sh

$(STAMP): $(REQUIREMENTS)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements/tools.txt -r requirements/ros.txt -c requirements/ros-constraints.txt
	touch $@

install/setup.sh: $(STAMP) msg/Keypoints.msg CMakeLists.txt package.xml scripts/build_interface.sh \
		scripts/disk_node scripts/build_engine launch/disk.launch.py config/disk.yaml
	bash scripts/build_interface.sh

test: setup
	source install/setup.sh && python -m pytest test $(PYTEST_ARGS)

demo: setup
	source install/setup.sh && python -m disk_trt_ros.evaluation.demo

clean:
	rm -rf build install $(VENV)
