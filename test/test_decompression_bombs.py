# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Decompression bombs: small JPEG and PNG files whose header declares a huge image are refused before decoding, in
the converter and in a node process started with default parameters, under a memory limit so that a regression
fails within seconds instead of eating gigabytes (``support.memory_limit``).

The bombs are those of the hostile-input trial: a 631-byte JPEG declaring 30000x30000 (the decoder allocates and
fills 2.7 GB for it), the 875 kB PNG of 30000x30000 zeros, and a PNG declaring 65535x65535 (past OpenCV's own limit,
which once escaped as a ``cv2.error``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from disk_trt_ros.image_conversion import DEFAULT_MAX_IMAGE_PIXELS
from support.fuzz import jpeg_declaring, png_declaring
from support.paths import REPO_ROOT, subprocess_environment

HEADROOM_MIB = 512  # past the imports: an 8K frame decodes in it, a 30000x30000 one cannot
REFUSED = "more than max_image_pixels = {limit}: refused before decoding"

BOMBS = {
    "jpeg_30000": lambda: jpeg_declaring(30000, 30000),
    "png_zeros_30000": lambda: png_declaring(30000, 30000, rows=None),
    "png_65535": lambda: png_declaring(65535, 65535),
}

CONVERSIONS = textwrap.dedent("""
    import json, sys, types
    from pathlib import Path
    from disk_trt_ros.contract import InputFormat
    from disk_trt_ros.errors import ImageConversionError
    from disk_trt_ros.image_conversion import ImageConverter
    from support.memory_limit import limit_address_space, peak_resident_bytes

    limit_address_space({headroom} << 20)
    results = {{}}
    for name, path, max_image_pixels in json.loads(sys.argv[1]):
        converter = ImageConverter(64, 96, InputFormat.RGB, max_image_pixels)
        message = types.SimpleNamespace(format="jpeg", data=Path(path).read_bytes())
        try:
            converted = converter.from_compressed(message)
            results[name] = ["converted", f"{{converted.source_width}}x{{converted.source_height}}"]
        except ImageConversionError as error:
            results[name] = ["rejected", str(error)]
    print(json.dumps({{"results": results, "peak_rss_mib": peak_resident_bytes() >> 20}}))
""")


def convert_under_memory_limit(cases: list[tuple[str, bytes, int]], directory: Path) -> dict[str, Any]:
    """Convert each ``(name, picture, max_image_pixels)`` in a fresh interpreter limited to its imports plus
    :data:`HEADROOM_MIB`; returns each outcome and the process's peak resident memory."""
    arguments = []
    for name, picture, max_image_pixels in cases:
        path = directory / f"{name}.bin"
        path.write_bytes(picture)
        arguments.append([name, str(path), max_image_pixels])
    result = subprocess.run([sys.executable, "-c", CONVERSIONS.format(headroom=HEADROOM_MIB), json.dumps(arguments)],
                            cwd=REPO_ROOT, env=subprocess_environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_shipped_config_states_the_default_limit() -> None:
    from disk_trt_ros.launch_plan import read_node_parameters

    assert read_node_parameters(REPO_ROOT / "config" / "disk.yaml")["max_image_pixels"] == DEFAULT_MAX_IMAGE_PIXELS


def test_bombs_are_refused_by_their_header_and_an_8k_frame_still_converts(tmp_path: Path) -> None:
    limit = DEFAULT_MAX_IMAGE_PIXELS
    cases = [(name, make(), limit) for name, make in BOMBS.items()]
    cases += [("jpeg_8k", jpeg_declaring(8192, 4320), limit),
              ("jpeg_8k_one_row_more", jpeg_declaring(8192, 4321), limit)]
    outcome = convert_under_memory_limit(cases, tmp_path)
    results = outcome["results"]
    print(f"converter under a {HEADROOM_MIB} MiB headroom: peak RSS {outcome['peak_rss_mib']} MiB; {results}")
    for name, declared in (("jpeg_30000", "30000x30000"), ("png_zeros_30000", "30000x30000"),
                           ("png_65535", "65535x65535"), ("jpeg_8k_one_row_more", "8192x4321")):
        status, message = results[name]
        assert status == "rejected" and f"declares {declared}" in message, (name, message)
        assert REFUSED.format(limit=limit) in message, (name, message)
    assert results["jpeg_8k"] == ["converted", "8192x4320"]
    assert len(png_declaring(30000, 30000, rows=None)) < 900_000  # the trial's 875 kB file, all rows present


def test_the_memory_limit_stops_a_bomb_that_reaches_the_decoder(tmp_path: Path) -> None:
    """What a regression would meet: with the limit raised to OpenCV's own, the 30000x30000 JPEG reaches the decoder,
    whose 2.7 GB allocation fails at once under the memory limit; it is still a rejected frame, not a crash."""
    outcome = convert_under_memory_limit([("jpeg_30000", jpeg_declaring(30000, 30000), 1 << 30)], tmp_path)
    status, message = outcome["results"]["jpeg_30000"]
    assert status == "rejected" and "could not be decoded" in message, message
    assert outcome["peak_rss_mib"] < HEADROOM_MIB + 1024, outcome


# ---------------------------------------------------------------------------------------------- the node


@pytest.mark.ros
def test_a_node_with_default_parameters_survives_bombs_and_processes_the_next_frame(
    rclpy_context: Any, export_model: Any
) -> None:
    """Bombs published from this process to a node process (default parameters, compressed transport, under a
    memory limit): each is counted as rejected and logged with the limit, the node's peak memory does not move, and
    the good JPEG after them is published."""
    pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")
    import rclpy
    from sensor_msgs.msg import CompressedImage

    from support.memory_limit import peak_resident_bytes
    from support.reliability.camera import Camera
    from support.reliability.node_process import NodeProcess
    from support.ros import spinning
    from support.waiting import wait_until

    model = export_model(height=64, width=96)
    command = [sys.executable, "-m", "support.memory_limit", "--headroom-mib", "1024", "--preload",
               "disk_trt_ros.node.disk_node", "--preload", "onnxruntime", "disk_trt_ros.node"]
    node = NodeProcess(model.path, f"/b{uuid.uuid4().hex[:8]}", rclpy_context.get_domain_id(),
                       parameters={"image_transport": "compressed"}, command=command,
                       environment={"PYTHONPATH": subprocess_environment()["PYTHONPATH"]})
    probe = rclpy.create_node("bomb_probe", context=rclpy_context)
    try:
        with spinning(probe, rclpy_context):
            camera = Camera(probe, "camera", f"{node.namespace}/image/compressed", f"{node.namespace}/keypoints",
                            f"{node.namespace}/disk_node", model.info.max_keypoints, CompressedImage)
            node.wait_for_line("ready:", timeout=120.0)
            assert wait_until(lambda: camera.publisher.get_subscription_count() > 0, 20.0), node.output
            good = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 256, (128, 192, 3), np.uint8))[1]
            camera.send(0, CompressedImage(format="jpeg", data=good.tobytes()), (192, 128))
            assert wait_until(lambda: camera.node_counts().get("published") == 1, 30.0), node.output
            before_mib = peak_resident_bytes(node.process.pid) >> 20
            for index, make in enumerate(BOMBS.values(), start=1):  # one at a time: a newer frame would replace it
                camera.send(index, CompressedImage(format="jpeg", data=make()), None)
                assert wait_until(lambda count=index: camera.node_counts().get("rejected") == count, 30.0), node.output
            camera.send(len(BOMBS) + 1, CompressedImage(format="jpeg", data=good.tobytes()), (192, 128))
            assert wait_until(camera.settled, 30.0), (camera.node_counts(), node.output)
            after_mib = peak_resident_bytes(node.process.pid) >> 20
            counts = camera.node_counts()
            print(f"node peak RSS {before_mib} MiB before the bombs, {after_mib} MiB after; {counts}")
            assert node.process.poll() is None, node.output
            assert (counts["rejected"], counts["published"], counts["failed"]) == (3, 2, 0), counts
            assert not camera.invalid and len(camera.received_at) == 2, camera.invalid
            assert after_mib - before_mib < 64, (before_mib, after_mib)
            assert REFUSED.format(limit=DEFAULT_MAX_IMAGE_PIXELS) in node.output, node.output
            assert "Traceback" not in node.output, node.output
    finally:
        returncode, _ = node.stop()
        print(node.report)  # how the node ended and what it printed, whatever failed above (pytest shows it then)
    assert returncode == 0, node.output
