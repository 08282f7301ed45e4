# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Bags the evaluation tests make: image topics written from plain fields, the same photo in every frame with
identity ground truth, and a sqlite3 bag damaged as a failing disk leaves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from disk_trt_ros.evaluation.bag_io import (
    COMPRESSED_IMAGE_TYPE,
    HOMOGRAPHY_TYPE,
    IMAGE_TYPE,
    BagFormat,
    BagWriter,
    ground_truth_topic,
    homography_message,
    make_header,
    rgb8_image_message,
)
from support.images import load_photo
from support.paths import shared_photo_paths

TOPIC = "/camera/image_raw"


def identity_bag(path: Path, frames: int = 3) -> Path:
    """The same photo in every frame, with identity ground truth."""
    picture = load_photo(shared_photo_paths()[0], 128, 160)
    with BagWriter(path, BagFormat.SQLITE3) as bag:
        image, truth = bag.add_topic(TOPIC, IMAGE_TYPE), bag.add_topic(ground_truth_topic(TOPIC), HOMOGRAPHY_TYPE)
        for index in range(frames):
            stamp = 10**9 + index * 10**8
            bag.write(image, stamp, rgb8_image_message(bag.typestore, stamp, "cam", picture))
            bag.write(truth, stamp, homography_message(bag.typestore, np.eye(3)))
    return path


FIRST_STAMP_NS = 1_700_000_000_000_000_000
FRAME_INTERVAL_NS = 50_000_000


def write_image_bag(path: Path, topic: str, frames: Sequence[dict[str, Any]], compressed: bool = False) -> None:
    """A sqlite3 rosbag2 whose ``topic`` carries one ``sensor_msgs/Image`` (with ``compressed``, ``CompressedImage``)
    per item of ``frames``: the message's fields but its header, ``data`` as bytes; stamped 50 ms apart."""
    message_type = COMPRESSED_IMAGE_TYPE if compressed else IMAGE_TYPE
    with BagWriter(path, BagFormat.SQLITE3) as writer:
        connection = writer.add_topic(topic, message_type)
        for index, fields in enumerate(frames):
            stamp = FIRST_STAMP_NS + index * FRAME_INTERVAL_NS
            message = writer.typestore.types[message_type](
                header=make_header(writer.typestore, stamp, "camera"),
                **{**fields, "data": np.frombuffer(fields["data"], np.uint8)},
            )
            writer.write(connection, stamp, message)


def corrupt_sqlite_page_holding(bag: Path, data: bytes) -> int:
    """Break the page of ``bag``'s sqlite3 database that holds ``data`` (bytes found once in it, e.g. a slice of one
    large message): its first 4 bytes, in an overflow page the number of the next page, become 0xFFFFFFFF. sqlite
    then reports the database malformed when that message is read, and only then. Returns the page number."""
    (database,) = bag.glob("*.db3")
    content = database.read_bytes()
    assert content.count(data) == 1, "the bytes must identify one place in the file"
    page_size = int.from_bytes(content[16:18], "big") or 65536  # the header stores 65536 as 1
    page = content.index(data) // page_size
    with open(database, "r+b") as stream:
        stream.seek(page * page_size)
        stream.write(b"\xff" * 4)
    return page
