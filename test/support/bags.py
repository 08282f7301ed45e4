"""Bags the evaluation tests make: the same photo in every frame, with identity ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from disk_trt_ros.evaluation.bag_io import (
    HOMOGRAPHY_TYPE,
    IMAGE_TYPE,
    BagFormat,
    BagWriter,
    ground_truth_topic,
    homography_message,
    make_header,
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
            bag.write(image, stamp, bag.typestore.types[IMAGE_TYPE](
                header=make_header(bag.typestore, stamp, "cam"), height=128, width=160, encoding="rgb8",
                is_bigendian=0, step=480, data=picture.reshape(-1)))
            bag.write(truth, stamp, homography_message(bag.typestore, np.eye(3)))
    return path
