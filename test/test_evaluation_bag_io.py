# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Bags in and out with rosbags: round trips in sqlite3, mcap and ROS 1, ground truth, errors; the sample bag."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from disk_trt_ros.cli import main as dispatch
from disk_trt_ros.contract import InputFormat
from disk_trt_ros.errors import BagError
from disk_trt_ros.evaluation.bag_io import (
    COMPRESSED_IMAGE_TYPE,
    HOMOGRAPHY_TYPE,
    IMAGE_TYPE,
    KEYPOINTS_TYPE,
    BagFormat,
    BagWriter,
    ImageBag,
    ground_truth_topic,
    homography_between,
    homography_message,
    make_header,
    rgb8_image_message,
)
from disk_trt_ros.evaluation.sample_bag import write_sample_bag
from disk_trt_ros.evaluation.sequence import convert
from disk_trt_ros.image_conversion import ImageConverter
from disk_trt_ros.photos import load_photos
from support.paths import PHOTO_DIR, shared_photo_paths

TOPIC = "/cam/image_raw"
HEIGHT, WIDTH = 128, 160


def bag_path(directory: Path, bag_format: BagFormat) -> Path:
    return directory / ("bag.bag" if bag_format is BagFormat.ROS1 else "bag")


def write_frames(path: Path, bag_format: BagFormat, images: list[np.ndarray], homographies: list[np.ndarray]) -> None:
    """rgb8 Images on TOPIC, lossless PNG CompressedImages on TOPIC/compressed, ground truth beside them."""
    with BagWriter(path, bag_format) as bag:
        raw = bag.add_topic(TOPIC, IMAGE_TYPE)
        png = bag.add_topic(TOPIC + "/compressed", COMPRESSED_IMAGE_TYPE)
        truth = bag.add_topic(ground_truth_topic(TOPIC), HOMOGRAPHY_TYPE)
        types = bag.typestore.types
        for index, (image, homography) in enumerate(zip(images, homographies)):
            stamp = 1_000_000_000 + index * 50_000_000
            message = rgb8_image_message(bag.typestore, stamp, "cam", image)
            bag.write(raw, stamp, message)
            encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].reshape(-1)
            bag.write(png, stamp, types[COMPRESSED_IMAGE_TYPE](header=message.header, format="png", data=encoded))
            bag.write(truth, stamp, homography_message(bag.typestore, homography))


@pytest.mark.parametrize("bag_format", list(BagFormat))
def test_frames_and_ground_truth_survive_a_round_trip(tmp_path: Path, bag_format: BagFormat) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(3)]
    homographies = [np.eye(3) + rng.normal(0, 1e-3, (3, 3)) for _ in range(3)]
    path = bag_path(tmp_path, bag_format)
    write_frames(path, bag_format, images, homographies)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "the staging directory was left behind"

    converter = ImageConverter(HEIGHT, WIDTH, InputFormat.RGB)
    for topic in (TOPIC, TOPIC + "/compressed"):
        with ImageBag(path, topic) as bag:
            assert bag.frame_count == 3
            assert bag.compressed == topic.endswith("/compressed")
            frames = list(bag.frames())
        assert [f.index for f in frames] == [0, 1, 2]
        assert [f.stamp_ns for f in frames] == [1_000_000_000 + i * 50_000_000 for i in range(3)]
        for frame, image, homography in zip(frames, images, homographies):
            np.testing.assert_array_equal(convert(converter, frame.message, frame.compressed).image, image)
            np.testing.assert_array_equal(frame.scene_to_frame, homography)
        np.testing.assert_allclose(
            homography_between(frames[0], frames[2]), homographies[2] @ np.linalg.inv(homographies[0])
        )


def test_max_frames_limits_the_frames_read(tmp_path: Path) -> None:
    images = [np.full((HEIGHT, WIDTH, 3), i, dtype=np.uint8) for i in range(4)]
    write_frames(tmp_path / "bag", BagFormat.MCAP, images, [np.eye(3)] * 4)
    with ImageBag(tmp_path / "bag", TOPIC) as bag:
        assert [f.index for f in bag.frames(max_frames=2)] == [0, 1]


