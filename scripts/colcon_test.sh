#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
# The ROS way, as a ROS 2 user builds and tests this package: `colcon build`, `colcon test`, `colcon test-result`,
# with colcon from PyPI in .colcon/venv (make colcon-test creates it from requirements/colcon.txt): ROS 2 Jazzy from
# the wheels and what rosdep installs for package.xml, but no PyPI torch, kornia or onnxruntime, so this also
# proves that the tests needing them skip. The workspace is the checkout itself (--base-paths .); build, install
# and log go to .colcon/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
colcon_dir="$repo/.colcon"
venv="$colcon_dir/venv"
cd "$repo"

if [[ ! -x "$venv/bin/colcon" ]]; then
    echo "colcon_test.sh: no colcon virtualenv at $venv; run 'make colcon-test'" >&2
    exit 1
fi
"$venv/bin/python" "$repo/scripts/relocate_ros_wheels.py"  # as build_interface.sh does for .venv

# Nothing of a shell that sourced install/setup.sh (the development build, .venv) may leak in.
unset PYTHONPATH
. "$venv/bin/activate"
# The virtualenv is this route's ROS 2 installation ("underlay"), as /opt/ros/jazzy is after sourcing setup.bash.
export AMENT_PREFIX_PATH="$VIRTUAL_ENV" CMAKE_PREFIX_PATH="$VIRTUAL_ENV" LD_LIBRARY_PATH="$VIRTUAL_ENV/lib"

workspace=(--base-paths "$repo" --build-base "$colcon_dir/build" --install-base "$colcon_dir/install")
colcon --log-base "$colcon_dir/log" build "${workspace[@]}" --event-handlers console_cohesion+ \
    --cmake-args -Wno-dev -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" -DBUILD_TESTING=ON
colcon --log-base "$colcon_dir/log" test "${workspace[@]}" --event-handlers console_direct+ \
    --return-code-on-test-failure
colcon test-result --test-result-base "$colcon_dir/build" --verbose
