#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
# CPython 3.9 with requirements/python39.txt in an ignored directory, for test/test_runtime_python39.py: the
# runtime side must import and run there (Jetsons on JetPack 5 run Python 3.8/3.9; TensorRT 8.5's bindings are cp39).
#
#   usage (from anywhere): bash scripts/python39_runtime.sh [DIR=.py39]    (make setup runs it when needed)
#
# Python is Debian 11's python3.9, fetched with `apt-get download` through a temporary source list for bullseye and
# unpacked with dpkg -x (nothing is installed on the system); the packages are cp39 wheels installed by this
# checkout's .venv pip with --python-version 3.9 --target --no-deps. DIR/python runs it. The directory is assembled
# beside DIR and renamed at the end, so an interrupted run leaves no half-made DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$(realpath -m "${1:-$ROOT/.py39}")
PIP=("$ROOT/.venv/bin/python" -m pip)
DEBS=(python3.9-minimal libpython3.9-minimal libpython3.9-stdlib libffi7 libmpdec3)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" "$DIR.partial"' EXIT
rm -rf "$DIR.partial"
mkdir -p "$DIR.partial" "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"

# The first Debian mirror this machine's apt uses (deb822 .sources or one-line sources.list).
mirror=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
    | grep -m1 -E '^(URIs:|deb )' | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
[ -n "$mirror" ] || { echo "python39_runtime: no Debian apt source in /etc/apt" >&2; exit 1; }
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" > "$WORK/sources.list"
APT=(apt-get -q -o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::Etc::SourceList="$WORK/sources.list" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
echo "python39_runtime: Debian 11's python3.9 from $mirror"
"${APT[@]}" update >/dev/null
(cd "$WORK/debs" && "${APT[@]}" download "${DEBS[@]}" >/dev/null)
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$DIR.partial/root"; done

echo "python39_runtime: cp39 wheels of requirements/python39.txt"
"${PIP[@]}" install --quiet --disable-pip-version-check --no-warn-conflicts --no-deps --target "$DIR.partial/site" \
    --python-version 3.9 --implementation cp --abi cp39 --only-binary=:all: --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
    -r "$ROOT/requirements/python39.txt"

cat > "$DIR.partial/python" <<'WRAPPER'
#!/bin/sh
# CPython 3.9 (Debian 11's) with the wheels of requirements/python39.txt; arguments as for python3.
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONHOME="$here/root/usr" PYTHONNOUSERSITE=1 PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$here/site"
export LD_LIBRARY_PATH="$here/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/root/usr/bin/python3.9" "$@"
WRAPPER
chmod +x "$DIR.partial/python"
"$DIR.partial/python" -c 'import sys, numpy, onnx, onnxruntime; assert sys.version_info[:2] == (3, 9)'
rm -rf "$DIR"
mv "$DIR.partial" "$DIR"
touch "$DIR/.installed"
echo "python39_runtime: $DIR/python is $("$DIR/python" --version 2>&1)"
