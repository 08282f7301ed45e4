# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Real photographs for sample bags, the demo and benchmarks: a directory of JPEG/PNG files, or scikit-image's.

Kept apart from the evaluation tools so that ``bench`` needs no rosbags; OpenCV and scikit-image are imported only
when photographs are loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from disk_trt_ros.errors import PhotoError

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# The development machines keep real photographs in ../shared/data/images beside the checkout.
_SHARED_PHOTO_DIRECTORY = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"


def shared_photo_directory() -> Path | None:
    """``../shared/data/images`` beside this checkout when it exists (the development machines' real
    photographs), else None; tools that default to it say so in their ``--images`` help."""
    return _SHARED_PHOTO_DIRECTORY if _SHARED_PHOTO_DIRECTORY.is_dir() else None


def load_photos(directory: Path | None) -> list[np.ndarray]:
    """RGB uint8 ``[h, w, 3]`` photographs: the JPEG/PNG files of ``directory`` in name order, or, for None,
    scikit-image's sample photographs (they ship with the scikit-image package)."""
    if directory is None:
        import skimage.data

        return [getattr(skimage.data, name)() for name in SKIMAGE_PHOTOS]
    import cv2

    if not directory.is_dir():
        raise PhotoError(f"--images {directory} is not a directory; give a directory of JPEG or PNG photographs")
    photos = []
    for path in sorted(p for p in directory.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise PhotoError(f"{path} cannot be read as an image; remove it or replace it with a JPEG or PNG")
        photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not photos:
        raise PhotoError(f"--images {directory} holds no .jpg, .jpeg or .png files")
    return photos


def describe_source(directory: Path | None) -> str:
    """Where :func:`load_photos` takes the photographs from, in words."""
    return str(directory) if directory is not None else "scikit-image's sample photos"
