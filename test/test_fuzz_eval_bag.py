# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing ``eval`` with bags of malformed Image messages, and of messages that are no Image at all: it reports
them as rejected and evaluates the others, or fails with a clear error; it never crashes and never writes a report
that is not JSON.

Each example writes a small rosbag2 (sqlite3) whose image topic mixes good frames with frames whose fields
(encoding, width, height, step, endianness, data) were fuzzed, runs ``python -m disk_trt_ros eval`` on it in this
process, and checks the outcome against what :class:`~disk_trt_ros.image_conversion.ImageConverter` says of
each message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from disk_trt_ros.cli import run_command
from disk_trt_ros.errors import ImageConversionError
from disk_trt_ros.evaluation.bag_io import IMAGE_TYPE, make_header
from disk_trt_ros.image_conversion import ImageConverter
from support.bags import write_image_bag
from support.fuzz import malformed_images

TOPIC = "/camera/image_raw"


def strict_json(text: str) -> Any:
    """JSON as the standard defines it: NaN and Infinity are not numbers there (jq and browsers refuse them)."""
    def refuse(constant: str) -> None:
        raise ValueError(f"report.json holds {constant}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


def good_frame(index: int) -> dict[str, Any]:
    """A textured 64x96 rgb8 frame that moves a little from frame to frame."""
    y, x = np.mgrid[0:64, 0:96]
    rgb = np.stack([(x * 7 + index * 3) % 256, (y * 11) % 256, ((x + y) * 5) % 256], axis=2).astype(np.uint8)
    return {"height": 64, "width": 96, "encoding": "rgb8", "is_bigendian": 0, "step": 288, "data": rgb.tobytes()}


frame_fields = st.one_of(
    st.integers(0, 1000).map(good_frame),
    malformed_images().map(lambda m: {"height": m.height, "width": m.width, "encoding": m.encoding,
                                      "is_bigendian": m.is_bigendian, "step": m.step, "data": bytes(m.data)}),
)


def run_eval(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run_command("eval", arguments)
    return status, out.getvalue(), err.getvalue()


def converts(converter: ImageConverter, fields: dict[str, Any]) -> bool:
    try:
        converter.from_image(argparse.Namespace(**fields))
    except ImageConversionError:
        return False
    return True


@pytest.fixture(scope="module")
def model(export_model: Any) -> Any:
    return export_model(height=64, width=96)


@given(frames=st.lists(frame_fields, min_size=1, max_size=5))
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_eval_reports_malformed_frames_as_rejected_and_evaluates_the_rest(
    model: Any, frames: list[dict[str, Any]]
) -> None:
    converter = ImageConverter(model.info.height, model.info.width, model.info.input_format)
    expected_rejected = sum(not converts(converter, fields) for fields in frames)
    with tempfile.TemporaryDirectory() as directory:
        bag, out = Path(directory) / "bag", Path(directory) / "report"
        write_image_bag(bag, TOPIC, frames)
        status, stdout, stderr = run_eval("--bag", str(bag), "--topic", TOPIC, "--model", str(model.path),
                                          "--backend", "onnxruntime", "--threads", "1", "--out", str(out))
        event(f"status {status}, {expected_rejected} of {len(frames)} frames malformed")
        if status != 0:  # a clear error, and no report pretending to be one
            assert status == 1 and stderr.startswith("eval: error: "), (status, stderr)
            assert not (out / "report.json").exists()
            return
        report = strict_json((out / "report.json").read_text())
    assert report["rejected_frames"] == expected_rejected, report["rejections"]
    evaluated = [index for index, fields in enumerate(frames) if converts(converter, fields)]
    assert report["summary"]["frames"] == len(evaluated)
    assert [record["index"] for record in report["frames"]] == evaluated
    assert all(0 <= record["keypoints"] <= model.info.max_keypoints for record in report["frames"])


@given(garbage=st.binary(max_size=120))
@settings(max_examples=10, deadline=None, derandomize=True, database=None)
def test_a_message_that_does_not_deserialize_is_rejected_and_the_next_frame_evaluated(
    model: Any, garbage: bytes
) -> None:
    """Bytes in the bag that are no Image at all (a damaged bag) count as a rejected frame that names the message,
    or, where the bytes happen to decode as an Image, get the usual conversion check; the good frame after them is
    evaluated either way."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    typestore = get_typestore(Stores.ROS2_JAZZY)
    image_type = typestore.types[IMAGE_TYPE]
    fields = good_frame(1)
    good = image_type(
        header=make_header(typestore, 2, "camera"), **{**fields, "data": np.frombuffer(fields["data"], np.uint8)}
    )
    with tempfile.TemporaryDirectory() as directory:
        bag, out = Path(directory) / "bag", Path(directory) / "report"
        with Writer(bag, version=Writer.VERSION_LATEST) as writer:
            connection = writer.add_connection(TOPIC, IMAGE_TYPE, typestore=typestore)
            writer.write(connection, 1, garbage)
            writer.write(connection, 2, typestore.serialize_cdr(good, IMAGE_TYPE))
        status, _, stderr = run_eval("--bag", str(bag), "--topic", TOPIC, "--model", str(model.path),
                                     "--backend", "onnxruntime", "--threads", "1", "--out", str(out))
        assert status == 0, stderr
        report = strict_json((out / "report.json").read_text())
    event(f"{report['rejected_frames']} rejected")
    assert 1 in [record["index"] for record in report["frames"]]
    assert report["rejected_frames"] in (0, 1)
    if report["rejected_frames"]:
        reason = report["rejections"][0]
        assert reason.startswith(("message 0 on '/camera/image_raw' cannot be deserialized", "frame 0: ")), reason