def test_a_bag_without_ground_truth_gives_frames_without_it(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag", BagFormat.SQLITE3) as bag:
        connection = bag.add_topic(TOPIC, IMAGE_TYPE)
        bag.write(connection, 5, bag.typestore.types[IMAGE_TYPE](
            header=make_header(bag.typestore, 5, "cam"), height=2, width=2, encoding="mono8", is_bigendian=0, step=2,
            data=np.zeros(4, np.uint8)))
    with ImageBag(tmp_path / "bag", TOPIC) as reader:
        (frame,) = reader.frames()
    assert frame.scene_to_frame is None


def test_keypoints_messages_are_registered_from_the_msg_file(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag", BagFormat.MCAP, with_keypoints=True) as bag:
        connection = bag.add_topic("/keypoints", KEYPOINTS_TYPE)
        message = bag.typestore.types[KEYPOINTS_TYPE](
            header=make_header(bag.typestore, 7, "cam"), image_width=160, image_height=128, count=2,
            keypoints=np.array([1, 2, 3, 4], np.float32), scores=np.array([0.9, 0.5], np.float32), descriptor_dim=2,
            descriptors=np.array([1, 0, 0, 1], np.float32),
        )
        bag.write(connection, 7, message)
    with AnyReader([tmp_path / "bag"]) as reader:
        ((connection, _, raw),) = list(reader.messages())
        read = reader.deserialize(raw, connection.msgtype)
    assert connection.msgtype == KEYPOINTS_TYPE
    assert (read.count, read.image_width, read.descriptor_dim) == (2, 160, 2)
    np.testing.assert_array_equal(read.keypoints, [1, 2, 3, 4])


def test_bad_bags_and_topics_get_errors_that_say_what_to_do(tmp_path: Path) -> None:
    write_frames(tmp_path / "bag", BagFormat.SQLITE3, [np.zeros((HEIGHT, WIDTH, 3), np.uint8)], [np.eye(3)])
    with pytest.raises(BagError, match="no topic '/other'.*image topics are: /cam/image_raw, /cam/image_raw/compr"):
        ImageBag(tmp_path / "bag", "/other")
    with pytest.raises(BagError, match="not sensor_msgs/Image"):
        ImageBag(tmp_path / "bag", ground_truth_topic(TOPIC))
    with pytest.raises(BagError, match="does not exist"):
        ImageBag(tmp_path / "missing", TOPIC)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text("not: a bag\n")
    with pytest.raises(BagError, match="cannot read bag"):
        ImageBag(tmp_path / "junk", TOPIC)
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "bag", BagFormat.MCAP)
    with pytest.raises(BagError, match="must end in .bag"):
        BagWriter(tmp_path / "ros1", BagFormat.ROS1)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with BagWriter(tmp_path / "bag", BagFormat.SQLITE3) as bag:
            bag.add_topic(TOPIC, IMAGE_TYPE)
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_ground_truth_message_is_refused(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag", BagFormat.SQLITE3) as bag:
        image = bag.add_topic(TOPIC, IMAGE_TYPE)
        truth = bag.add_topic(ground_truth_topic(TOPIC), HOMOGRAPHY_TYPE)
        bag.write(image, 5, bag.typestore.types[IMAGE_TYPE](
            header=make_header(bag.typestore, 5, "cam"), height=2, width=2, encoding="mono8", is_bigendian=0, step=2,
            data=np.zeros(4, np.uint8)))
        message = homography_message(bag.typestore, np.eye(3))
        bag.write(truth, 5, type(message)(layout=message.layout, data=np.ones(6)))
    with ImageBag(tmp_path / "bag", TOPIC) as reader, pytest.raises(BagError, match="9 finite values"):
        list(reader.frames())


@pytest.mark.parametrize("bag_format", [BagFormat.SQLITE3, BagFormat.MCAP, BagFormat.ROS1])
def test_the_sample_bag_moves_real_photos_by_its_ground_truth_homographies(
    tmp_path: Path, bag_format: BagFormat
) -> None:
    shared_photo_paths()
    path = bag_path(tmp_path, bag_format)
    write_sample_bag(path, load_photos(PHOTO_DIR), frames=6, fps=20.0, width=WIDTH, height=HEIGHT,
                     bag_format=bag_format, topic=TOPIC, compressed=True)
    converter = ImageConverter(HEIGHT, WIDTH, InputFormat.RGB)
    with ImageBag(path, TOPIC) as bag:
        frames = list(bag.frames())
    with ImageBag(path, TOPIC + "/compressed") as bag:
        assert bag.frame_count == 6 and next(bag.frames()).scene_to_frame is not None
    assert [f.stamp_ns - frames[0].stamp_ns for f in frames] == [i * 50_000_000 for i in range(6)]
    images = [convert(converter, f.message, False).image.astype(np.float32) for f in frames]
    first, last = images[0], images[-1]
    assert np.abs(first - last).mean() > 10, "the camera must move"
    truth = homography_between(frames[0], frames[-1])
    visible = cv2.warpPerspective(np.ones((HEIGHT, WIDTH), np.uint8), truth, (WIDTH, HEIGHT)).astype(bool)
    warped = cv2.warpPerspective(first, truth, (WIDTH, HEIGHT))
    wrong = cv2.warpPerspective(first, np.array([[1, 0, 4], [0, 1, 0], [0, 0, 1]]) @ truth, (WIDTH, HEIGHT))
    residual, wrong_residual = np.abs(warped - last)[visible].mean(), np.abs(wrong - last)[visible].mean()
    assert residual < 8, f"frame 0 warped by the ground truth differs from frame 5 by {residual:.1f} grey levels"
    assert wrong_residual > 1.5 * residual


def test_make_sample_bag_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared_photo_paths()
    out = tmp_path / "sample"
    arguments = ["make-sample-bag", "--out", str(out), "--images", str(PHOTO_DIR), "--frames", "3", "--fps", "5",
                 "--width", str(WIDTH), "--height", str(HEIGHT), "--format", "mcap"]
    assert dispatch(arguments) == 0
    with ImageBag(out, "/camera/image_raw") as bag:
        assert bag.frame_count == 3
        assert next(bag.frames()).message.encoding == "rgb8"
    assert dispatch(arguments) == 1
    error = capsys.readouterr().err
    assert error.startswith("make-sample-bag: error: ") and "exists already" in error
    assert dispatch(arguments + ["--overwrite"]) == 0
    assert dispatch(["make-sample-bag", "--out", str(tmp_path / "x"), "--images", str(tmp_path / "none")]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_default_photos_ship_with_scikit_image() -> None:
    photos = load_photos(None)
    assert len(photos) >= 4 and all(p.dtype == np.uint8 and p.shape[2] == 3 for p in photos)
